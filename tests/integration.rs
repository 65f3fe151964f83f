//! custody's integration tests, built as one test binary. Each module below is one concern; the
//! comment says what belongs in it. Helpers shared by all of them live in `support`.

// Shared helpers: a ledger in a temp dir, valid records, the `custody` command, segment surgery.
#[path = "integration/support.rs"]
mod support;

// Edits to stored frames through `custody verify`: exit 1 and a finding naming the entry and kind.
#[path = "integration/tamper.rs"]
mod tamper;

// Property: any single-byte change in a stored frame is found by `verify_ledger`.
#[path = "integration/tamper_prop.rs"]
mod tamper_prop;

// Record validation through `custody append`: exit 2, the field named, nothing appended.
#[path = "integration/bad_input.rs"]
mod bad_input;

// SIGKILLed appenders: the ledger verifies and every printed receipt is in it.
#[path = "integration/crash.rs"]
mod crash;

// Torn tails: a warning for verify, quarantined on open, unfinished batches count for nothing.
#[path = "integration/torn.rs"]
mod torn;

// index/ is derived: deleted, corrupt or stale, it is rebuilt and queries answer the same.
#[path = "integration/index.rs"]
mod index;

// Threads sharing one Ledger; processes contending for the ledger lock (--wait).
#[path = "integration/concurrency.rs"]
mod concurrency;

// Signer keys: add, retire, appends and forgeries after retirement, --trust.
#[path = "integration/keys.rs"]
mod keys;

// `custody demo` leaves a ledger that verifies with its key pinned.
#[path = "integration/demo.rs"]
mod demo;
