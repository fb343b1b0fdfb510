//! Refund mode in the sales pane: the receipt field, the receipt's lines with what is still
//! refundable and what comes back (restock or damaged), or the lines of a refund without a
//! receipt, and the amount to pay back.

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, TableState};
use ratatui::Frame;

use super::theme::Theme;
use crate::tui::refund::{amounts, RefundState, RefundStep};
use crate::tui::state::{Focus, State};

pub fn draw(frame: &mut Frame, area: Rect, st: &State, r: &RefundState, theme: Theme) {
    let focused = st.focus == Focus::Sales && st.popup.is_none();
    let title = match (&r.receipt, r.step) {
        (Some(v), _) => format!(
            " Refund · receipt {} · {} · paid {} {} ",
            v.label(),
            st.short_time(&v.created_at),
            st.currency().format(v.paid_cents),
            v.tender_words()
        ),
        (None, RefundStep::Blind) => " Refund · no receipt ".to_string(),
        (None, _) => " Refund ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(st.focus == Focus::Sales))
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [field, list, totals] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(2),
        Constraint::Length(2),
    ])
    .areas(inner);
    draw_field(frame, field, r, theme, focused);
    match r.step {
        RefundStep::Receipt => draw_receipt_hint(frame, list, r, theme),
        RefundStep::Lines => draw_receipt_lines(frame, list, st, r, theme),
        RefundStep::Blind => draw_blind_lines(frame, list, st, r, theme),
    }
    draw_totals(frame, totals, st, r, theme);
}

fn draw_field(frame: &mut Frame, area: Rect, r: &RefundState, theme: Theme, focused: bool) {
    let prompt = if r.committing {
        "Saving the refund…"
    } else {
        match r.step {
            RefundStep::Receipt => "Receipt (#seq or sale id)",
            RefundStep::Lines => "Return qty of the line",
            RefundStep::Blind => "Code/barcode",
        }
    };
    let mut spans = vec![Span::styled(format!("{prompt} ▸ "), theme.title())];
    if let Some(q) = r.pending_qty {
        spans.push(Span::styled(format!("{q} × "), theme.marked()));
    }
    let prefix: usize = spans.iter().map(|sp| sp.width()).sum();
    let room = usize::from(area.width).saturating_sub(prefix + 1).max(1);
    let scroll = r.input.visual_scroll(room);
    let shown: String = r.input.value().chars().skip(scroll).take(room).collect();
    spans.push(Span::raw(shown));
    if let Some(receipt) = &r.looking_up {
        spans.push(Span::styled(
            format!("  looking up {receipt}…"),
            theme.dim(),
        ));
    } else if r.lookups_in_flight > 0 {
        spans.push(Span::styled(
            format!("  looking up {}…", r.lookups_in_flight),
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if focused && !r.committing {
        let x = area.x + (prefix + r.input.visual_cursor().saturating_sub(scroll)) as u16;
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}

fn draw_receipt_hint(frame: &mut Frame, area: Rect, _r: &RefundState, theme: Theme) {
    let lines = vec![
        Line::raw("Scan or type the receipt number and press Enter:"),
        Line::raw("the #seq printed on the receipt, or the sale id."),
        Line::raw(""),
        Line::raw("No receipt? F10 refunds by code, with a reason."),
        Line::raw("Esc goes back to selling."),
    ];
    frame.render_widget(Paragraph::new(lines).style(theme.dim()), area);
}

fn stock_word(restock: bool) -> &'static str {
    if restock {
        "restock"
    } else {
        "DAMAGED"
    }
}

fn draw_receipt_lines(frame: &mut Frame, area: Rect, st: &State, r: &RefundState, theme: Theme) {
    let c = st.currency();
    let amounts = amounts(r);
    let rows = r.lines.iter().enumerate().map(|(i, l)| {
        let (sold, refunded, left) = match r.receipt_line(l) {
            Some(rl) => (rl.line.qty, rl.refunded_qty, rl.remaining_qty()),
            None => (0, 0, 0),
        };
        let amount = match amounts.as_ref().map(|a| a.get(i).copied().flatten()) {
            Ok(Some(a)) if l.qty > 0 => c.format(a),
            _ => String::new(),
        };
        let back = if l.qty > 0 {
            format!("{}", l.qty)
        } else {
            "-".to_string()
        };
        let style = if left == 0 {
            theme.dim()
        } else {
            ratatui::style::Style::new()
        };
        Row::new([
            Cell::from(format!("{}", l.original_line_no.unwrap_or(0))),
            Cell::from(l.name.clone()),
            Cell::from(format!("{sold}")),
            Cell::from(format!("{refunded}")),
            Cell::from(format!("{left}")),
            Cell::from(Span::styled(back, theme.title())),
            Cell::from(if l.qty > 0 { stock_word(l.restock) } else { "" }),
            Cell::from(amount),
        ])
        .style(style)
    });
    let table = super::pick_table(
        rows,
        [
            Constraint::Length(3),
            Constraint::Min(12),
            Constraint::Length(5),
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(10),
        ],
        Row::new([
            "#", "Item", "Sold", "Refunded", "Left", "Back", "Stock", "Amount",
        ]),
        theme,
    );
    let mut state = TableState::default().with_selected(Some(r.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_blind_lines(frame: &mut Frame, area: Rect, st: &State, r: &RefundState, theme: Theme) {
    if r.lines.is_empty() {
        let text = "Scan or type the code of what comes back. 3* then a code returns 3.";
        frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())), area);
        return;
    }
    let c = st.currency();
    let amounts = amounts(r);
    let rows = r.lines.iter().enumerate().map(|(i, l)| {
        let amount = match amounts.as_ref().map(|a| a.get(i).copied().flatten()) {
            Ok(Some(a)) => c.format(a),
            _ => String::new(),
        };
        let price = l
            .product
            .as_ref()
            .map(|p| c.format(p.price_cents))
            .unwrap_or_default();
        Row::new([
            Cell::from(format!("{}", i + 1)),
            Cell::from(l.name.clone()),
            Cell::from(l.sku.clone()),
            Cell::from(format!("{}", l.qty)),
            Cell::from(price),
            Cell::from(stock_word(l.restock)),
            Cell::from(amount),
        ])
    });
    let table = super::pick_table(
        rows,
        [
            Constraint::Length(3),
            Constraint::Min(12),
            Constraint::Length(14),
            Constraint::Length(5),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(10),
        ],
        Row::new(["#", "Item", "SKU", "Back", "Price", "Stock", "Amount"]),
        theme,
    );
    let mut state = TableState::default().with_selected(Some(r.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_totals(frame: &mut Frame, area: Rect, st: &State, r: &RefundState, theme: Theme) {
    let c = st.currency();
    let line1 = match r.step {
        RefundStep::Receipt => Line::default(),
        _ => match amounts(r) {
            Ok(a) => {
                let total: i64 = a.iter().flatten().sum();
                Line::from(vec![
                    Span::raw(format!("Items back {}   ", r.units())),
                    Span::styled(
                        format!("REFUND {} {}", c.format(total), c.code()),
                        theme.title(),
                    ),
                ])
            }
            Err(e) => Line::from(Span::styled(e, theme.bad())),
        },
    };
    let line2 = if r.committing {
        Line::from(Span::styled("saving…", theme.warn()))
    } else {
        match r.step {
            RefundStep::Receipt => Line::default(),
            RefundStep::Lines => Line::from(Span::styled(
                "+/- or a number: how many come back · F8 restock/damaged · F5/F6 pay back",
                theme.dim(),
            )),
            RefundStep::Blind => Line::from(Span::styled(
                format!(
                    "without a receipt: at most {} {}, with a reason · F8 restock/damaged",
                    c.format(st.refund_policy.blind_max_cents),
                    c.code()
                ),
                theme.dim(),
            )),
        }
    };
    frame.render_widget(Paragraph::new(vec![line1, line2]), area);
}
