//! Snapshots of every pane and of the whole screen at 80x24 and 120x40 (TestBackend + insta).
//!
//! The clock, the data and the colours (off) are fixed, so the text is the same on every run.

mod console_support;

use chrono::Duration;
use console_support::*;
use crossterm::event::KeyCode;
use kassa::domain::{OpKind, OpState};
use kassa::tui::action::Action;
use kassa::tui::heartbeat::{Connectivity, SyncView};
use kassa::tui::model::ConflictItem;
use kassa::tui::state::State;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

/// A till that has been busy: sales sent and pending, one rejected op, three conflicts.
fn busy_store() -> FakeStore {
    let mut store = FakeStore::default();
    for i in 0..40 {
        let state = if i < 30 {
            OpState::Sent
        } else {
            OpState::Pending
        };
        store.push_op(OpKind::Sale, state, Some(500 + i * 37));
    }
    let bad = store.push_op(OpKind::Sale, OpState::Rejected, Some(1234));
    if let Some(op) = store.ops.iter_mut().find(|o| o.seq == bad) {
        op.last_error = Some("line 2: qty must be > 0".into());
    }
    store.push_op(OpKind::StockCount, OpState::Pending, None);
    store.conflicts = conflicts_of_each_kind();
    store
}

/// One conflict of each kind with the details and fields the server sends
/// (docs/protocol.md): two open, two resolved (one yesterday, to show a date). The server
/// raised each a little after the sale or count reached it.
fn conflicts_of_each_kind() -> Vec<ConflictItem> {
    vec![
        {
            let mut c = conflict(
                "c0ffee00-0000-4000-8000-000000000001",
                "oversold",
                "1001",
                serde_json::json!({"on_hand": -2, "sold_qty": 3,
                                   "event_time": "2026-11-28T16:58:00.000Z"}),
            );
            c.created_at = Some("2026-11-28T17:02:11.000Z".into());
            c
        },
        {
            let mut c = conflict(
                "c0ffee00-0000-4000-8000-000000000002",
                "price_mismatch",
                "1005",
                serde_json::json!({"line_no": 2, "qty": 2, "sold_unit_cents": 449,
                                   "server_unit_cents": 479,
                                   "event_time": "2026-11-28T16:58:00.000Z"}),
            );
            c.line_no = Some(2);
            c.created_at = Some("2026-11-28T17:02:11.000Z".into());
            c
        },
        {
            let mut c = conflict(
                "c0ffee00-0000-4000-8000-000000000003",
                "unknown_product",
                "9999",
                serde_json::json!({"line_no": 3, "name": "Old stock item", "qty": 1,
                                   "unit_price_cents": 120, "reason": "unknown_sku"}),
            );
            c.status = "resolved".into();
            c.resolution = Some(serde_json::json!({"action": "non_stock", "qty": null,
                "sku": null, "note": "discontinued", "resolved_at": "2026-11-28T17:10:00.000Z"}));
            c.line_no = Some(3);
            c.created_at = Some("2026-11-28T17:02:11.000Z".into());
            c.resolved_at = Some("2026-11-28T17:10:00.000Z".into());
            c
        },
        {
            let mut c = conflict(
                "c0ffee00-0000-4000-8000-000000000004",
                "count_discrepancy",
                "4001",
                serde_json::json!({"counted_qty": 14, "expected_qty": 17, "difference": -3,
                                   "threshold": 0, "counted_at": "2026-11-27T19:04:00.000Z",
                                   "event_time": "2026-11-27T19:04:01.000Z"}),
            );
            c.sale_id = None;
            c.status = "resolved".into();
            c.resolution = Some(serde_json::json!({"action": "accept", "qty": null,
                "sku": null, "note": null, "resolved_at": "2026-11-27T19:30:00.000Z"}));
            c.count_id = Some("0190f3a4-0000-7000-8000-00000000000a".into());
            c.created_at = Some("2026-11-27T19:05:30.000Z".into());
            c.resolved_at = Some("2026-11-27T19:30:00.000Z".into());
            c
        },
    ]
}

fn online() -> SyncView {
    SyncView {
        connectivity: Connectivity::Online,
        latency_ms: Some(42),
        skew_ms: Some(-420),
        last_sync_at: Some(now() - Duration::seconds(12)),
        last_error: None,
        offline_since: None,
        recent_latency_ms: vec![40, 38, 55, 42, 90, 41, 39, 44, 120, 42, 40, 43],
        other_syncer_pid: None,
    }
}

fn started(w: u16, h: u16, technician: bool, store: &mut FakeStore) -> State {
    let mut st = state(w, h, technician);
    store.start(&mut st);
    st
}

fn snap(name: &str, st: &State) {
    let text = screen_text(st, st.width, st.height);
    insta::assert_snapshot!(format!("{name}_{}x{}", st.width, st.height), text);
}

#[test]
fn sales_pane_empty_not_configured() {
    for (w, h) in SIZES {
        let mut store = FakeStore::default();
        let st = started(w, h, false, &mut store);
        snap("sales_empty", &st);
    }
}

#[test]
fn sales_pane_with_marked_lines_and_totals() {
    for (w, h) in SIZES {
        let mut store = busy_store();
        let mut st = started(w, h, false, &mut store);
        store.drive(&mut st, Action::SyncChanged(online()));
        store.drive_all(&mut st, keys("4001\n2*4002\n4003\n4004\n"));
        store.drive(&mut st, key(KeyCode::Up));
        store.drive(&mut st, key(KeyCode::F(7)));
        store.drive_all(&mut st, keys("2.29\n"));
        store.drive(&mut st, key(KeyCode::Up));
        store.drive(&mut st, key(KeyCode::F(8)));
        store.drive_all(&mut st, keys("10%\n3*"));
        snap("sales_lines", &st);
    }
}

#[test]
fn sales_pane_taking_cash() {
    for (w, h) in SIZES {
        let mut store = FakeStore::default();
        let mut st = started(w, h, false, &mut store);
        store.drive_all(&mut st, keys("4001\n4003\n"));
        store.drive(&mut st, key(KeyCode::F(5)));
        store.drive_all(&mut st, keys("20"));
        snap("sales_cash", &st);
    }
}

#[test]
fn sales_pane_after_saving_shows_seq_and_change() {
    for (w, h) in SIZES {
        let mut store = FakeStore::default();
        let mut st = started(w, h, false, &mut store);
        store.drive_all(&mut st, keys("4001\n4002\n4003\n"));
        store.drive(&mut st, key(KeyCode::F(5)));
        store.drive_all(&mut st, keys("20\n"));
        snap("sales_saved", &st);
    }
}

#[test]
fn sales_pane_searching_by_name() {
    for (w, h) in SIZES {
        let mut store = FakeStore::default();
        let mut st = started(w, h, false, &mut store);
        store.drive_all(&mut st, keys("/o"));
        store.drive(&mut st, key(KeyCode::Down));
        snap("sales_search", &st);
    }
}

#[test]
fn queue_pane_marks_rejected_ops_in_words() {
    for (w, h) in SIZES {
        let mut store = busy_store();
        let mut st = started(w, h, false, &mut store);
        store.drive(&mut st, Action::SyncChanged(online()));
        store.drive(&mut st, key(KeyCode::F(2)));
        store.drive(&mut st, key(KeyCode::Down));
        snap("queue", &st);
    }
}

#[test]
fn queue_detail_view() {
    for (w, h) in SIZES {
        let mut store = busy_store();
        let mut st = started(w, h, true, &mut store);
        store.drive(&mut st, key(KeyCode::Down));
        store.drive(&mut st, key(KeyCode::Enter));
        snap("queue_detail", &st);
    }
}

#[test]
fn technician_screen_shows_queue_and_conflicts() {
    for (w, h) in SIZES {
        let mut store = busy_store();
        let mut st = started(w, h, true, &mut store);
        store.drive(
            &mut st,
            Action::SyncChanged(SyncView {
                connectivity: Connectivity::Offline,
                offline_since: Some(now() - Duration::seconds(754)),
                last_sync_at: Some(now() - Duration::seconds(800)),
                last_error: Some("connect: connection refused".into()),
                ..SyncView::default()
            }),
        );
        snap("technician", &st);
    }
}

#[test]
fn heartbeat_says_how_many_catalog_products_were_skipped() {
    for (w, h) in SIZES {
        let mut store = busy_store();
        let mut st = started(w, h, false, &mut store);
        store.drive(&mut st, Action::SyncChanged(online()));
        store.skipped_products = 3;
        store.drive(
            &mut st,
            Action::ProductsSkipped {
                skipped: 3,
                cleared: 0,
                total: 3,
            },
        );
        snap("catalog_skipped", &st);
    }
}

#[test]
fn conflict_pane_with_details_and_actions() {
    for (w, h) in SIZES {
        let mut store = busy_store();
        let mut st = started(w, h, false, &mut store);
        store.drive(&mut st, key(KeyCode::F(3)));
        store.drive(&mut st, key(KeyCode::Down));
        snap("conflicts", &st);
    }
}

#[test]
fn conflict_pane_says_each_kind_in_words_with_local_times() {
    let kinds = [
        "oversold",
        "price_mismatch",
        "unknown_product",
        "count_discrepancy",
    ];
    for (w, h) in SIZES {
        for (i, kind) in kinds.into_iter().enumerate() {
            let mut store = busy_store();
            let mut st = started(w, h, false, &mut store);
            store.drive(&mut st, key(KeyCode::F(3)));
            for _ in 0..i {
                store.drive(&mut st, key(KeyCode::Down));
            }
            assert_eq!(
                st.conflicts.selected_item().map(|c| c.kind.as_str()),
                Some(kind)
            );
            snap(&format!("conflict_{kind}"), &st);
        }
    }
}

#[test]
fn queue_pane_dates_the_ops_of_other_days() {
    for (w, h) in SIZES {
        let mut store = FakeStore::default();
        for i in 0..3 {
            store.push_op(OpKind::Sale, OpState::Sent, Some(100 + i));
        }
        // Stored at 23:30 UTC the day before: 00:30 today at +01:00, so no date.
        store.ops[0].created_at = "2026-11-27T23:30:00.000Z".into();
        // Two days ago locally; and a time the till could not parse, shown as stored.
        store.ops[1].created_at = "2026-11-26T08:05:09.000Z".into();
        store.ops[2].created_at = "garbled".into();
        let mut st = started(w, h, true, &mut store);
        store.drive(&mut st, key(KeyCode::F(2)));
        snap("queue_other_days", &st);
    }
}

#[test]
fn conflict_resolution_form_confirms_first() {
    for (w, h) in SIZES {
        let mut store = busy_store();
        let mut st = started(w, h, true, &mut store);
        store.drive(&mut st, key(KeyCode::F(3)));
        store.drive(&mut st, key(KeyCode::Char('c')));
        store.drive_all(&mut st, keys("14"));
        store.drive(&mut st, key(KeyCode::Tab));
        store.drive_all(&mut st, keys("counted twice"));
        snap("resolve_form", &st);
    }
}

#[test]
fn help_overlay_comes_from_the_key_map() {
    for (w, h) in SIZES {
        let mut store = FakeStore::default();
        let mut st = started(w, h, false, &mut store);
        store.drive(&mut st, key(KeyCode::Char('?')));
        snap("help", &st);
    }
}

#[test]
fn quitting_with_a_sale_in_progress_asks() {
    for (w, h) in SIZES {
        let mut store = FakeStore::default();
        let mut st = started(w, h, false, &mut store);
        store.drive_all(&mut st, keys("4001\nq"));
        snap("confirm_quit", &st);
    }
}

#[test]
fn below_80x24_says_the_terminal_is_too_small() {
    let mut store = FakeStore::default();
    let st = started(79, 23, false, &mut store);
    snap("too_small", &st);
}

#[test]
fn no_color_draws_no_colour_at_all_and_color_does() {
    use ratatui::style::Color;
    let mut store = busy_store();
    let mut st = started(120, 40, true, &mut store);
    store.drive(&mut st, Action::SyncChanged(online()));
    let colours = |st: &State| {
        let term = render(st, 120, 40);
        term.backend()
            .buffer()
            .content()
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count()
    };
    assert_eq!(colours(&st), 0, "NO_COLOR / --no-color: no colour anywhere");
    st.settings.color = true;
    assert!(colours(&st) > 0, "with colour, states are also coloured");
}
