//! `cargo bench --bench e2e [-- OPTIONS]`: the end-to-end benchmark. Cargo
//! builds the release `almanac`; this makes the peers' venv (DuckDB,
//! QuantLib from benches/requirements.txt) and runs benches/e2e.py with it.
//! Options go to e2e.py, e.g. `cargo bench --bench e2e -- --sizes 100k,1m`.

use std::path::Path;
use std::process::{Command, ExitCode};

#[path = "../crates/almanac-cli/tests/support/mod.rs"]
mod support;

fn main() -> ExitCode {
    // Cargo passes --bench to every bench binary; the rest is for e2e.py.
    let options: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let python = support::venv_from(
        "bench",
        &Path::new(support::ROOT).join("benches/requirements.txt"),
    );
    let status = Command::new(python)
        .arg(Path::new(support::ROOT).join("benches/e2e.py"))
        .args(["--almanac", env!("CARGO_BIN_EXE_almanac")])
        .args(&options)
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("benches/e2e.py failed ({s})");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot run benches/e2e.py: {e}");
            ExitCode::FAILURE
        }
    }
}
