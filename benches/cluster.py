"""EVE (base + six Basel shocks, benches/sql/eve.sql) on a local Ballista
cluster with one and with two executors, against the single process, on a
cached bench book (see e2e.py, which makes the books):

    python benches/cluster.py --sizes 1m --slots 2

All processes share this machine, so with its two cores two executors cannot
beat one; what the numbers show is the cluster's own overhead (planning on the
scheduler, a shuffle of the instruments to spread them, the market read by
every task). Results go to stdout as a Markdown table.
"""

import argparse
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from e2e import ROOT, WORKLOADS, ensure_book, machine, run_with_rss  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, process, what):
    started = time.time()
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        if time.time() - started > 60:
            raise SystemExit(f"{what} is not listening on {port}")
        time.sleep(0.1)


def start_cluster(almanac, executors, slots, work):
    port = free_port()
    processes = [subprocess.Popen([almanac, "scheduler", "--bind", f"127.0.0.1:{port}"],
                                  stderr=subprocess.DEVNULL)]
    wait_for(port, processes[0], "the scheduler")
    for i in range(executors):
        flight, grpc = free_port(), free_port()
        folder = pathlib.Path(work) / f"executor-{i}"
        folder.mkdir()
        processes.append(subprocess.Popen(
            [almanac, "executor", "--scheduler", f"127.0.0.1:{port}", "--port", str(flight),
             "--grpc-port", str(grpc), "--slots", str(slots), "--work-dir", str(folder),
             "--heartbeat", "1"], stderr=subprocess.DEVNULL))
        wait_for(grpc, processes[-1], f"executor {i}")
    time.sleep(2)
    return f"df://127.0.0.1:{port}", processes


def split_book(almanac, book, files):
    """The book's lake with the instruments in `files` Parquet files (a cluster splits the
    work by files: a single file of one row group would be one task)."""
    import shutil
    lake, split = book / "lake", book / f"lake-{files}-files"
    marker = split / "instruments" / f"part-{files - 1}.parquet"
    if marker.exists():
        return split
    shutil.rmtree(split, ignore_errors=True)
    (split / "instruments").mkdir(parents=True)
    for table in lake.glob("*.parquet"):
        if table.stem != "instruments":
            shutil.copy(table, split / table.name)
    count = subprocess.run([almanac, "sql", "--data", lake, "--format", "csv", "-c",
                            "SELECT COUNT(*) FROM instruments"],
                           check=True, capture_output=True, text=True).stdout.split()[-1]
    per_file = -(-int(count) // files)
    copies = "; ".join(
        f"COPY (SELECT * FROM instruments ORDER BY instrument_id LIMIT {per_file} OFFSET {i * per_file}) "
        f"TO '{split / 'instruments' / f'part-{i}.parquet'}' STORED AS PARQUET" for i in range(files))
    subprocess.run([almanac, "sql", "--data", lake, "-c", copies], check=True, capture_output=True)
    return split


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--almanac", default=str(ROOT / "target" / "release" / "almanac"))
    parser.add_argument("--sizes", default="1m")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slots", type=int, default=2, help="task slots per executor")
    parser.add_argument("--books", default=str(ROOT / "target" / "bench-books"))
    parser.add_argument("--files", type=int, default=8, help="instrument files the book is split into")
    args = parser.parse_args()
    books = pathlib.Path(args.books)
    eve = WORKLOADS["eve"]
    rows = []
    print(f"machine: {machine()}", file=sys.stderr)
    for label in [s.strip().lower() for s in args.sizes.split(",") if s.strip()]:
        book, meta = ensure_book(args.almanac, books, label)
        lake = split_book(args.almanac, book, args.files)
        base = [args.almanac, "sql", "--data", lake, "--format", "csv", "-f", eve]
        single = [run_with_rss(base)[0] for _ in range(args.repeat)]
        row = {"book": label, "flows": meta["flows"], "one process": statistics.median(single)}
        for executors in (1, 2):
            with tempfile.TemporaryDirectory() as work:
                url, processes = start_cluster(args.almanac, executors, args.slots, work)
                try:
                    times = [run_with_rss(base + ["--cluster", url])[0] for _ in range(args.repeat)]
                finally:
                    for p in processes:
                        p.kill()
                        p.wait()
            row[f"{executors} executor{'s' if executors > 1 else ''}"] = statistics.median(times)
        print(row, file=sys.stderr)
        rows.append(row)
    print(f"Machine: {machine()}; {args.slots} slots per executor; median of {args.repeat}\n")
    print("| book | cash flows | one process s | 1 executor s | 2 executors s |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['book']} | {r['flows']:,} | {r['one process']:.2f} | {r['1 executor']:.2f} | "
              f"{r['2 executors']:.2f} |")


if __name__ == "__main__":
    main()
