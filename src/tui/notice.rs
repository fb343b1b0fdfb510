//! Sync engine events worth a flash line: quarantined ops, server remarks, new conflicts,
//! skipped catalog products. Everything else the engine does already shows in the heartbeat.

use super::action::Action;
use super::state::FlashLevel;
use crate::sync::SyncEvent;

/// The console action for an engine event, if it needs one: skipped products also reload
/// the local status (through `update`), the rest is a flash line.
pub fn event_action(e: &SyncEvent) -> Option<Action> {
    match e {
        SyncEvent::ProductsSkipped {
            skipped,
            cleared,
            total,
            ..
        } => Some(Action::ProductsSkipped {
            skipped: *skipped,
            cleared: *cleared,
            total: *total,
        }),
        other => notice(other).map(|(level, text)| Action::Notice(level, text)),
    }
}

/// The flash after a pull that skipped or cleared catalog products, if it changed anything.
pub fn products_skipped(
    skipped: usize,
    cleared: usize,
    total: i64,
) -> Option<(FlashLevel, String)> {
    let products = |n: i64| format!("{n} product{}", if n == 1 { "" } else { "s" });
    if total <= 0 {
        return (skipped > 0 || cleared > 0).then(|| {
            (
                FlashLevel::Success,
                "skipped server products are cleared: the catalog is complete again".to_string(),
            )
        });
    }
    if skipped == 0 && cleared == 0 {
        return None;
    }
    let skipped = i64::try_from(skipped).unwrap_or(i64::MAX);
    let text = if skipped == 0 {
        format!(
            "{} cleared, {} still skipped from the server (run kassa doctor)",
            products(i64::try_from(cleared).unwrap_or(i64::MAX)),
            products(total)
        )
    } else if skipped >= total {
        format!(
            "{} from the server skipped (run kassa doctor)",
            products(skipped)
        )
    } else {
        format!(
            "{} from the server skipped, {total} in all (run kassa doctor)",
            products(skipped)
        )
    };
    Some((FlashLevel::Info, text))
}

/// The flash for an engine event, if it deserves one.
pub fn notice(e: &SyncEvent) -> Option<(FlashLevel, String)> {
    match e {
        SyncEvent::OpRejected { seq, code, message } => Some((
            FlashLevel::Error,
            format!(
                "#{seq} rejected by the server ({code}: {message}); quarantined, F2 then r retries"
            ),
        )),
        SyncEvent::OpNote { seq, note } => Some((FlashLevel::Info, format!("#{seq}: {note}"))),
        SyncEvent::Pulled { conflicts, .. } if *conflicts > 0 => Some((
            FlashLevel::Info,
            format!("{conflicts} conflict update(s) pulled: see F3"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_op_is_announced_with_its_reason() {
        let (level, text) = notice(&SyncEvent::OpRejected {
            seq: 7,
            code: "invalid_payload".into(),
            message: "line 2: qty must be > 0".into(),
        })
        .unwrap_or((FlashLevel::Info, String::new()));
        assert_eq!(level, FlashLevel::Error);
        assert!(text.contains("#7 rejected") && text.contains("qty must be > 0"));
        assert!(notice(&SyncEvent::LeaseAcquired).is_none());
    }
}
