"""A real `almanac serve` process for the client tests.

The Rust test `crates/almanac-cli/tests/python_clients.rs` sets ALMANAC_BIN
(the freshly built binary) and runs pytest in a venv; the server listens on
a free loopback port with one user, alice, and the bundled demo bank.
"""

import json
import os
import pathlib
import queue
import subprocess
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "datasets" / "demo"
USER, PASSWORD = "alice", "wonderland"


def almanac_bin():
    path = os.environ.get("ALMANAC_BIN")
    if not path:
        raise RuntimeError("set ALMANAC_BIN to the almanac binary (the Rust test does)")
    return path


class Server:
    def __init__(self, process, host, port, lines):
        self.process = process
        self.host = host
        self.port = port
        self.uri = f"grpc://{host}:{port}"
        self._lines = lines

    def log_records(self):
        """Every JSON log line written so far."""
        records = []
        for line in list(self._lines):
            line = line.strip()
            if line.startswith("{"):
                records.append(json.loads(line))
        return records


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    users = tmp_path_factory.mktemp("auth") / "users.txt"
    users.write_text(f"# test users\n{USER}:{PASSWORD}\n")
    process = subprocess.Popen(
        [almanac_bin(), "serve", "--addr", "127.0.0.1:0", "--users-file", str(users),
         "--data", str(DEMO)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    lines = []
    ready = queue.Queue()

    def drain():
        for line in process.stderr:
            lines.append(line)
            if "listening on grpc://" in line:
                ready.put(line.rsplit("grpc://", 1)[1].strip())
        ready.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        address = ready.get(timeout=300)
    except queue.Empty:
        address = None
    if address is None:
        process.kill()
        raise RuntimeError("almanac serve did not start:\n" + "".join(lines))
    host, port = address.rsplit(":", 1)
    yield Server(process, host, int(port), lines)
    process.terminate()
    process.wait(timeout=30)
    assert process.returncode is not None


@pytest.fixture(scope="session")
def cli_reports(tmp_path_factory):
    """The CLI's own output of every report: `almanac report --out DIR`."""
    out = tmp_path_factory.mktemp("reports")
    subprocess.run([almanac_bin(), "report", "--data", str(DEMO), "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return out
