//! The service's counters, in Prometheus text format (`GET /metrics`).
//!
//! This module owns the numbers and their rendering, nothing else: the commit loop and the handlers
//! update them. Everything is a lock-free atomic, so that counting never waits on the writer.
//! Histograms have fixed buckets; durations are kept in nanoseconds and shown in seconds.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Why a request was refused, one counter each (`custody_rejects_total{reason=...}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    Unauthorized,
    Forbidden,
    MalformedJson,
    InvalidRecord,
    InvalidRequest,
    BodyTooLarge,
    BodyTimeout,
    RateLimited,
    QueueFull,
    NotFound,
    Failed,
}

impl Reject {
    const ALL: [Reject; 11] = [
        Reject::Unauthorized,
        Reject::Forbidden,
        Reject::MalformedJson,
        Reject::InvalidRecord,
        Reject::InvalidRequest,
        Reject::BodyTooLarge,
        Reject::BodyTimeout,
        Reject::RateLimited,
        Reject::QueueFull,
        Reject::NotFound,
        Reject::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reject::Unauthorized => "unauthorized",
            Reject::Forbidden => "forbidden",
            Reject::MalformedJson => "malformed_json",
            Reject::InvalidRecord => "invalid_record",
            Reject::InvalidRequest => "invalid_request",
            Reject::BodyTooLarge => "body_too_large",
            Reject::BodyTimeout => "body_timeout",
            Reject::RateLimited => "rate_limited",
            Reject::QueueFull => "queue_full",
            Reject::NotFound => "not_found",
            Reject::Failed => "failed",
        }
    }
}

/// A histogram with fixed upper bounds.
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); the last one is `+Inf`.
    counts: Vec<AtomicU64>,
    /// Sum of observations times `scale`.
    sum: AtomicU64,
    scale: f64,
}

impl Histogram {
    fn new(bounds: &'static [f64], scale: f64) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            scale,
        }
    }

    pub fn observe(&self, v: f64) {
        let i = self.bounds.iter().position(|b| v <= *b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum.fetch_add((v * self.scale).round() as u64, Relaxed);
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cum = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cum += c.load(Relaxed);
            let le = self.bounds.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cum}");
        }
        let _ = writeln!(out, "{name}_sum {}", self.sum.load(Relaxed) as f64 / self.scale);
        let _ = writeln!(out, "{name}_count {cum}");
    }
}

const SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 10000.0];
const SECONDS_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// All of the service's metrics.
pub struct Metrics {
    /// Entries appended (receipts handed out for new entries).
    pub appended_entries: AtomicU64,
    /// Append requests answered with new receipts.
    pub appended_requests: AtomicU64,
    /// Append requests answered with the receipts of an earlier try (idempotent retries).
    pub replayed_requests: AtomicU64,
    /// Group commits that wrote: one write and one `fdatasync` each.
    pub fsyncs: AtomicU64,
    /// Records per group commit.
    pub batch_records: Histogram,
    /// Requests per group commit.
    pub batch_requests: Histogram,
    /// The `fdatasync` of each group commit.
    pub fsync_seconds: Histogram,
    /// A whole group commit: check, seal, chain, sign, write, sync, index.
    pub commit_seconds: Histogram,
    /// Append requests waiting for the writer.
    pub queue_depth: AtomicU64,
    /// Records in those requests.
    pub queue_records: AtomicU64,
    rejects: [AtomicU64; Reject::ALL.len()],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            appended_entries: AtomicU64::new(0),
            appended_requests: AtomicU64::new(0),
            replayed_requests: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            batch_records: Histogram::new(SIZE_BUCKETS, 1.0),
            batch_requests: Histogram::new(SIZE_BUCKETS, 1.0),
            fsync_seconds: Histogram::new(SECONDS_BUCKETS, 1e9),
            commit_seconds: Histogram::new(SECONDS_BUCKETS, 1e9),
            queue_depth: AtomicU64::new(0),
            queue_records: AtomicU64::new(0),
            rejects: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Metrics {
    pub fn reject(&self, r: Reject) {
        if let Some(i) = Reject::ALL.iter().position(|x| *x == r) {
            self.rejects[i].fetch_add(1, Relaxed);
        }
    }

    pub fn rejects(&self, r: Reject) -> u64 {
        Reject::ALL.iter().position(|x| *x == r).map_or(0, |i| self.rejects[i].load(Relaxed))
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, ledger_size: u64) -> String {
        let mut o = String::with_capacity(4096);
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let gauge = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        counter(
            &mut o,
            "custody_appended_entries_total",
            "Entries appended by this process.",
            self.appended_entries.load(Relaxed),
        );
        let _ = writeln!(
            o,
            "# HELP custody_append_requests_total Append requests answered with receipts, by outcome.\n# TYPE custody_append_requests_total counter\ncustody_append_requests_total{{outcome=\"appended\"}} {}\ncustody_append_requests_total{{outcome=\"replayed\"}} {}",
            self.appended_requests.load(Relaxed),
            self.replayed_requests.load(Relaxed)
        );
        counter(
            &mut o,
            "custody_fsyncs_total",
            "Group commits written: one write and one fdatasync each.",
            self.fsyncs.load(Relaxed),
        );
        self.batch_records.render(&mut o, "custody_batch_records", "Records per group commit.");
        self.batch_requests.render(&mut o, "custody_batch_requests", "Requests per group commit.");
        self.fsync_seconds.render(&mut o, "custody_fsync_seconds", "fdatasync latency of the log, per group commit.");
        self.commit_seconds.render(
            &mut o,
            "custody_commit_seconds",
            "Whole group commit: check, seal, chain, sign, write, sync, index.",
        );
        gauge(&mut o, "custody_queue_depth", "Append requests waiting for the writer.", self.queue_depth.load(Relaxed));
        gauge(
            &mut o,
            "custody_queue_records",
            "Records in the append requests waiting for the writer.",
            self.queue_records.load(Relaxed),
        );
        gauge(&mut o, "custody_ledger_entries", "Entries in the ledger.", ledger_size);
        let _ = writeln!(
            o,
            "# HELP custody_rejects_total Requests refused, by reason.\n# TYPE custody_rejects_total counter"
        );
        for (r, c) in Reject::ALL.iter().zip(&self.rejects) {
            let _ = writeln!(o, "custody_rejects_total{{reason=\"{}\"}} {}", r.as_str(), c.load(Relaxed));
        }
        o
    }
}

/// Reads one sample's value from a Prometheus text exposition (`name` with its labels, if any).
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (n, v) = l.rsplit_once(' ')?;
        (n == name).then(|| v.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_rejects() {
        let m = Metrics::default();
        m.fsyncs.fetch_add(3, Relaxed);
        m.batch_records.observe(5.0);
        m.batch_records.observe(64.0);
        m.fsync_seconds.observe_duration(Duration::from_micros(700));
        m.reject(Reject::QueueFull);
        let t = m.render(42);
        assert_eq!(sample(&t, "custody_fsyncs_total"), Some(3.0));
        assert_eq!(sample(&t, "custody_batch_records_bucket{le=\"4\"}"), Some(0.0));
        assert_eq!(sample(&t, "custody_batch_records_bucket{le=\"8\"}"), Some(1.0));
        assert_eq!(sample(&t, "custody_batch_records_bucket{le=\"+Inf\"}"), Some(2.0));
        assert_eq!(sample(&t, "custody_batch_records_sum"), Some(69.0));
        assert_eq!(sample(&t, "custody_fsync_seconds_bucket{le=\"0.001\"}"), Some(1.0));
        assert_eq!(sample(&t, "custody_rejects_total{reason=\"queue_full\"}"), Some(1.0));
        assert_eq!(sample(&t, "custody_ledger_entries"), Some(42.0));
    }
}
