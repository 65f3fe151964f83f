//! What every bench shares: how the binary was started, and the allocator.

/// The allocator the `custody` binary uses (see Cargo.toml), so that the benches measure the
/// ledger as the binary runs it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A real benchmark run (`cargo bench`), a smoke test (`cargo test --benches`), or a listing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Bench,
    Smoke,
    List,
}

/// Reads the mode from the arguments cargo passes to a bench binary.
pub fn mode() -> Mode {
    let args: Vec<String> = std::env::args().collect();
    let has = |a: &str| args.iter().any(|x| x == a);
    if has("--list") {
        Mode::List
    } else if has("--bench") && !has("--test") {
        Mode::Bench
    } else {
        Mode::Smoke
    }
}
