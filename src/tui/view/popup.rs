//! Popups over the panes: help (from the key map), yes/no confirmations, an op's detail,
//! and the conflict resolution form.

use ratatui::layout::{Constraint, Flex, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::theme::Theme;
use crate::domain::conflict::ActionNeeds as Needs;
use crate::tui::conflicts::{action_info, FormField, ResolveForm};
use crate::tui::keymap;
use crate::tui::model::OpDetailView;
use crate::tui::state::{Confirm, Popup, State};

pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

pub(super) fn frame_block(title: String, theme: Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(true))
        .title(Span::styled(title, theme.title()))
}

pub fn draw(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    match &st.popup {
        None => {}
        Some(Popup::Help) => help(frame, area, st, theme),
        Some(Popup::Confirm(what)) => confirm(frame, area, *what, theme),
        Some(Popup::OpDetail { detail, scroll }) => {
            op_detail(frame, area, st, detail, *scroll, theme)
        }
        Some(Popup::Resolve(form)) => resolve(frame, area, form, theme),
        Some(Popup::Refund(form)) => super::forms::refund(frame, area, st, form, theme),
        Some(Popup::Void(form)) => super::forms::void(frame, area, st, form, theme),
        Some(Popup::Shift(form)) => super::shift::draw(frame, area, st, form, theme),
        Some(Popup::Approval(form)) => super::approval::draw(frame, area, st, form, theme),
        Some(Popup::Receipt(p)) => super::receipt::draw(frame, area, st, p, theme),
    }
}

fn help(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    let ctx = st.pane_context();
    let entries: Vec<Line> = keymap::listed_with_staff(ctx, st.staff.is_some())
        .map(|b| {
            let only = if b.empty_input_only {
                " (empty field)"
            } else {
                ""
            };
            Line::from(vec![
                Span::styled(format!("{:>6} ", b.shown), theme.key()),
                Span::raw(format!("{}{only}", b.label)),
            ])
        })
        .collect();
    // One column when it fits, else two side by side.
    let room = usize::from(area.height.saturating_sub(4)).max(1);
    let columns = if entries.len() <= room { 1 } else { 2 };
    let rows = entries.len().div_ceil(columns);
    let width = if columns == 1 { 44 } else { 78 };
    let height = (rows as u16).saturating_add(3);
    let r = centered(area, width, height);
    frame.render_widget(Clear, r);
    let block = frame_block(" Keys · Esc closes ".into(), theme);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let cols = Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    for (i, chunk) in entries.chunks(rows).enumerate() {
        if let Some(col) = cols.get(i) {
            frame.render_widget(Paragraph::new(chunk.to_vec()), *col);
        }
    }
}

fn confirm(frame: &mut Frame, area: Rect, what: Confirm, theme: Theme) {
    let question = match what {
        Confirm::QuitDiscardingSale => "A sale is in progress and NOT saved. Quit and discard it?",
        Confirm::VoidSale => "Void the whole sale? Nothing is saved.",
        Confirm::QuitDiscardingRefund => {
            "A refund is being put together and NOT saved. Quit and discard it?"
        }
    };
    let r = centered(area, 50, 6);
    frame.render_widget(Clear, r);
    let lines = vec![
        Line::raw(question),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" y ", theme.key()),
            Span::raw("yes   "),
            Span::styled(" n ", theme.key()),
            Span::raw("no"),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(frame_block(" Confirm ".into(), theme)),
        r,
    );
}

fn op_detail(
    frame: &mut Frame,
    area: Rect,
    st: &State,
    d: &OpDetailView,
    scroll: u16,
    theme: Theme,
) {
    let r = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    frame.render_widget(Clear, r);
    let item = &d.item;
    let mut lines = vec![
        Line::raw(format!(
            "{} · {} · {} · attempts {}",
            item.kind.as_str(),
            super::queue::state_label(item),
            st.settings.zone.full_text(&item.created_at),
            item.attempts
        )),
        Line::raw(format!("op_id {}", d.op_id)),
    ];
    if let Some(t) = item.total_cents {
        lines.push(Line::raw(format!("total {}", st.currency().format(t))));
    }
    if let Some(code) = &item.reject_code {
        lines.push(Line::styled(format!("rejected: {code}"), theme.bad()));
    }
    if let Some(e) = &item.last_error {
        lines.push(Line::styled(format!("last error: {e}"), theme.warn()));
    }
    lines.push(Line::raw(""));
    let payload = serde_json::to_string_pretty(&d.payload).unwrap_or_default();
    lines.extend(payload.lines().map(|l| Line::raw(l.to_string())));
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(frame_block(format!(" Op #{} ", item.seq), theme)),
        r,
    );
}

fn resolve(frame: &mut Frame, area: Rect, form: &ResolveForm, theme: Theme) {
    let r = centered(area, 64, 10);
    frame.render_widget(Clear, r);
    let block = frame_block(format!(" Resolve {} ", form.kind), theme);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let value_label = match form.needs {
        Needs::Qty => Some("Counted qty"),
        Needs::Sku => Some("Map to SKU"),
        Needs::Nothing => None,
    };
    let mark = |f: FormField| if form.field == f { "▶" } else { " " };
    let mut lines = vec![
        Line::raw(format!(
            "Queue '{}' for conflict {}{}?",
            form.action,
            form.conflict_id.chars().take(8).collect::<String>(),
            form.sku
                .as_deref()
                .map(|s| format!(" (sku {s})"))
                .unwrap_or_default()
        )),
        Line::styled(
            action_info(&form.kind, form.action)
                .map(|a| a.help)
                .unwrap_or_default(),
            theme.dim(),
        ),
    ];
    let mut cursor_row = None;
    if let Some(label) = value_label {
        if form.field == FormField::Value {
            cursor_row = Some((lines.len(), label.len() + 4, &form.value));
        }
        lines.push(Line::raw(format!(
            "{}{label}: {}",
            mark(FormField::Value),
            form.value.value()
        )));
    }
    if form.field == FormField::Note {
        cursor_row = Some((lines.len(), "Note".len() + 3, &form.note));
    }
    lines.push(Line::raw(format!(
        "{}Note: {}",
        mark(FormField::Note),
        form.note.value()
    )));
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("Enter", theme.key()),
        Span::raw(" queue it   "),
        Span::styled("Tab", theme.key()),
        Span::raw(" next field   "),
        Span::styled("Esc", theme.key()),
        Span::raw(" cancel"),
    ]));
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some((row, col, input)) = cursor_row {
        let x = inner.x + (col + input.visual_cursor()) as u16;
        frame.set_cursor_position(Position::new(
            x.min(inner.right().saturating_sub(1)),
            inner.y + row as u16,
        ));
    }
}
