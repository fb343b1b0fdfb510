//! The queue table: only the rows in the loaded window are drawn.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::theme::Theme;
use crate::domain::OpState;
use crate::tui::model::QueueItem;
use crate::tui::state::State;

/// The state in words with a symbol, so it reads without colour.
pub fn state_label(item: &QueueItem) -> String {
    match item.state {
        OpState::Pending if item.attempts > 0 => "… retrying".to_string(),
        OpState::Pending => "… pending".to_string(),
        OpState::Sent => "✓ sent".to_string(),
        OpState::Rejected => "✗ REJECTED".to_string(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, st: &State, theme: Theme, focused: bool) {
    let q = &st.queue;
    let c = st.currency();
    let title = format!(" Queue · {} {} · newest first ", q.total, q.filter.label());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(focused))
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if q.total == 0 {
        let text = if q.loaded {
            "nothing queued"
        } else {
            "loading…"
        };
        frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())), inner);
        return;
    }
    let narrow = inner.width < 60;
    // Times in the till's zone: `HH:MM:SS` today, with the date otherwise; the column is as
    // wide as the visible rows need. Below 100 columns the kinds are the short words (sale,
    // refund, void, count, resolve). The narrow table has no time column; an unparseable
    // stored time does not widen it past the date form.
    let times: Vec<String> = if narrow {
        Vec::new()
    } else {
        q.visible()
            .map(|(_, r)| st.short_time(&r.created_at))
            .collect()
    };
    let time_width = times.iter().map(|t| t.chars().count()).max().unwrap_or(0);
    let time_width = u16::try_from(time_width).unwrap_or(u16::MAX).clamp(8, 16);
    let short_kinds = inner.width < 100;
    let mut times = times.into_iter();
    let rows = q.visible().map(|(_, r)| {
        let time = times.next().unwrap_or_default();
        let error = match (&r.reject_code, &r.last_error) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Some(code), None) => code.clone(),
            (None, Some(msg)) => msg.clone(),
            (None, None) => String::new(),
        };
        let style = if r.state == OpState::Rejected {
            theme.bad()
        } else if r.state == OpState::Sent {
            theme.dim()
        } else {
            ratatui::style::Style::new()
        };
        let total = r.total_cents.map(|t| c.format(t)).unwrap_or_default();
        let kind = if short_kinds {
            short_kind(r)
        } else {
            r.kind.as_str()
        };
        let cells = if narrow {
            vec![
                Cell::from(format!("#{}", r.seq)),
                Cell::from(kind),
                Cell::from(total),
                Cell::from(state_label(r)),
            ]
        } else {
            vec![
                Cell::from(format!("#{}", r.seq)),
                Cell::from(time),
                Cell::from(kind),
                Cell::from(total),
                Cell::from(state_label(r)),
                Cell::from(format!("{}", r.attempts)),
                Cell::from(error),
            ]
        };
        Row::new(cells).style(style)
    });
    let (widths, header) = if narrow {
        (
            vec![
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Min(10),
            ],
            vec!["Seq", "Kind", "Total", "State"],
        )
    } else {
        (
            vec![
                Constraint::Length(9),
                Constraint::Length(time_width),
                Constraint::Length(if short_kinds { 7 } else { 16 }),
                Constraint::Length(10),
                Constraint::Length(11),
                Constraint::Length(4),
                Constraint::Min(10),
            ],
            vec!["Seq", "Time", "Kind", "Total", "State", "Try", "Last error"],
        )
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .row_highlight_style(theme.selected())
        .highlight_symbol("▶");
    let selected = q.selected.checked_sub(q.top).filter(|_| focused);
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, inner, &mut state);
}

fn short_kind(item: &QueueItem) -> &'static str {
    match item.kind {
        crate::domain::OpKind::Sale => "sale",
        crate::domain::OpKind::StockCount => "count",
        crate::domain::OpKind::ResolveConflict => "resolve",
        crate::domain::OpKind::Refund => "refund",
        crate::domain::OpKind::VoidSale => "void",
        crate::domain::OpKind::ShiftOpen => "shift open",
        crate::domain::OpKind::CashMovement => "cash",
        crate::domain::OpKind::ShiftClose => "shift close",
    }
}
