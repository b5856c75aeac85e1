//! Shared by the integration tests that need Python: venvs made from pinned
//! requirements under the target folder, and running commands with their output on failure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// A venv with `requirements` installed, reused while the file is unchanged.
pub fn venv(name: &str, requirements: &str) -> PathBuf {
    let requirements = Path::new(ROOT).join("tests/python").join(requirements);
    let wanted = std::fs::read_to_string(&requirements)
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
                "-r",
            ])
            .arg(&requirements),
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
