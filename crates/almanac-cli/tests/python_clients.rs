//! The real Flight SQL clients BI tools and notebooks use, against
//! `almanac serve`: ADBC with pyarrow, SQLAlchemy reflection through
//! `sqlalchemy-adbc`, and `flightsql-dbapi` (tests/python). Each runs with
//! pytest in a venv made here under the target folder from pinned
//! requirements, so `cargo test` needs python3 with venv and the PyPI
//! registry; a missing one fails the test, it is not skipped.

use std::process::Command;

mod support;

use support::{run, venv, ROOT};

fn pytest(venv_name: &str, requirements: &str, folder: &str) {
    let python = venv(venv_name, requirements);
    let out = run(
        Command::new(python)
            .current_dir(ROOT)
            .env("ALMANAC_BIN", env!("CARGO_BIN_EXE_almanac"))
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-rs",
                "--rootdir",
                "tests/python",
            ])
            .arg(format!("tests/python/{folder}")),
        &format!("pytest tests/python/{folder}"),
    );
    println!("{out}");
    assert!(out.contains(" passed"), "pytest ran no test:\n{out}");
    assert!(
        !out.contains(" skipped"),
        "a client test was skipped:\n{out}"
    );
}

#[test]
fn adbc_and_sqlalchemy_clients() {
    pytest("adbc", "requirements-adbc.txt", "adbc");
}

#[test]
fn flightsql_dbapi_client() {
    pytest("dbapi", "requirements-dbapi.txt", "dbapi");
}
