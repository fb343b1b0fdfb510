//! The login screen (the console is locked): whom to log in, the masked PIN, the last answer.
//! Nothing of the panes behind it is drawn.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::popup::{centered, frame_block};
use super::theme::Theme;
use crate::tui::login::{clock, StaffGate};
use crate::tui::model::StaffView;
use crate::tui::state::State;

/// Names longer than this are cut on the login list and in the header.
pub const NAME_MAX: usize = 18;

pub fn short_name(name: &str) -> String {
    if name.chars().count() > NAME_MAX {
        let cut: String = name.chars().take(NAME_MAX - 1).collect();
        format!("{cut}…")
    } else {
        name.to_string()
    }
}

/// One person to choose (the login, who approves an override): name, role, any lockout.
pub(super) fn staff_row(st: &State, s: &StaffView, selected: bool, theme: Theme) -> Line<'static> {
    let mark = if selected { "▶" } else { " " };
    let lock = match s.locked_until {
        Some(u) if u > st.now => format!("locked until {}", clock(st.settings.zone, u)),
        _ => String::new(),
    };
    let text = format!(
        "{mark} {:<w$} {:<10} {lock}",
        short_name(&s.name),
        s.role,
        w = NAME_MAX
    );
    let style = if selected {
        theme.selected()
    } else {
        ratatui::style::Style::default()
    };
    Line::from(Span::styled(text, style))
}

pub fn draw(frame: &mut Frame, body: Rect, st: &State, gate: &StaffGate, theme: Theme) {
    // The list shows at most this many people around the selected one.
    let room = usize::from(body.height.saturating_sub(8)).max(1);
    let first = gate.login.selected.saturating_sub(room.saturating_sub(1));
    let mut lines = vec![Line::raw("")];
    for (i, s) in gate.staff.iter().enumerate().skip(first).take(room) {
        lines.push(staff_row(st, s, i == gate.login.selected, theme));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::raw("  PIN: "),
        Span::styled(gate.login.pin.masked(), theme.key()),
    ]));
    lines.push(Line::raw(""));
    if let Some(m) = &gate.login.message {
        lines.push(Line::from(Span::styled(format!("  {m}"), theme.warn())));
    }
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let r = centered(body, 60, height);
    frame.render_widget(Clear, r);
    let block = frame_block(" Locked · log in with your PIN ".into(), theme);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    frame.render_widget(Paragraph::new(lines), inner);
}
