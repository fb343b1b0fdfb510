//! Sync engine events worth a flash line: quarantined ops, server remarks, new conflicts.
//! Everything else the engine does already shows in the heartbeat.

use super::state::FlashLevel;
use crate::sync::SyncEvent;

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
