//! The `custody` command: parse, call the library, print, exit. No ledger logic lives here.
//!
//! Exit codes: 0 success (verify: intact), 1 integrity failure, 2 usage, input or I/O error. A
//! closed stdout (e.g. `custody log | head`) ends the program quietly with 0, as Unix tools do.
#![forbid(unsafe_code)]

mod args;
mod bundle_cmd;
mod commands;
mod demo;
mod export_cmd;
mod govern_cmd;
mod import_cmd;
mod output;
mod proofs;
mod serve_cmd;

use std::process::ExitCode;

/// See Cargo.toml: the append path allocates many small buffers per entry on several threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

/// What a command reports back to `main`.
pub enum Outcome {
    Ok,
    /// The ledger (or bundle, proof) is not intact.
    IntegrityFailure,
}

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli.command) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::IntegrityFailure) => ExitCode::from(1),
        Err(e) => {
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<serde_json::Error>().and_then(|j| j.io_error_kind())
                        == Some(std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            let top = e.to_string();
            eprintln!("custody: error: {top}");
            // Library errors often include their cause in their own message; print only what is new.
            for cause in e.chain().skip(1).map(|c| c.to_string()).filter(|c| !top.contains(c.as_str())) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
