//! Wall-clock time, injectable so tests can move it forward (TOTP steps, session expiry).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// System time plus an offset that only tests change.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        system + self.offset_seconds.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// Formats Unix seconds as RFC 3339 in UTC, e.g. `2026-11-23T18:00:00Z`.
pub fn rfc3339(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Formats Unix seconds for people: `2026-11-23 18:00 UTC`.
pub fn human(unix_seconds: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Reads RFC 3339, or Python's `isoformat()` without an offset (taken as UTC), as the old
/// app wrote them: `2025-06-03T09:00:00+00:00`, `2025-06-03T09:00:00.123456`.
/// Only times that [`rfc3339`] can show (years 0000..=9999 in UTC) are returned: a signed
/// year (`-0001-…`) or an offset that crosses those bounds is refused.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let naive = time::macros::format_description!(
        version = 2,
        "[year]-[month]-[day][first [T][ ]][hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    OffsetDateTime::parse(text, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .or_else(|_| {
            time::PrimitiveDateTime::parse(text, &naive).map(|t| t.assume_utc().unix_timestamp())
        })
        .ok()
        .filter(|&t| !rfc3339(t).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_in_utc() {
        assert_eq!(rfc3339(1_795_456_800), "2026-11-23T18:00:00Z");
        assert_eq!(human(1_795_456_800), "2026-11-23 18:00 UTC");
    }

    #[test]
    fn advance_moves_every_clone() {
        let clock = Clock::default();
        let other = clock.clone();
        let before = other.now();
        clock.advance(3600);
        assert!(other.now() >= before + 3600);
    }

    #[test]
    fn parses_rfc3339_and_python_isoformat() {
        assert_eq!(
            parse_timestamp("2025-06-03T09:00:00+00:00"),
            Some(1_748_941_200)
        );
        assert_eq!(
            parse_timestamp("2025-06-03T11:00:00+02:00"),
            Some(1_748_941_200)
        );
        assert_eq!(parse_timestamp("2025-06-03T09:00:00Z"), Some(1_748_941_200));
        assert_eq!(
            parse_timestamp("2025-06-03T09:00:00.123456"),
            Some(1_748_941_200)
        );
        assert_eq!(parse_timestamp("2025-06-03 09:00:00"), Some(1_748_941_200));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
