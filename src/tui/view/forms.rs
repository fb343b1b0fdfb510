//! The refund's confirmation and the post-void form: both say in words what will happen,
//! take a reason, and commit only on Enter.

use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::popup::{centered, frame_block};
use super::theme::Theme;
use crate::tui::refund::{amounts, paid_back, RefundForm};
use crate::tui::state::State;
use crate::tui::void::VoidForm;

/// Lines of the refund listed in the confirmation before "and N more".
const LISTED: usize = 5;

fn keys_line(theme: Theme, enter: &str, esc: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled("Enter", theme.key()),
        Span::raw(format!(" {enter}   ")),
        Span::styled("Esc", theme.key()),
        Span::raw(format!(" {esc}")),
    ])
}

fn reason_line(reason: &str, required: bool) -> Line<'static> {
    let label = if required {
        "▶Reason (required): "
    } else {
        "▶Reason: "
    };
    Line::raw(format!("{label}{reason}"))
}

/// Puts the cursor after the reason typed so far, on row `row` of `inner`.
fn cursor(frame: &mut Frame, inner: Rect, row: usize, col: usize) {
    let x = inner
        .x
        .saturating_add(u16::try_from(col).unwrap_or(u16::MAX));
    frame.set_cursor_position(Position::new(
        x.min(inner.right().saturating_sub(1)),
        inner.y.saturating_add(u16::try_from(row).unwrap_or(0)),
    ));
}

pub fn refund(frame: &mut Frame, area: Rect, st: &State, form: &RefundForm, theme: Theme) {
    let Some(r) = &st.refund else {
        return;
    };
    let c = st.currency();
    let amounts = amounts(r).unwrap_or_default();
    let chosen: Vec<(usize, &crate::tui::refund::ReturnLine)> = r
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.qty > 0)
        .collect();
    let total: i64 = amounts.iter().flatten().sum();
    let paid = paid_back(r, form.tender, st.refund_policy.cash_rounding).unwrap_or(total);
    let from = match &r.receipt {
        Some(v) => format!("from receipt {}", v.label()),
        None => "without a receipt".to_string(),
    };
    let mut lines = vec![
        Line::styled(
            format!(
                "Pay back {} {} {} for {} item{} {from}?",
                c.format(paid),
                c.code(),
                crate::tui::refund::tender_phrase(form.tender),
                r.units(),
                if r.units() == 1 { "" } else { "s" }
            ),
            theme.title(),
        ),
        Line::raw(""),
    ];
    for (i, l) in chosen.iter().take(LISTED) {
        let amount = amounts
            .get(*i)
            .copied()
            .flatten()
            .map(|a| c.format(a))
            .unwrap_or_default();
        let stock = if l.restock {
            "back to stock"
        } else {
            "DAMAGED (written off)"
        };
        let name: String = l.name.chars().take(24).collect();
        lines.push(Line::raw(format!(
            "{:>5} × {name:<24} {amount:>9}  {stock}",
            l.qty
        )));
    }
    if chosen.len() > LISTED {
        lines.push(Line::raw(format!(
            "        and {} more line{}",
            chosen.len() - LISTED,
            if chosen.len() - LISTED == 1 { "" } else { "s" }
        )));
    }
    if paid != total {
        lines.push(Line::styled(
            format!("        {} cash rounding", c.format(paid - total)),
            theme.dim(),
        ));
    }
    lines.push(Line::raw(""));
    let reason_row = lines.len();
    lines.push(reason_line(form.reason.value(), form.blind));
    lines.push(Line::raw(""));
    lines.push(keys_line(theme, "refund", "back to the lines"));
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = centered(area, 72, height);
    frame.render_widget(Clear, rect);
    let block = frame_block(" Refund · confirm ".into(), theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    frame.render_widget(Paragraph::new(lines), inner);
    let label = if form.blind {
        "▶Reason (required): "
    } else {
        "▶Reason: "
    };
    cursor(
        frame,
        inner,
        reason_row,
        label.chars().count() + form.reason.visual_cursor(),
    );
}

pub fn void(frame: &mut Frame, area: Rect, st: &State, form: &VoidForm, theme: Theme) {
    let c = st.currency();
    let v = &form.receipt;
    let items: i64 = v.lines.iter().map(|l| l.line.qty).sum();
    let mut lines = vec![
        Line::styled(
            format!(
                "Void sale {} of {}?",
                v.label(),
                st.short_time(&v.created_at)
            ),
            theme.title(),
        ),
        Line::raw(format!(
            "The whole sale is reversed: its {items} item{} go back to stock",
            if items == 1 { "" } else { "s" }
        )),
        Line::raw(format!(
            "and {} {} is paid back ({}).",
            c.format(v.paid_cents),
            c.code(),
            v.tender_words()
        )),
    ];
    lines.push(Line::raw("This cannot be undone."));
    lines.push(Line::raw(""));
    let reason_row = lines.len();
    lines.push(reason_line(form.reason.value(), true));
    lines.push(Line::raw(""));
    lines.push(keys_line(theme, "void the sale", "cancel"));
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = centered(area, 66, height);
    frame.render_widget(Clear, rect);
    let block = frame_block(format!(" Void sale {} ", v.label()), theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    frame.render_widget(Paragraph::new(lines), inner);
    cursor(
        frame,
        inner,
        reason_row,
        "▶Reason (required): ".chars().count() + form.reason.visual_cursor(),
    );
}
