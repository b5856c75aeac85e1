"""Many BI clients at once: N ADBC connections, each running the EVE report
(sql/eve_sensitivity.sql, i.e. the views reports.eve_sensitivity_1 and _2)
against one `almanac serve`, all started together. Prints the wall time, the
per-client times and the server's peak RSS.

    python benches/flight_clients.py --almanac target/release/almanac --clients 32

Needs adbc-driver-flightsql and pyarrow (tests/python/requirements-adbc.txt;
`cargo test` leaves such a venv in target/tmp/venv-adbc).
"""

import argparse
import multiprocessing
import os
import pathlib
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
QUERIES = ["SELECT * FROM reports.eve_sensitivity_1", "SELECT * FROM reports.eve_sensitivity_2"]


def client(args):
    uri, barrier_at = args
    import adbc_driver_flightsql.dbapi as flightsql
    with flightsql.connect(uri) as conn:
        while time.time() < barrier_at:
            time.sleep(0.001)
        started = time.perf_counter()
        rows = 0
        with conn.cursor() as cur:
            for sql in QUERIES:
                cur.execute(sql)
                rows += cur.fetch_arrow_table().num_rows
        return time.perf_counter() - started, rows


def peak_rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--almanac", default=str(ROOT / "target/release/almanac"))
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--max-concurrent-queries", type=int, default=8)
    parser.add_argument("--data", default=str(ROOT / "datasets/demo"))
    args = parser.parse_args()

    server = subprocess.Popen(
        [args.almanac, "serve", "--addr", "127.0.0.1:0", "--data", args.data,
         "--max-concurrent-queries", str(args.max_concurrent_queries), "--log-format", "text"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    uri = None
    for line in server.stderr:
        if "listening on grpc://" in line:
            uri = "grpc://" + line.rsplit("grpc://", 1)[1].strip()
            break
    if uri is None:
        raise SystemExit("the server did not start")
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
    try:
        # One warm-up run: market data and plans load once per view.
        client((uri, 0))
        start_at = time.time() + 10.0  # time for 32 interpreters to spawn and connect
        # spawn, not fork: the parent has loaded the ADBC driver (a Go runtime), which does not survive fork.
        with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
            results = pool.map(client, [(uri, start_at)] * args.clients)
        wall = max(r[0] for r in results)
        times = sorted(r[0] for r in results)
        print(f"machine: {os.cpu_count()} cores; server {args.almanac}; data {args.data}; "
              f"--max-concurrent-queries {args.max_concurrent_queries}")
        print(f"{args.clients} clients x sql/eve_sensitivity.sql: wall {wall:.2f} s "
              f"(fastest client {times[0]:.2f} s, median {times[len(times) // 2]:.2f} s), "
              f"{sum(r[1] for r in results)} rows, server peak RSS {peak_rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
