//! The heartbeat: a one-line strip on small screens, a panel with a sparkline on large ones.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};
use ratatui::Frame;

use super::theme::Theme;
use crate::tui::heartbeat::{human_age, human_skew, Connectivity};
use crate::tui::state::State;

fn connectivity_span(st: &State, theme: Theme) -> Span<'static> {
    let sync = &st.heartbeat.sync;
    let c = sync.connectivity;
    let mut text = format!("{} {}", c.symbol(), c.words());
    match c {
        Connectivity::Online | Connectivity::Degraded => {
            if let Some(ms) = sync.latency_ms {
                text.push_str(&format!(" {ms} ms"));
            }
        }
        Connectivity::Offline => {
            if let Some(since) = sync.offline_since {
                text.push_str(&format!(
                    " for {}",
                    human_age((st.now - since).num_seconds())
                ));
            }
        }
        _ => {}
    }
    let style = match c {
        Connectivity::Online => theme.good(),
        Connectivity::Degraded | Connectivity::Connecting => theme.warn(),
        Connectivity::NotConfigured => theme.dim(),
        _ => theme.bad(),
    };
    Span::styled(text, style)
}

fn pending_text(st: &State) -> String {
    let hb = &st.heartbeat;
    match hb.oldest_pending_age_s(st.now) {
        Some(age) if hb.local.pending > 0 => {
            format!("{} pending, oldest {}", hb.local.pending, human_age(age))
        }
        _ => format!("{} pending", hb.local.pending),
    }
}

fn last_sync_text(st: &State) -> String {
    match st.heartbeat.last_sync_at() {
        Some(t) => format!("synced {} ago", human_age((st.now - t).num_seconds())),
        None => "never synced".to_string(),
    }
}

/// `catalog: 3 skipped` while server products are left out of the catalog.
fn skipped_text(st: &State) -> Option<String> {
    let n = st.heartbeat.local.skipped_products;
    (n > 0).then(|| format!("catalog: {n} skipped"))
}

/// `receipts: 2 not printed` while prints have failed (Ctrl-P prints them again).
fn not_printed_text(st: &State) -> Option<String> {
    let n = st.heartbeat.local.print_failures;
    (n > 0).then(|| format!("✗ receipts: {n} not printed (C-p)"))
}

/// One line: connectivity, queue, problems, last sync, skew; a sparkline if room is left.
/// What does not fit is left out whole rather than cut off, the least needed first: the
/// skew, then the last sync (connectivity says whether the till is in touch); connectivity,
/// the queue and the problems always stay.
pub fn strip(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    let hb = &st.heartbeat;
    let mut spans = vec![
        Span::raw(" "),
        connectivity_span(st, theme),
        Span::raw(format!(" │ {}", pending_text(st))),
    ];
    if hb.local.rejected > 0 {
        spans.push(Span::styled(
            format!(" │ ✗ {} rejected", hb.local.rejected),
            theme.bad(),
        ));
    }
    if let Some(text) = skipped_text(st) {
        spans.push(Span::styled(format!(" │ {text}"), theme.warn()));
    }
    if let Some(text) = not_printed_text(st) {
        spans.push(Span::styled(format!(" │ {text}"), theme.bad()));
    }
    let mut optional = vec![Span::raw(format!(" │ {}", last_sync_text(st)))];
    if let Some(skew) = hb.sync.skew_ms {
        optional.push(Span::raw(format!(" │ skew {}", human_skew(skew))));
    }
    let width = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    let fixed = width(&spans);
    let available = usize::from(area.width);
    let wanted = optional.len();
    while !optional.is_empty() && fixed + width(&optional) > available {
        optional.pop();
    }
    let dropped = optional.len() < wanted;
    spans.extend(optional);
    let line = Line::from(spans);
    let used = u16::try_from(line.width()).unwrap_or(u16::MAX);
    frame.render_widget(Paragraph::new(line), area);
    let room = area.width.saturating_sub(used.saturating_add(3));
    if room >= 12 && !dropped {
        let (_, data) = hb.spark();
        let width = usize::from(room.min(30));
        let data: Vec<u64> = data.iter().rev().take(width).rev().copied().collect();
        let spark_area = Rect::new(area.x + used + 2, area.y, room.min(30), 1);
        frame.render_widget(
            Sparkline::default().data(&data).style(theme.key()),
            spark_area,
        );
    }
}

/// The full panel: every field on its own line, the last error, and a sparkline.
pub fn panel(frame: &mut Frame, area: Rect, st: &State, theme: Theme) {
    let hb = &st.heartbeat;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(false))
        .title(Span::styled(" Heartbeat ", theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let latency = match hb.sync.latency_ms {
        Some(ms) => format!("{ms} ms"),
        None => "–".to_string(),
    };
    let skew = hb
        .sync
        .skew_ms
        .map(human_skew)
        .unwrap_or_else(|| "–".to_string());
    let mut lines = vec![
        Line::from(vec![Span::raw("Link     "), connectivity_span(st, theme)]),
        Line::raw(format!("Latency  {latency}")),
        Line::raw(format!("Queue    {}", pending_text(st))),
        Line::raw(format!("Sync     {}", last_sync_text(st))),
        Line::raw(format!("Skew     {skew}")),
    ];
    let problems = format!(
        "Rejected {} · conflicts {}",
        hb.local.rejected, hb.local.conflicts_open
    );
    lines.push(if hb.local.rejected > 0 || hb.local.conflicts_open > 0 {
        Line::from(Span::styled(format!("✗ {problems}"), theme.bad()))
    } else {
        Line::raw(problems)
    });
    if let Some(text) = skipped_text(st) {
        lines.push(Line::from(Span::styled(
            format!("{text} (kassa doctor)"),
            theme.warn(),
        )));
    }
    if let Some(text) = not_printed_text(st) {
        let last = hb.local.last_print_failure.as_deref().unwrap_or_default();
        lines.push(Line::from(Span::styled(
            format!("{text} {last}"),
            theme.bad(),
        )));
    }
    if let Some(pid) = hb.sync.other_syncer_pid {
        lines.push(Line::raw(format!("Syncer   process {pid} (not this one)")));
    }
    if let Some(err) = hb.last_error() {
        lines.push(Line::from(Span::styled(
            format!("Error    {err}"),
            theme.warn(),
        )));
    }
    // The sparkline takes the last three rows, unless the lines need them.
    let needed = u16::try_from(lines.len()).unwrap_or(u16::MAX).max(7);
    let spark_rows = if inner.height >= needed.saturating_add(3) {
        3
    } else {
        0
    };
    let [text_area, spark_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(spark_rows)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), text_area);
    if spark_rows == 0 {
        return;
    }
    let (label, data) = hb.spark();
    let width = usize::from(spark_area.width.saturating_sub(2));
    let data: Vec<u64> = data.iter().rev().take(width).rev().copied().collect();
    let spark = Sparkline::default()
        .block(
            Block::default()
                .borders(Borders::TOP)
                .title(format!(" {label} ")),
        )
        .data(&data)
        .style(theme.key());
    frame.render_widget(spark, spark_area);
}
