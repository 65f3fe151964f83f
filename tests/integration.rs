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
