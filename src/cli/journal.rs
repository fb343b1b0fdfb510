//! Logging under systemd: when standard error is the journal, log lines go there.
//!
//! systemd sets `JOURNAL_STREAM=<device>:<inode>` for a service whose stdout or stderr is
//! connected to the journal; it is only trusted when it names the stream on fd 2 (a child
//! that inherited the variable but writes elsewhere keeps logging to its file). Lines carry
//! the `<N>` priority prefix that the journal reads (sd-daemon(3)) and no time stamp (the
//! journal keeps its own). Same events and fields as the file log: tokens are never logged.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// True when fd 2 is the stream that `JOURNAL_STREAM` names.
pub fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    names_stderr(&value, std::fs::metadata("/proc/self/fd/2").ok().as_ref())
}

fn names_stderr(value: &str, stderr: Option<&std::fs::Metadata>) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Some((dev, ino)) = value.split_once(':') else {
            return false;
        };
        match (dev.parse::<u64>(), ino.parse::<u64>(), stderr) {
            (Ok(d), Ok(i), Some(m)) => m.dev() == d && m.ino() == i,
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (value, stderr);
        false
    }
}

/// Starts logging to standard error in the journal's line format.
pub fn init() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(super::context::log_filter())
        .event_format(JournalLine)
        .try_init()
        .ok()?;
    Some(guard)
}

/// `<prio>target: message field=value`.
struct JournalLine;

/// The syslog priority the journal reads from a line's `<N>` prefix.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

impl<S, N> FormatEvent<S, N> for JournalLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "<{}>{}: ", priority(meta.level()), meta.target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_counts_only_when_it_names_this_stream() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"").unwrap();
        let m = std::fs::metadata(&f).unwrap();
        let mine = format!("{}:{}", m.dev(), m.ino());
        assert!(names_stderr(&mine, Some(&m)));
        assert!(!names_stderr(
            &format!("{}:{}", m.dev(), m.ino() + 1),
            Some(&m)
        ));
        assert!(!names_stderr("garbage", Some(&m)));
        assert!(!names_stderr(&mine, None));
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
    }
}
