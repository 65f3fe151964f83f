//! Instants as custody stores them: signed nanoseconds since the Unix epoch, UTC.
//!
//! This module owns the one conversion between the RFC 3339 text that records carry in JSON and the
//! 64-bit integer that the canonical bytes carry (`docs/FORMAT.md`, "Times"). It knows nothing of
//! records or entries.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// The earliest instant custody accepts: 1970-01-01T00:00:00Z.
pub const MIN_NANOS: i64 = 0;
/// The latest instant custody accepts: 2200-01-01T00:00:00Z (well inside the i64 nanosecond range).
pub const MAX_NANOS: i64 = 7_258_118_400 * 1_000_000_000;

/// A UTC instant with nanosecond precision, stored as nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a time string or number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not an RFC 3339 time (expected e.g. 2026-03-02T10:05:00Z)")]
    Malformed(String),
    #[error("`{0}` is outside the range custody accepts (1970-01-01 to 2200-01-01)")]
    OutOfRange(String),
}

impl Timestamp {
    /// Builds a timestamp from nanoseconds since the epoch, refusing values outside
    /// [`MIN_NANOS`, `MAX_NANOS`].
    pub fn from_nanos(nanos: i64) -> Result<Self, TimeError> {
        if (MIN_NANOS..=MAX_NANOS).contains(&nanos) {
            Ok(Timestamp(nanos))
        } else {
            Err(TimeError::OutOfRange(nanos.to_string()))
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub fn nanos(self) -> i64 {
        self.0
    }

    /// The current time of this machine's clock.
    pub fn now() -> Self {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or(MAX_NANOS);
        Timestamp(nanos.clamp(MIN_NANOS, MAX_NANOS))
    }

    /// Parses RFC 3339 text (any offset; stored as the same instant in UTC).
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let dt = DateTime::parse_from_rfc3339(text.trim()).map_err(|_| TimeError::Malformed(text.to_string()))?;
        let nanos =
            dt.with_timezone(&Utc).timestamp_nanos_opt().ok_or_else(|| TimeError::OutOfRange(text.to_string()))?;
        Self::from_nanos(nanos).map_err(|_| TimeError::OutOfRange(text.to_string()))
    }

    /// Milliseconds since the epoch, as some audit logs write times.
    pub fn from_millis(ms: i64) -> Result<Self, TimeError> {
        ms.checked_mul(1_000_000).ok_or_else(|| TimeError::OutOfRange(ms.to_string())).and_then(Self::from_nanos)
    }

    /// Whole seconds since the epoch (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Milliseconds since the epoch (rounded down).
    pub fn unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// The RFC 3339 form in UTC with `Z`, with as many fraction digits as needed (0, 3, 6 or 9).
    pub fn to_rfc3339(self) -> String {
        Utc.timestamp_nanos(self.0).to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// Adds a duration in nanoseconds, saturating at the accepted range.
    pub fn saturating_add_nanos(self, nanos: i64) -> Self {
        Timestamp(self.0.saturating_add(nanos).clamp(MIN_NANOS, MAX_NANOS))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Parses a duration such as `90d`, `12h`, `30m`, `45s`, `2w` or `7y` (365-day years) into
/// nanoseconds. Used by retention and drift windows.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration `{text}` has no unit (use s, m, h, d, w or y)"))?;
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().map_err(|_| format!("duration `{text}` does not start with a whole number"))?;
    let secs: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(format!("duration `{text}` has unknown unit `{unit}` (use s, m, h, d, w or y)")),
    };
    n.checked_mul(secs)
        .and_then(|s| s.checked_mul(1_000_000_000))
        .ok_or_else(|| format!("duration `{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_normalises_offsets() {
        let t = Timestamp::parse("2026-03-02T11:05:00+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-02T10:05:00Z");
        let t = Timestamp::parse("2026-03-02T10:05:00.123456789Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-02T10:05:00.123456789Z");
        assert_eq!(Timestamp::parse(&t.to_rfc3339()).unwrap(), t);
    }

    #[test]
    fn refuses_malformed_and_out_of_range() {
        assert!(matches!(Timestamp::parse("yesterday"), Err(TimeError::Malformed(_))));
        assert!(matches!(Timestamp::parse("2026-03-02 10:05:00"), Err(TimeError::Malformed(_))));
        assert!(matches!(Timestamp::parse("1969-12-31T23:59:59Z"), Err(TimeError::OutOfRange(_))));
        assert!(matches!(Timestamp::parse("2300-01-01T00:00:00Z"), Err(TimeError::OutOfRange(_))));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2d").unwrap(), 2 * 86_400 * 1_000_000_000);
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3x").is_err());
    }
}
