//! The live queue pane: a window over the outbox, newest first.
//!
//! Only the visible rows are held and read: moving the selection past the window asks the
//! store for the new window (`queue_window`) and nothing else.

use super::action::Command;
use super::keymap::KeyCmd;
use super::model::{QueueFilterView, QueueItem};
use super::state::{FlashLevel, State};
use crate::domain::OpState;

#[derive(Debug, Clone)]
pub struct QueueState {
    pub filter: QueueFilterView,
    /// Rows matching the filter, in the whole outbox.
    pub total: usize,
    /// Absolute index of the selected row (0 = newest).
    pub selected: usize,
    /// Absolute index of the first visible row.
    pub top: usize,
    /// The loaded window: rows `rows_offset ..` of the filtered outbox.
    pub rows: Vec<QueueItem>,
    pub rows_offset: usize,
    /// How many rows fit on screen (from the layout).
    pub page: usize,
    pub loaded: bool,
}

impl Default for QueueState {
    fn default() -> Self {
        QueueState {
            filter: QueueFilterView::All,
            total: 0,
            selected: 0,
            top: 0,
            rows: Vec::new(),
            rows_offset: 0,
            page: 10,
            loaded: false,
        }
    }
}

impl QueueState {
    /// The command that loads exactly what is visible.
    pub fn load(&self) -> Command {
        Command::LoadQueue {
            filter: self.filter,
            offset: self.top,
            limit: self.page.max(1),
        }
    }

    pub fn selected_row(&self) -> Option<&QueueItem> {
        self.selected
            .checked_sub(self.rows_offset)
            .and_then(|i| self.rows.get(i))
    }

    /// Visible rows with their absolute index.
    pub fn visible(&self) -> impl Iterator<Item = (usize, &QueueItem)> {
        let page = self.page;
        let top = self.top;
        self.rows
            .iter()
            .enumerate()
            .map(move |(i, r)| (i + self.rows_offset, r))
            .filter(move |(i, _)| *i >= top && *i < top + page)
    }

    fn window_loaded(&self) -> bool {
        let want_end = (self.top + self.page).min(self.total);
        self.top >= self.rows_offset && want_end <= self.rows_offset + self.rows.len()
    }

    /// Moves the selection and the window; returns a load when the window is not in memory.
    fn select(&mut self, to: usize) -> Vec<Command> {
        let last = self.total.saturating_sub(1);
        self.selected = to.min(last);
        let page = self.page.max(1);
        if self.selected < self.top {
            self.top = self.selected;
        } else if self.selected >= self.top + page {
            self.top = self.selected + 1 - page;
        }
        if self.window_loaded() {
            Vec::new()
        } else {
            vec![self.load()]
        }
    }

    /// A new page size from the layout; reloads if that shows rows not in memory.
    pub fn set_page(&mut self, page: usize) -> Vec<Command> {
        if page == self.page {
            return Vec::new();
        }
        self.page = page.max(1);
        let selected = self.selected;
        if self.loaded {
            self.select(selected)
        } else {
            Vec::new()
        }
    }
}

pub fn on_key(st: &mut State, cmd: Option<KeyCmd>) -> Vec<Command> {
    let q = &mut st.queue;
    let page = q.page.max(1);
    match cmd {
        Some(KeyCmd::Up) => q.select(q.selected.saturating_sub(1)),
        Some(KeyCmd::Down) => q.select(q.selected + 1),
        Some(KeyCmd::PageUp) => q.select(q.selected.saturating_sub(page)),
        Some(KeyCmd::PageDown) => q.select(q.selected + page),
        Some(KeyCmd::Home) => q.select(0),
        Some(KeyCmd::End) => q.select(q.total.saturating_sub(1)),
        Some(KeyCmd::Filter) => {
            q.filter = q.filter.next();
            q.selected = 0;
            q.top = 0;
            q.rows.clear();
            vec![q.load()]
        }
        Some(KeyCmd::Detail) => match q.selected_row() {
            Some(row) => vec![Command::LoadOpDetail { seq: row.seq }],
            None => Vec::new(),
        },
        Some(KeyCmd::Retry) => retry_selected(st),
        Some(KeyCmd::VoidCompleted) => super::void::start_from_queue(st),
        _ => Vec::new(),
    }
}

/// Re-queues the selected op if it was rejected (quarantined).
pub fn retry_selected(st: &mut State) -> Vec<Command> {
    let seq = match &st.popup {
        Some(super::state::Popup::OpDetail { detail, .. }) => Some(&detail.item),
        _ => st.queue.selected_row(),
    }
    .map(|r| (r.seq, r.state));
    match seq {
        Some((seq, OpState::Rejected)) => vec![Command::RetryOp { seq }],
        Some((seq, state)) => {
            st.flash(
                FlashLevel::Error,
                format!(
                    "#{seq} is {}: only rejected ops are retried",
                    state.as_str()
                ),
            );
            Vec::new()
        }
        None => Vec::new(),
    }
}

pub fn on_loaded(
    st: &mut State,
    filter: QueueFilterView,
    offset: usize,
    total: usize,
    rows: Vec<QueueItem>,
) -> Vec<Command> {
    let q = &mut st.queue;
    if filter != q.filter {
        return Vec::new();
    }
    q.loaded = true;
    q.total = total;
    q.rows = rows;
    q.rows_offset = offset;
    if total == 0 {
        q.selected = 0;
        q.top = 0;
        return Vec::new();
    }
    if q.selected >= total {
        // The outbox shrank under us (filter changed state): clamp and fetch what is visible.
        let sel = total - 1;
        return q.select(sel);
    }
    Vec::new()
}

pub fn on_retried(st: &mut State, seq: i64, requeued: bool) -> Vec<Command> {
    if requeued {
        st.flash(
            FlashLevel::Success,
            format!("#{seq} re-queued for the next push"),
        );
    } else {
        st.flash(
            FlashLevel::Error,
            format!("#{seq} was not rejected: nothing to retry"),
        );
    }
    if let Some(super::state::Popup::OpDetail { .. }) = st.popup {
        st.popup = None;
    }
    vec![st.queue.load(), Command::LoadStatus]
}
