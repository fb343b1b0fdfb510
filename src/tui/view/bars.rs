//! The header (pane tabs and counts), the flash line and the key bar.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme::Theme;
use crate::tui::conflicts::actions_for;
use crate::tui::keymap::{self, Context, KeyCmd};
use crate::tui::state::{Focus, State};

pub fn header(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    let open = st.conflicts.open_count();
    let tabs = [
        (Focus::Sales, "F1 Sales".to_string()),
        (
            Focus::Queue,
            format!("F2 Queue ({})", st.heartbeat.local.pending),
        ),
        (Focus::Conflicts, format!("F3 Conflicts ({open})")),
    ];
    let mut spans = vec![Span::styled(" kassa ", theme.title()), Span::raw("│")];
    for (focus, label) in tabs {
        if focus == st.focus {
            spans.push(Span::styled(format!("[{label}]"), theme.selected()));
        } else {
            spans.push(Span::raw(format!(" {label} ")));
        }
    }
    if st.settings.technician {
        spans.push(Span::styled(" │ TECHNICIAN", theme.warn()));
    }
    if let Some(gate) = &st.staff {
        let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
        let room = usize::from(area.width).saturating_sub(used);
        spans.extend(staff_spans(st, gate, room, theme));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub fn flash(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    if let Some(f) = &st.flash {
        let mark = match f.level {
            crate::tui::state::FlashLevel::Info => "",
            crate::tui::state::FlashLevel::Success => "✓ ",
            crate::tui::state::FlashLevel::Error => "✗ ",
        };
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(" {mark}{}", f.text),
                theme.flash(f.level),
            )),
            area,
        );
    }
}

/// The status bar: the current context's hinted keys, from the same key map as the help.
pub fn keys(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    let ctx = st.context();
    let kind = st.conflicts.selected_item().map(|c| c.kind.as_str());
    let mut spans = Vec::new();
    for bind in keymap::listed_with_staff(ctx, st.staff.is_some()).filter(|b| b.hint) {
        if let (Context::Conflicts, KeyCmd::Resolve(action)) = (ctx, bind.cmd) {
            if !kind.is_some_and(|k| actions_for(k).contains(&action)) {
                continue;
            }
        }
        spans.push(Span::styled(format!(" {}", bind.shown), theme.key()));
        spans.push(Span::raw(format!(" {} ", bind.label)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Who is logged in and the shift, in at most `room` columns: the role goes first, then the
/// name is cut; the shift always shows.
fn staff_spans(
    st: &State,
    gate: &crate::tui::login::StaffGate,
    room: usize,
    theme: Theme,
) -> Vec<Span<'static>> {
    let shift = match &gate.shift {
        Some(s) => format!(
            " · shift {}",
            crate::tui::login::clock(st.settings.zone, s.opened_at)
        ),
        None => " · no shift".to_string(),
    };
    let who = match &gate.current {
        None => " │ locked".to_string(),
        Some(s) => {
            let full = format!(" │ {} ({})", s.name, s.role);
            let bare = format!(" │ {}", s.name);
            let fits = |t: &str| t.chars().count() + shift.chars().count() <= room;
            if fits(&full) {
                full
            } else if fits(&bare) {
                bare
            } else {
                let keep = room.saturating_sub(shift.chars().count() + 4).max(1);
                let cut: String = s.name.chars().take(keep).collect();
                format!(" │ {cut}…")
            }
        }
    };
    vec![Span::styled(who, theme.title()), Span::raw(shift)]
}
