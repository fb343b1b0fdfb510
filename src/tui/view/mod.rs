//! Drawing: one function per pane, composed by [`draw`] from the pure layout.
//!
//! Renderers only read the state; everything they show is already in memory.

mod approval;
mod bars;
mod conflicts;
mod forms;
mod heartbeat;
pub(crate) mod login;
mod popup;
mod queue;
mod receipt;
mod refund;
mod sales;
mod shift;
pub mod theme;

use ratatui::layout::{Alignment, Constraint};
use ratatui::widgets::{Paragraph, Row, Table};
use ratatui::Frame;

use super::layout::{self, MIN_HEIGHT, MIN_WIDTH};
use super::state::{Focus, State};
use theme::Theme;

/// A table of lines to pick from: a dim header, the selected row reversed and marked `▶`.
fn pick_table<'a>(
    rows: impl IntoIterator<Item = Row<'a>>,
    widths: impl IntoIterator<Item = Constraint>,
    header: Row<'a>,
    theme: Theme,
) -> Table<'a> {
    Table::new(rows, widths)
        .header(header.style(theme.dim()))
        .row_highlight_style(theme.selected())
        .highlight_symbol("▶")
}

/// Draws the whole screen for `st`.
pub fn draw(frame: &mut Frame, st: &State) {
    let area = frame.area();
    let screen = layout::screen(area, st.focus, st.settings.technician);
    let theme = Theme {
        color: st.settings.color,
    };
    if screen.too_small {
        let text = format!(
            "terminal too small: {}x{}, kassa needs at least {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text)
                .alignment(Alignment::Center)
                .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    bars::header(frame, screen.header, st, theme);
    if let Some(gate) = st.staff.as_ref().filter(|g| g.locked()) {
        // Locked: nothing of the till's work is shown until someone logs in.
        let top = screen.header.bottom();
        let body =
            ratatui::layout::Rect::new(area.x, top, area.width, screen.flash.y.saturating_sub(top));
        login::draw(frame, body, st, gate, theme);
        bars::flash(frame, screen.flash, st, theme);
        bars::keys(frame, screen.keys, st, theme);
        popup::draw(frame, area, st, theme);
        return;
    }
    if let Some(r) = screen.strip {
        heartbeat::strip(frame, r, st, theme);
    }
    if let Some(r) = screen.heartbeat {
        heartbeat::panel(frame, r, st, theme);
    }
    if let Some(r) = screen.sales {
        match &st.refund {
            Some(refund) => refund::draw(frame, r, st, refund, theme),
            None => sales::draw(frame, r, st, theme),
        }
    }
    if let Some(r) = screen.queue {
        queue::draw(frame, r, st, theme, st.focus == Focus::Queue);
    }
    if let Some(r) = screen.conflicts {
        conflicts::draw(frame, r, st, theme, st.focus == Focus::Conflicts);
    }
    bars::flash(frame, screen.flash, st, theme);
    bars::keys(frame, screen.keys, st, theme);
    popup::draw(frame, area, st, theme);
}
