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
    for bind in keymap::listed(ctx).filter(|b| b.hint) {
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
