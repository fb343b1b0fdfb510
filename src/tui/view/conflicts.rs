//! The conflict pane: the list (open first, resolved fading into history) and the details
//! of the selected one in words (what the till sold against what the server had, when, and
//! how it was resolved) with the resolutions its kind allows.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::theme::Theme;
use crate::domain::ConflictText;
use crate::tui::conflicts::actions_for;
use crate::tui::model::ConflictItem;
use crate::tui::state::State;

fn status_label(c: &ConflictItem) -> String {
    match (&c.queued_action, c.status.as_str()) {
        (Some(a), "open") => format!("↑ queued: {a}"),
        (_, "open") => "! OPEN".to_string(),
        (_, other) => format!("✓ {other}"),
    }
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

pub fn draw(frame: &mut Frame, area: Rect, st: &State, theme: Theme, focused: bool) {
    let c = &st.conflicts;
    let title = format!(" Conflicts · {} open ", c.open_count());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(focused))
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if c.items.is_empty() {
        let text = if c.loaded {
            "no conflicts"
        } else {
            "loading…"
        };
        frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())), inner);
        return;
    }
    let [list, detail] = if inner.width >= 100 {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(inner)
    } else {
        Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(inner)
    };
    let rows = c.items.iter().map(|item| {
        let style = if item.needs_action() {
            theme.bad()
        } else if item.status == "open" {
            ratatui::style::Style::new()
        } else {
            theme.dim()
        };
        Row::new([
            Cell::from(short(&item.id)),
            Cell::from(item.kind.clone()),
            Cell::from(item.sku.clone().unwrap_or_default()),
            Cell::from(status_label(item)),
        ])
        .style(style)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(18),
            Constraint::Length(14),
            Constraint::Min(10),
        ],
    )
    .row_highlight_style(theme.selected())
    .highlight_symbol("▶");
    let mut state = TableState::default().with_selected(Some(c.selected));
    frame.render_stateful_widget(table, list, &mut state);
    if let Some(item) = c.selected_item() {
        draw_detail(frame, detail, st, item, theme);
    }
}

fn draw_detail(frame: &mut Frame, area: Rect, st: &State, item: &ConflictItem, theme: Theme) {
    let text = ConflictText::new(&item.facts(), st.currency(), |t| st.short_time(t));
    let when = text.when_raised();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", item.kind), theme.title()),
            Span::raw(format!(
                "{} · sku {} · sale {}",
                item.id,
                item.sku.as_deref().unwrap_or("–"),
                item.sale_id
                    .as_deref()
                    .map(short)
                    .unwrap_or_else(|| "–".into())
            )),
        ]),
        Line::raw(text.what),
    ];
    if let Some(when) = when {
        lines.push(Line::raw(when));
    }
    if let Some(resolved) = text.resolved {
        lines.push(Line::from(Span::styled(resolved, theme.dim())));
    } else if let Some(a) = &item.queued_action {
        lines.push(Line::raw(format!(
            "resolution queued: {a} (waits for the next push)"
        )));
    } else {
        let keys: Vec<String> = actions_for(&item.kind)
            .iter()
            .map(|a| format!("{} {a}", key_of(a)))
            .collect();
        lines.push(Line::from(Span::styled(
            format!("resolve: {}", keys.join(" · ")),
            theme.key(),
        )));
    }
    let p = Paragraph::new(lines)
        .block(Block::default().borders(Borders::TOP))
        .wrap(Wrap { trim: true });
    frame.render_widget(p, area);
}

/// The key that starts each resolution, from the key map's conflict list.
fn key_of(action: &str) -> &'static str {
    crate::tui::keymap::bindings(crate::tui::keymap::Context::Conflicts)
        .iter()
        .find(|b| matches!(b.cmd, crate::tui::keymap::KeyCmd::Resolve(a) if a == action))
        .map(|b| b.shown)
        .unwrap_or("?")
}
