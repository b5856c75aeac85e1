//! Shared by the integration tests that need Python: venvs made from pinned
//! requirements under the target folder, and running commands with their output on failure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// A venv with `tests/python/<requirements>` installed, reused while the file is unchanged.
pub fn venv(name: &str, requirements: &str) -> PathBuf {
    venv_from(
        name,
        &Path::new(ROOT).join("tests/python").join(requirements),
    )
}

/// A venv named `name` with the requirements file installed.
pub fn venv_from(name: &str, requirements: &Path) -> PathBuf {
    let wanted = std::fs::read_to_string(requirements)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements.display()));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("venv-{name}"));
    let python = dir.join("bin/python");
    let stamp = dir.join("almanac-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let interpreter = std::env::var("ALMANAC_PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        Command::new(&interpreter).args(["-m", "venv"]).arg(&dir),
        "making the venv (is python3 with venv installed?)",
    );
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                // The wheels are kept in the venv; a second copy in pip's
                // cache only fills the disk (CI once ran out of space here).
                "--no-cache-dir",
                "-r",
            ])
            .arg(requirements),
        "installing the Python test requirements from PyPI",
    );
    std::fs::write(&stamp, wanted).expect("write the venv stamp");
    python
}

pub fn run(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

/// `almanac` run from the repository root, without `$ALMANAC_DATA`.
pub fn almanac(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_almanac"))
        .args(args)
        .current_dir(ROOT)
        .env_remove("ALMANAC_DATA")
        .output()
        .expect("run almanac")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A synthetic bank of `n` instruments in `dir`.
pub fn generate(dir: &Path, n: &str, seed: &str) {
    let out = almanac(&[
        "generate",
        "--instruments",
        n,
        "--seed",
        seed,
        "--out",
        dir.to_str().expect("utf-8 path"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The stdout of a command that must succeed.
pub fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stderr of a command that must fail.
pub fn failure(out: Output) -> String {
    assert!(!out.status.success(), "should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Two CSV files equal cell by cell, numbers within one unit of their rounding
/// (partial sums may add in another order between runs).
pub fn same_csv(a: &str, b: &str, name: &str) {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(a.len(), b.len(), "{name}: row counts");
    for (row, (x, y)) in a.iter().zip(&b).enumerate() {
        for (cx, cy) in x.split(',').zip(y.split(',')) {
            if cx == cy {
                continue;
            }
            let (nx, ny) = match (cx.parse::<f64>(), cy.parse::<f64>()) {
                (Ok(nx), Ok(ny)) => (nx, ny),
                _ => panic!("{name} row {row}: {cx} vs {cy}"),
            };
            let unit = if nx.fract() == 0.0 && ny.fract() == 0.0 {
                1.0
            } else {
                0.01
            };
            assert!(
                (nx - ny).abs() <= unit + 1e-9 * ny.abs(),
                "{name} row {row}: {cx} vs {cy}"
            );
        }
    }
}

/// SQL writing two snapshots of `instruments` into `folder` (Hive-partitioned by
/// as_of_date), the second with `balance` as text: a table whose files disagree.
pub fn mismatched_snapshots_sql(folder: &Path) -> String {
    format!(
        "COPY (SELECT *, DATE '2025-12-31' AS as_of_date FROM instruments) TO '{0}/' \
           STORED AS PARQUET PARTITIONED BY (as_of_date); \
         COPY (SELECT instrument_id, CAST(balance AS VARCHAR) AS balance, DATE '2025-11-30' AS as_of_date \
           FROM instruments) TO '{0}/' STORED AS PARQUET PARTITIONED BY (as_of_date)",
        folder.display()
    )
}
