//! Time step: normalises the time forms found in audit logs (RFC 3339 with any offset or precision,
//! Panther's `2022-03-22 14:21:53.225`, zone-less ISO 8601, epoch milliseconds) to RFC 3339 UTC.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Earliest instant custody accepts (1970-01-01T00:00:00Z), in milliseconds.
const MIN_MS: i64 = 0;
/// Latest instant custody accepts (2200-01-01T00:00:00Z), in milliseconds.
const MAX_MS: i64 = 7_258_118_400_000;

/// Numbers at or above this are epoch milliseconds; below it, epoch seconds (1e11 ms is 1973).
const MS_THRESHOLD: f64 = 1e11;

/// Normalises a JSON time value to RFC 3339 UTC (`Z`, 0/3/6/9 fraction digits), or `None` when it
/// is absent, unparsable or outside 1970..2200.
pub(crate) fn normalize(v: &Value) -> Option<String> {
    let dt = match v {
        Value::Number(n) => from_number(n.as_f64()?),
        Value::String(s) => parse_text(s.trim()),
        _ => None,
    }?;
    let ms = dt.timestamp_millis();
    if !(MIN_MS..MAX_MS).contains(&ms) {
        return None;
    }
    Some(dt.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn from_number(x: f64) -> Option<DateTime<Utc>> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let ms = if x >= MS_THRESHOLD { x } else { x * 1000.0 };
    DateTime::<Utc>::from_timestamp_millis(ms as i64)
}

fn parse_text(s: &str) -> Option<DateTime<Utc>> {
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return from_number(s.parse::<f64>().ok()?);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    // Panther writes `2022-03-22 14:21:53.225`; accept a space for the `T`.
    let t = if s.len() > 10 && s.as_bytes()[10] == b' ' { format!("{}T{}", &s[..10], &s[11..]) } else { s.to_string() };
    if let Ok(dt) = DateTime::parse_from_rfc3339(&t) {
        return Some(dt.with_timezone(&Utc));
    }
    // No zone at all (Panther, Office 365 CreationTime): UTC by the sources' convention.
    NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use serde_json::json;

    #[test]
    fn forms() {
        let cases = [
            (json!("2022-03-22 14:21:53.225"), Some("2022-03-22T14:21:53.225Z")),
            (json!("2020-11-25 21:27:03.496000000"), Some("2020-11-25T21:27:03.496Z")),
            (json!("2022-09-27 17:09:18"), Some("2022-09-27T17:09:18Z")),
            (json!("2019-01-01T00:00:00Z"), Some("2019-01-01T00:00:00Z")),
            (json!("2024-11-27T03:31:26.7088498+00:00"), Some("2024-11-27T03:31:26.708849800Z")),
            (json!("2025-01-15T09:30:20.1234567Z"), Some("2025-01-15T09:30:20.123456700Z")),
            (json!("2024-12-16 16:32:16.087554000"), Some("2024-12-16T16:32:16.087554Z")),
            (json!("2022-12-12T17:28:35"), Some("2022-12-12T17:28:35Z")),
            (json!("2021-07-02T18:31:05.784+02:00"), Some("2021-07-02T16:31:05.784Z")),
            (json!(1621305118553i64), Some("2021-05-18T02:31:58.553Z")),
            (json!("1621305118553"), Some("2021-05-18T02:31:58.553Z")),
            (json!(1621305118), Some("2021-05-18T02:31:58Z")),
            (json!("redacted"), None),
            (json!(""), None),
            (json!(null), None),
            (json!("2300-01-01T00:00:00Z"), None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(&input).as_deref(), want, "input {input}");
        }
    }
}
