//! Where each pane goes for a terminal size: pure, shared by rendering and by `update`
//! (which needs to know how many queue rows are visible to load just those).

use ratatui::layout::{Constraint, Layout, Rect};

use super::state::Focus;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// From this size on, the heartbeat gets its own panel with a sparkline.
const WIDE_WIDTH: u16 = 110;
const WIDE_HEIGHT: u16 = 30;
const SIDEBAR_WIDTH: u16 = 40;
const HEARTBEAT_HEIGHT: u16 = 12;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Screen {
    pub too_small: bool,
    pub header: Rect,
    /// One-line heartbeat under the header (narrow screens).
    pub strip: Option<Rect>,
    /// Heartbeat panel (wide screens).
    pub heartbeat: Option<Rect>,
    pub sales: Option<Rect>,
    pub queue: Option<Rect>,
    pub conflicts: Option<Rect>,
    pub flash: Rect,
    pub keys: Rect,
}

impl Screen {
    /// Queue rows that fit: the pane minus its borders and header row.
    pub fn queue_rows(&self) -> Option<usize> {
        self.queue
            .map(|r| usize::from(r.height.saturating_sub(3)).max(1))
    }
}

pub fn screen(area: Rect, focus: Focus, technician: bool) -> Screen {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return Screen {
            too_small: true,
            ..Screen::default()
        };
    }
    let wide = area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT;
    let [header, rest, flash, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut s = Screen {
        header,
        flash,
        keys,
        ..Screen::default()
    };
    let body = if wide {
        let [main, side] =
            Layout::horizontal([Constraint::Min(40), Constraint::Length(SIDEBAR_WIDTH)])
                .areas(rest);
        if focus == Focus::Sales {
            let [hb, q] =
                Layout::vertical([Constraint::Length(HEARTBEAT_HEIGHT), Constraint::Min(4)])
                    .areas(side);
            s.heartbeat = Some(hb);
            s.queue = Some(q);
        } else {
            s.heartbeat = Some(side);
        }
        main
    } else {
        let [strip, main] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(rest);
        s.strip = Some(strip);
        main
    };
    match focus {
        Focus::Sales => s.sales = Some(body),
        Focus::Queue | Focus::Conflicts if technician || body.height >= 30 => {
            let [q, c] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(body);
            s.queue = Some(q);
            s.conflicts = Some(c);
        }
        Focus::Queue => s.queue = Some(body),
        Focus::Conflicts => s.conflicts = Some(body),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_80x24_is_too_small() {
        assert!(screen(Rect::new(0, 0, 79, 24), Focus::Sales, false).too_small);
        assert!(screen(Rect::new(0, 0, 80, 23), Focus::Sales, false).too_small);
        assert!(!screen(Rect::new(0, 0, 80, 24), Focus::Sales, false).too_small);
    }

    #[test]
    fn technician_sees_queue_and_conflicts_together() {
        let s = screen(Rect::new(0, 0, 80, 24), Focus::Queue, true);
        assert!(s.queue.is_some() && s.conflicts.is_some());
        assert!(s.sales.is_none());
    }

    #[test]
    fn wide_screens_show_the_queue_beside_the_sale() {
        let s = screen(Rect::new(0, 0, 120, 40), Focus::Sales, false);
        assert!(s.sales.is_some() && s.queue.is_some() && s.heartbeat.is_some());
    }
}
