//! The shift popups: opening float, the shift menu, paid-in/out, the blind count, the close's
//! expected vs counted, and the X report. The blind count shows nothing of what is expected.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::popup::{centered, frame_block};
use super::theme::Theme;
use crate::domain::Currency;
use crate::tui::model::{ShiftClosedView, ShiftTotalsView};
use crate::tui::shift::{DrawerCount, ShiftForm, DENOMINATIONS};
use crate::tui::state::State;

fn boxed(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>, theme: Theme) {
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let r = centered(area, 60, height);
    frame.render_widget(Clear, r);
    let block = frame_block(format!(" {title} "), theme);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn row(label: &str, value: String) -> Line<'static> {
    Line::raw(format!("  {label:<28}{value:>14}"))
}

pub fn draw(frame: &mut Frame, area: Rect, st: &State, form: &ShiftForm, theme: Theme) {
    let c = st.currency();
    match form {
        ShiftForm::Open { float } => boxed(
            frame,
            area,
            "Open a shift",
            vec![
                Line::raw(""),
                Line::raw("  No shift is open: count the cash in the drawer."),
                Line::raw(""),
                Line::raw(format!("▶ Opening float counted: {}", float.0.value())),
                Line::raw(""),
                Line::styled("  Enter opens the shift · Esc not now", theme.dim()),
            ],
            theme,
        ),
        ShiftForm::Menu => {
            let mut lines = vec![Line::raw("")];
            if let Some(s) = st.staff.as_ref().and_then(|g| g.shift.as_ref()) {
                lines.push(Line::raw(format!(
                    "  Open since {} by {} · float {}",
                    st.settings.zone.short(s.opened_at, st.now),
                    s.staff_name,
                    c.format(s.float_cents)
                )));
                lines.push(Line::raw(""));
            }
            for (k, what) in [
                ("c", "close the shift (blind count)"),
                ("i", "paid-in"),
                ("o", "paid-out"),
                ("n", "no-sale (drawer opened, no sale)"),
                ("x", "X report (totals so far)"),
            ] {
                lines.push(Line::from(vec![
                    Span::styled(format!("  {k} "), theme.key()),
                    Span::raw(what),
                ]));
            }
            boxed(frame, area, "Shift", lines, theme);
        }
        ShiftForm::Cash {
            kind,
            amount,
            reason,
            on_reason,
        } => {
            let (ma, mr) = if *on_reason {
                (" ", "▶")
            } else {
                ("▶", " ")
            };
            boxed(
                frame,
                area,
                &format!("Cash {}", kind.label()),
                vec![
                    Line::raw(""),
                    Line::raw(format!("{ma} Amount: {}", amount.0.value())),
                    Line::raw(format!("{mr} Reason (required): {}", reason.0.value())),
                    Line::raw(""),
                    Line::styled(
                        "  Enter next / record · Tab field · Esc cancel",
                        theme.dim(),
                    ),
                ],
                theme,
            );
        }
        ShiftForm::Count(count) => count_box(frame, area, c, count, theme),
        ShiftForm::Closing => boxed(
            frame,
            area,
            "Close the shift",
            vec![Line::raw(""), Line::raw("  closing the shift…")],
            theme,
        ),
        ShiftForm::Closed(closed) => closed_box(frame, area, c, closed, theme),
        ShiftForm::Report(None) => boxed(
            frame,
            area,
            "X report",
            vec![Line::raw(""), Line::raw("  adding up the shift…")],
            theme,
        ),
        ShiftForm::Report(Some(t)) => report_box(frame, area, c, t, theme),
    }
}

fn count_box(frame: &mut Frame, area: Rect, c: Currency, count: &DrawerCount, theme: Theme) {
    let mut lines = vec![
        Line::raw("  Count the cash in the drawer (blind: what the"),
        Line::raw("  till expects is shown after the close)."),
        Line::raw(""),
    ];
    match &count.by_denomination {
        None => {
            lines.push(Line::raw(format!(
                "▶ Counted cash: {}",
                count.total.value()
            )));
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                "  Tab: count by note and coin instead",
                theme.dim(),
            ));
        }
        Some(counts) => {
            // A window of rows around the selected denomination.
            let room = usize::from(area.height.saturating_sub(10)).clamp(3, DENOMINATIONS.len());
            let first = count
                .selected
                .saturating_sub(room / 2)
                .min(DENOMINATIONS.len() - room);
            for (i, (n, d)) in counts
                .iter()
                .zip(DENOMINATIONS)
                .enumerate()
                .skip(first)
                .take(room)
            {
                let mark = if i == count.selected { "▶" } else { " " };
                let text = format!(
                    "{mark} {:>10} × {:<6} = {:>12}",
                    c.format(d),
                    n,
                    c.format(n.saturating_mul(d))
                );
                let style = if i == count.selected {
                    theme.selected()
                } else {
                    ratatui::style::Style::default()
                };
                lines.push(Line::styled(text, style));
            }
            let total = count.counted(c).map_or_else(|e| e, |v| c.format(v));
            lines.push(Line::raw(format!("  Counted cash: {total}")));
        }
    }
    boxed(frame, area, "Close the shift · blind count", lines, theme);
}

fn closed_box(frame: &mut Frame, area: Rect, c: Currency, s: &ShiftClosedView, theme: Theme) {
    let verdict = match s.over_short_cents {
        0 => Line::styled("  The drawer is right.", theme.good()),
        v if v > 0 => Line::styled(format!("  OVER by {}", c.format(v)), theme.warn()),
        v => Line::styled(
            format!("  SHORT by {}", c.format(v.saturating_neg())),
            theme.bad(),
        ),
    };
    boxed(
        frame,
        area,
        "Shift closed",
        vec![
            Line::raw(""),
            row("Expected in the drawer", c.format(s.expected_cents)),
            row("Counted", c.format(s.counted_cents)),
            row("Over (+) / short (−)", signed(c, s.over_short_cents)),
            Line::raw(""),
            verdict,
            Line::raw(""),
            Line::styled("  Esc closes", theme.dim()),
        ],
        theme,
    );
}

fn signed(c: Currency, v: i64) -> String {
    if v > 0 {
        format!("+{}", c.format(v))
    } else if v < 0 {
        format!("−{}", c.format(v.saturating_neg()))
    } else {
        c.format(0)
    }
}

fn report_box(frame: &mut Frame, area: Rect, c: Currency, t: &ShiftTotalsView, theme: Theme) {
    boxed(
        frame,
        area,
        "X report · totals so far (nothing reset)",
        vec![
            Line::raw(""),
            row("Opening float", c.format(t.float_cents)),
            row(&format!("Sales ({})", t.sales), String::new()),
            row("  cash", c.format(t.cash_sales_cents)),
            row("  card", c.format(t.card_sales_cents)),
            row(&format!("Refunds ({})", t.refunds), String::new()),
            row("  cash", c.format(t.cash_refunds_cents)),
            row("  card", c.format(t.card_refunds_cents)),
            row(
                &format!("Voids ({}), cash back", t.voids),
                c.format(t.cash_voids_cents),
            ),
            row("Paid-in", c.format(t.paid_in_cents)),
            row("Paid-out", c.format(t.paid_out_cents)),
            row("No-sale openings", t.no_sales.to_string()),
            row(
                "Expected cash in the drawer",
                c.format(t.expected_cash_cents),
            ),
            Line::raw(""),
            Line::styled("  Esc closes", theme.dim()),
        ],
        theme,
    );
}
