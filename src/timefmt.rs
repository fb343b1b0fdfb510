//! Times for people. The store, the protocol and every `--json` output keep UTC (RFC 3339
//! with `Z`); what a cashier or a technician reads is in the till's time zone, short enough
//! for 80 columns:
//!
//! - [`Zone::short`]: `HH:MM:SS` on the same local day as now, else `YYYY-MM-DD HH:MM`;
//! - [`Zone::full`]: `YYYY-MM-DD HH:MM:SS ±HH:MM`, where there is room (the op detail).
//!
//! A stored time that does not parse is shown as it is. The formatting itself is pure
//! ([`short_in`], [`full_in`] on fixed offsets); only [`Zone::Local`] asks the system which
//! zone it is in (chrono's `Local`, which follows `TZ`).

use chrono::{DateTime, FixedOffset, Local, Offset, Utc};

/// Where the person reading is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// The system's zone (`TZ`, else `/etc/localtime`), daylight saving included.
    #[default]
    Local,
    /// A fixed offset from UTC: tests, and anything that must not depend on the machine.
    Fixed(FixedOffset),
}

impl Zone {
    /// UTC as a fixed zone.
    pub fn utc() -> Zone {
        Zone::Fixed(Utc.fix())
    }

    /// The offset from UTC in this zone at the instant `t`.
    pub fn offset_at(self, t: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Local => t.with_timezone(&Local).offset().fix(),
            Zone::Fixed(offset) => offset,
        }
    }

    fn local(self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.offset_at(t))
    }

    /// `t` for a table or a status line; see [`short_in`].
    pub fn short(self, t: DateTime<Utc>, now: DateTime<Utc>) -> String {
        short_in(self.local(t), self.local(now))
    }

    /// `t` with date, seconds and offset; see [`full_in`].
    pub fn full(self, t: DateTime<Utc>) -> String {
        full_in(self.local(t))
    }

    /// A stored RFC 3339 time, short; unchanged when it does not parse.
    pub fn short_text(self, stored: &str, now: DateTime<Utc>) -> String {
        parse(stored).map_or_else(|| stored.to_string(), |t| self.short(t, now))
    }

    /// A stored RFC 3339 time, in full; unchanged when it does not parse.
    pub fn full_text(self, stored: &str) -> String {
        parse(stored).map_or_else(|| stored.to_string(), |t| self.full(t))
    }
}

/// Parses a stored RFC 3339 time.
pub fn parse(stored: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(stored)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `HH:MM:SS` when `t` falls on the same calendar day as `now` (both already in the reader's
/// zone), otherwise `YYYY-MM-DD HH:MM`.
pub fn short_in(t: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// `YYYY-MM-DD HH:MM:SS ±HH:MM`.
pub fn full_in(t: DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%d %H:%M:%S %:z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        parse(text).expect("a valid time")
    }

    fn east(hours: i32) -> Zone {
        Zone::Fixed(FixedOffset::east_opt(hours * 3600).expect("a valid offset"))
    }

    #[test]
    fn today_is_a_clock_time_in_the_readers_zone() {
        let now = utc("2026-11-28T17:30:00Z");
        let t = utc("2026-11-28T17:00:42.000Z");
        assert_eq!(Zone::utc().short(t, now), "17:00:42");
        assert_eq!(east(3).short(t, now), "20:00:42");
        assert_eq!(east(-5).short(t, now), "12:00:42");
    }

    #[test]
    fn another_day_carries_its_date_and_drops_the_seconds() {
        let now = utc("2026-11-28T17:30:00Z");
        assert_eq!(
            Zone::utc().short(utc("2026-11-27T23:59:59Z"), now),
            "2026-11-27 23:59"
        );
        assert_eq!(
            Zone::utc().short(utc("2025-11-28T17:00:00Z"), now),
            "2025-11-28 17:00"
        );
    }

    #[test]
    fn the_day_is_the_readers_day_not_utcs() {
        // 22:30 UTC on the 28th is 01:30 on the 29th at +03:00: not "today" when it is
        // 17:30 UTC (20:30 local) on the 28th, and "today" once it is the 29th locally.
        let t = utc("2026-11-28T22:30:00Z");
        assert_eq!(
            east(3).short(t, utc("2026-11-28T17:30:00Z")),
            "2026-11-29 01:30"
        );
        assert_eq!(east(3).short(t, utc("2026-11-28T21:00:00Z")), "01:30:00");
        assert_eq!(
            Zone::utc().short(t, utc("2026-11-28T21:00:00Z")),
            "22:30:00"
        );
    }

    #[test]
    fn full_form_has_date_seconds_and_offset() {
        let t = utc("2026-11-28T17:00:42.123Z");
        assert_eq!(east(3).full(t), "2026-11-28 20:00:42 +03:00");
        assert_eq!(Zone::utc().full(t), "2026-11-28 17:00:42 +00:00");
        let half = Zone::Fixed(FixedOffset::west_opt(3 * 3600 + 1800).expect("offset"));
        assert_eq!(half.full(t), "2026-11-28 13:30:42 -03:30");
    }

    #[test]
    fn stored_text_in_other_offsets_is_read_as_the_same_instant() {
        let now = utc("2026-11-28T17:30:00Z");
        assert_eq!(
            east(3).short_text("2026-11-28T18:00:42+01:00", now),
            "20:00:42"
        );
        assert_eq!(
            east(3).full_text("2026-11-28T17:00:42Z"),
            "2026-11-28 20:00:42 +03:00"
        );
    }

    #[test]
    fn unparseable_stored_times_are_shown_as_they_are() {
        let now = utc("2026-11-28T17:30:00Z");
        for text in ["", "yesterday", "2026-11-28 17:00", "2026-13-45T99:00:00Z"] {
            assert_eq!(east(3).short_text(text, now), text);
            assert_eq!(east(3).full_text(text), text);
        }
    }

    #[test]
    fn the_local_zone_gives_an_offset_without_panicking() {
        let t = utc("2026-11-28T17:00:42Z");
        let offset = Zone::Local.offset_at(t);
        assert!(offset.local_minus_utc().abs() <= 26 * 3600);
        assert_eq!(Zone::Local.short(t, t).len(), "17:00:42".len());
    }
}
