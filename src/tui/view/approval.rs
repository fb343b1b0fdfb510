//! The manager-override popup: what is to be approved, who approves (↑↓), the masked PIN.
//! The PIN is drawn as `•` only.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::login::staff_row;
use super::popup::{centered, frame_block};
use super::theme::Theme;
use crate::tui::approval::ApprovalForm;
use crate::tui::state::State;

/// Approvers listed at most (around the selected one).
const LISTED: usize = 4;

pub fn draw(frame: &mut Frame, area: Rect, st: &State, form: &ApprovalForm, theme: Theme) {
    let mut lines = vec![
        Line::styled(format!("Manager PIN for {}", form.what), theme.title()),
        Line::raw(""),
    ];
    let first = form.selected.saturating_sub(LISTED - 1);
    for (i, s) in form.approvers.iter().enumerate().skip(first).take(LISTED) {
        lines.push(staff_row(st, s, i == form.selected, theme));
    }
    lines.push(Line::raw(""));
    let pin = if form.checking {
        "checking…".to_string()
    } else {
        form.pin.masked()
    };
    lines.push(Line::from(vec![
        Span::raw("  PIN: "),
        Span::styled(pin, theme.key()),
    ]));
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("Enter", theme.key()),
        Span::raw(" approve   "),
        Span::styled("↑↓", theme.key()),
        Span::raw(" who   "),
        Span::styled("Esc", theme.key()),
        Span::raw(" cancel (nothing saved)"),
    ]));
    // The first line may wrap once on a narrow screen.
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(3);
    let r = centered(area, 62, height);
    frame.render_widget(Clear, r);
    let block = frame_block(" Manager approval ".into(), theme);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        r,
    );
}
