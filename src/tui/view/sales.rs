//! The sales pane: the code field, the cart's lines (windowed by the table) and totals.

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::theme::Theme;
use crate::tui::sales::{AmountKind, SalesMode};
use crate::tui::state::{Focus, State};

pub fn draw(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    let focused = st.focus == Focus::Sales && st.popup.is_none();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(st.focus == Focus::Sales))
        .title(Span::styled(" Sale ", theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [field, list, totals] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(2),
        Constraint::Length(2),
    ])
    .areas(inner);
    draw_field(frame, field, st, theme, focused);
    match &st.sales.mode {
        SalesMode::Search { results, selected } => {
            draw_results(frame, list, st, results, *selected, theme)
        }
        _ => draw_lines(frame, list, st, theme),
    }
    draw_totals(frame, totals, st, theme);
}

fn draw_field(frame: &mut Frame, area: Rect, st: &State, theme: Theme, focused: bool) {
    let s = &st.sales;
    let prompt = match s.mode {
        SalesMode::Entry => "Code/barcode".to_string(),
        SalesMode::Search { .. } => "Search name".to_string(),
        SalesMode::Amount(kind) => kind.prompt().to_string(),
        SalesMode::Committing => "Saving…".to_string(),
    };
    let mut spans = vec![Span::styled(format!("{prompt} ▸ "), theme.title())];
    if let Some(q) = s.pending_qty {
        spans.push(Span::styled(format!("{q} × "), theme.marked()));
    }
    let prefix: usize = spans.iter().map(|sp| sp.width()).sum();
    let room = usize::from(area.width).saturating_sub(prefix + 1).max(1);
    let scroll = s.input.visual_scroll(room);
    let shown: String = s.input.value().chars().skip(scroll).take(room).collect();
    spans.push(Span::raw(shown));
    if s.lookups_in_flight > 0 {
        spans.push(Span::styled(
            format!("  looking up {}…", s.lookups_in_flight),
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if focused && s.mode != SalesMode::Committing {
        let x = area.x + (prefix + s.input.visual_cursor().saturating_sub(scroll)) as u16;
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}

fn draw_lines(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    let s = &st.sales;
    let c = st.currency();
    let totals = s.cart.totals().ok();
    let rows = s.cart.lines().iter().enumerate().map(|(i, l)| {
        let total = totals
            .as_ref()
            .and_then(|t| t.lines.get(i))
            .map(|a| c.format(a.line_total_cents))
            .unwrap_or_default();
        let mut mark = String::new();
        if l.price_overridden {
            mark.push_str("PRICE ");
        }
        if l.discount_cents > 0 {
            mark.push_str(&format!("-{}", c.format(l.discount_cents)));
        }
        Row::new([
            Cell::from(format!("{}", i + 1)),
            Cell::from(l.name.clone()),
            Cell::from(format!("{}", l.qty)),
            Cell::from(c.format(l.unit_price_cents)),
            Cell::from(Span::styled(mark, theme.marked())),
            Cell::from(total),
        ])
    });
    let table = super::pick_table(
        rows,
        [
            Constraint::Length(3),
            Constraint::Min(12),
            Constraint::Length(5),
            Constraint::Length(9),
            Constraint::Length(12),
            Constraint::Length(10),
        ],
        Row::new(["#", "Item", "Qty", "Price", "Marks", "Total"]),
        theme,
    );
    let mut state = TableState::default().with_selected(s.selected);
    if s.cart.is_empty() {
        let hint = match (&s.last_saved, &s.last_refund) {
            (Some(saved), _) => format!(
                "Sale #{} saved. Scan or type a code to start the next sale.",
                saved.seq
            ),
            (None, Some(refund)) => format!(
                "Refund #{} saved. Scan or type a code to start the next sale.",
                refund.seq
            ),
            (None, None) => {
                "Scan or type a code and press Enter. 3* then a code sells 3.".to_string()
            }
        };
        frame.render_widget(Paragraph::new(Span::styled(hint, theme.dim())), area);
    } else {
        frame.render_stateful_widget(table, area, &mut state);
    }
}

fn draw_results(
    frame: &mut Frame,
    area: Rect,
    st: &State,
    results: &[crate::domain::Product],
    selected: usize,
    theme: Theme,
) {
    let c = st.currency();
    let rows = results.iter().map(|p| {
        Row::new([
            Cell::from(p.sku.clone()),
            Cell::from(p.name.clone()),
            Cell::from(c.format(p.price_cents)),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Min(12),
            Constraint::Length(10),
        ],
    )
    .header(Row::new(["SKU", "Name", "Price"]).style(theme.dim()))
    .row_highlight_style(theme.selected())
    .highlight_symbol("▶");
    if results.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("type part of a product name", theme.dim())),
            area,
        );
    } else {
        let mut state = TableState::default().with_selected(Some(selected));
        frame.render_stateful_widget(table, area, &mut state);
    }
}

fn draw_totals(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    let s = &st.sales;
    let c = st.currency();
    let line1 = match s.cart.totals() {
        Ok(t) => {
            let items: i64 = s.cart.lines().iter().map(|l| l.qty).sum();
            Line::from(vec![
                Span::raw(format!("Items {items}   Tax {}   ", c.format(t.tax_cents))),
                Span::styled(
                    format!("TOTAL {} {}", c.format(t.total_cents), c.code()),
                    theme.title(),
                ),
            ])
        }
        Err(e) => Line::from(Span::styled(e.to_string(), theme.bad())),
    };
    let line2 = match (&s.mode, &s.last_saved) {
        (SalesMode::Amount(AmountKind::CashGiven), _) => Line::from(Span::styled(
            "Type the cash given and Enter; Enter alone = exact amount",
            theme.dim(),
        )),
        (SalesMode::Committing, _) => Line::from(Span::styled("saving…", theme.warn())),
        (_, Some(saved)) if s.cart.is_empty() => Line::from(Span::styled(
            format!(
                "✓ saved #{} · paid {} · change {}",
                saved.seq,
                c.format(saved.due_cents),
                c.format(saved.change_cents)
            ),
            theme.good(),
        )),
        (_, None) if s.cart.is_empty() => match &s.last_refund {
            Some(r) => Line::from(Span::styled(
                format!(
                    "✓ refunded #{} · {} paid back {}",
                    r.seq,
                    c.format(r.paid_back_cents),
                    crate::tui::refund::tender_phrase(r.tender)
                ),
                theme.good(),
            )),
            None => Line::default(),
        },
        _ => Line::default(),
    };
    frame.render_widget(Paragraph::new(vec![line1, line2]), area);
}
