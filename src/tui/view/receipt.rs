//! The receipt popup: the receipt's lines as `kassa receipt` prints them (scrollable), what
//! became of its print, and its keys. The flash line and the key bar stay visible below it.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::popup::{centered, frame_block};
use super::theme::Theme;
use crate::tui::receipt::{print_label, print_status, ReceiptPopup};
use crate::tui::state::State;

pub fn draw(frame: &mut Frame, area: Rect, st: &State, p: &ReceiptPopup, theme: Theme) {
    let shown = &p.shown;
    let text_width = shown
        .lines
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let width = u16::try_from(text_width + 4).unwrap_or(u16::MAX).max(40);
    let lines = u16::try_from(shown.lines.len()).unwrap_or(u16::MAX);
    // Two rows of room above and below: the flash line and the keys stay in view.
    let height = lines.saturating_add(4).min(area.height.saturating_sub(4));
    let r = centered(area, width, height);
    frame.render_widget(Clear, r);
    let title = match shown.kind {
        "refund" => "Refund",
        "void" => "Void",
        _ => "Receipt",
    };
    let block = frame_block(format!(" {title} #{} ", shown.seq), theme);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [body, status, keys] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let text: Vec<Line> = shown
        .lines
        .iter()
        .map(|l| Line::raw(format!(" {l}")))
        .collect();
    frame.render_widget(Paragraph::new(text).scroll((p.scroll, 0)), body);
    let (words, bad) = print_status(st, shown);
    let style = if bad { theme.bad() } else { theme.dim() };
    frame.render_widget(
        Paragraph::new(Line::styled(format!(" {words}"), style)),
        status,
    );
    let mut hint = vec![Span::raw(" ")];
    if st.receipts.printer {
        hint.push(Span::styled("p", theme.key()));
        hint.push(Span::raw(format!(" {}  ", print_label(st, shown))));
    }
    hint.extend([
        Span::styled("↑↓", theme.key()),
        Span::raw(" scroll  "),
        Span::styled("Esc", theme.key()),
        Span::raw(" close"),
    ]);
    frame.render_widget(Paragraph::new(Line::from(hint)), keys);
}
