"""End-to-end benchmark: Almanac through SQL against DuckDB (plain SQL) and
QuantLib (a Python loop of bond objects), on generated books of 100k, 1M and
10M instruments. Run by `cargo bench --bench e2e` (which builds the release
binary and the peers' venv); by hand:

    python benches/e2e.py --almanac target/release/almanac --sizes 100k,1m

Books are generated once with the demo generator (seed 42) and cached under
target/bench-books. Each workload runs as its own process, so its wall time
includes start-up and reading the Parquet book, and its peak RSS is the
process's own (wait4). Almanac and DuckDB alternate, `--repeat` times; the
median is reported. QuantLib prices a sample of fixed-rate instruments
under the seven curves and is extrapolated to the book. Results go to
stdout as a Markdown table and to target/bench-results.json.
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH_SQL = ROOT / "benches" / "sql"
# Bumped when the generator writes books differently (2: row groups of 16,384 instruments).
BOOK_FORMAT = 2
WORKLOADS = {
    "eve": BENCH_SQL / "eve.sql",
    "repricing_gap": ROOT / "sql" / "repricing_gap.sql",
    "nii_12m": BENCH_SQL / "nii.sql",
}
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
AS_OF = "2025-12-31"


def run_with_rss(command):
    """Runs `command`, returns (wall seconds, peak RSS MB, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Read the pipes on threads so a chatty child never blocks on a full pipe.
    import threading
    chunks = {"out": [], "err": []}

    def drain(stream, key):
        for block in iter(lambda: stream.read(65536), b""):
            chunks[key].append(block)

    readers = [threading.Thread(target=drain, args=(proc.stdout, "out")),
               threading.Thread(target=drain, args=(proc.stderr, "err"))]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = b"".join(chunks["out"]).decode(), b"".join(chunks["err"]).decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{err}")
    return wall, usage.ru_maxrss / 1024.0, out


def ensure_book(almanac, books, label):
    """The book of `label` instruments, its discount factors and its flow count."""
    book = books / label
    meta_file = book / "bench-meta.json"
    if meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("format") == BOOK_FORMAT:
            return book, meta
        print(f"the cached {label} book is of an older format; making it again", file=sys.stderr)
        shutil.rmtree(book)
    n = SIZES[label]
    print(f"generating the {label} book ({n} instruments) in {book} ...", file=sys.stderr)
    lake = book / "lake"
    subprocess.run([almanac, "generate", "--instruments", str(n), "--seed", "42", "--out", lake],
                   check=True)
    discount = book / "discount.parquet"
    subprocess.run([almanac, "sql", "--data", lake, "-c",
                    f"COPY (SELECT * FROM discount_factors('curves', DATE '{AS_OF}', 'bcbs', 200)) "
                    f"TO '{discount}' STORED AS PARQUET"], check=True, capture_output=True)
    counted = subprocess.run([almanac, "sql", "--data", lake, "--format", "csv", "-f",
                              BENCH_SQL / "cashflow_count.sql"],
                             check=True, capture_output=True, text=True)
    meta = {"instruments": n, "flows": int(counted.stdout.split()[1]), "format": BOOK_FORMAT}
    meta_file.write_text(json.dumps(meta))
    return book, meta


def almanac_run(almanac, book, workload):
    return run_with_rss([almanac, "sql", "--data", book / "lake", "--format", "csv",
                         "-f", WORKLOADS[workload]])


def duckdb_run(python, book):
    """The plain-SQL EVE in its own DuckDB process; the query's own time is used."""
    wall, rss, out = run_with_rss([python, __file__, "duckdb-eve", book])
    result = json.loads(out.strip().splitlines()[-1])
    return result["seconds"], rss, result


def duckdb_eve(book):
    import duckdb
    sql = (BENCH_SQL / "duckdb_eve.sql").read_text()
    sql = sql.replace("{book}", str(book / "lake" / "instruments.parquet"))
    sql = sql.replace("{discount}", str(book / "discount.parquet"))
    con = duckdb.connect()
    started = time.perf_counter()
    rows = con.execute(sql).fetchall()
    seconds = time.perf_counter() - started
    flows = max(r[3] for r in rows) if rows else 0
    print(json.dumps({"seconds": seconds, "rows": len(rows), "flows": int(flows),
                      "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}))


QL_DAY_COUNTS = {
    "ACT/360": "Actual360()", "ACT/365F": "Actual365Fixed()",
    "30/360": "Thirty360(ql.Thirty360.BondBasis)", "30E/360": "Thirty360(ql.Thirty360.European)",
    "ACT/ACT": "ActualActual(ql.ActualActual.ISDA)",
}


def quantlib_sample(book, sample):
    """QuantLib: `sample` fixed-rate instruments with a maturity, each a bond
    object priced under the seven curves (one NPV per scenario). Prints the
    seconds per instrument (all seven scenarios)."""
    import duckdb
    import QuantLib as ql
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT * FROM (SELECT balance, rate, start_date, maturity_date, payment_months, day_count, "
        f"amortization FROM read_parquet('{book / 'lake' / 'instruments.parquet'}') "
        f"WHERE lower(rate_type) = 'fixed' AND maturity_date IS NOT NULL) "
        f"USING SAMPLE {sample} ROWS (reservoir, 42)").fetchall()
    dfs = con.execute(
        f"SELECT scenario, date, discount_factor FROM read_parquet('{book / 'discount.parquet'}') "
        f"WHERE currency = 'USD' AND date < DATE '2199-01-01' AND (day(date) = 1 OR date = DATE '{AS_OF}') "
        f"ORDER BY scenario, date"
    ).fetchall()
    today = ql.Date(31, 12, 2025)
    ql.Settings.instance().evaluationDate = today
    curves = {}
    for scenario, date, df in dfs:
        curves.setdefault(scenario, ([], []))
        curves[scenario][0].append(ql.Date(date.day, date.month, date.year))
        curves[scenario][1].append(df)
    handles = {s: ql.DiscountCurve(d, f, ql.Actual365Fixed()) for s, (d, f) in curves.items()}
    relinkable = ql.RelinkableYieldTermStructureHandle()
    engine = ql.DiscountingBondEngine(relinkable)
    started = time.perf_counter()
    npvs = 0
    for balance, rate, start, maturity, months, day_count, amortization in rows:
        dc = eval("ql." + QL_DAY_COUNTS.get(day_count.upper(), "Actual365Fixed()"))
        tenor = ql.Period(months, ql.Months) if months else ql.Period(ql.Once)
        schedule = ql.Schedule(ql.Date(start.day, start.month, start.year),
                               ql.Date(maturity.day, maturity.month, maturity.year),
                               tenor, ql.NullCalendar(), ql.Unadjusted, ql.Unadjusted,
                               ql.DateGeneration.Backward, False)
        if amortization.lower() == "bullet" or len(schedule) < 3:
            bond = ql.FixedRateBond(0, balance, schedule, [rate], dc)
        else:
            periods = len(schedule) - 1
            notionals = [balance * (1 - i / periods) for i in range(periods)]
            bond = ql.AmortizingFixedRateBond(0, notionals, schedule, [rate], dc)
        bond.setPricingEngine(engine)
        for curve in handles.values():
            relinkable.linkTo(curve)
            bond.NPV()
            npvs += 1
    seconds = time.perf_counter() - started
    print(json.dumps({"instruments": len(rows), "npvs": npvs, "seconds": seconds,
                      "per_instrument": seconds / max(len(rows), 1)}))


def machine():
    cpu = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            memory = int(line.split()[1]) / 1024 / 1024
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "duckdb-eve":
        return duckdb_eve(pathlib.Path(sys.argv[2]))
    if len(sys.argv) > 1 and sys.argv[1] == "quantlib":
        return quantlib_sample(pathlib.Path(sys.argv[2]), int(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--almanac", default=str(ROOT / "target" / "release" / "almanac"))
    parser.add_argument("--sizes", default="100k,1m,10m")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma-separated subset of " + ", ".join(WORKLOADS))
    parser.add_argument("--books", default=str(ROOT / "target" / "bench-books"))
    parser.add_argument("--peers-up-to", default="1m",
                        help="run DuckDB on books up to this size (10M in plain SQL takes long)")
    parser.add_argument("--quantlib-sample", type=int, default=2000)
    args = parser.parse_args()
    almanac, books = args.almanac, pathlib.Path(args.books)
    books.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    results = {"machine": machine(), "almanac": almanac, "runs": []}
    print(f"machine: {results['machine']}", file=sys.stderr)
    labels = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    for label in labels:
        if label not in SIZES:
            raise SystemExit(f"unknown size {label}; use {', '.join(SIZES)}")
    peers_limit = SIZES[args.peers_up_to.lower()]
    for label in labels:
        book, meta = ensure_book(almanac, books, label)
        for workload in [w.strip() for w in args.workloads.split(",") if w.strip()]:
            if workload not in WORKLOADS:
                raise SystemExit(f"unknown workload {workload}; use {', '.join(WORKLOADS)}")
            with_duckdb = workload == "eve" and SIZES[label] <= peers_limit
            ours, theirs = [], []
            for _ in range(args.repeat):
                ours.append(almanac_run(almanac, book, workload)[:2])
                if with_duckdb:
                    seconds, rss, detail = duckdb_run(python, book)
                    theirs.append((seconds, rss))
                    duck_detail = detail
            run = {"book": label, "instruments": meta["instruments"], "workload": workload,
                   "almanac_seconds": statistics.median(s for s, _ in ours),
                   "almanac_rss_mb": max(r for _, r in ours),
                   "almanac_all_seconds": [s for s, _ in ours]}
            if workload == "eve":
                run["flows"] = meta["flows"]
                run["flows_per_second"] = meta["flows"] / run["almanac_seconds"]
            if theirs:
                run["duckdb_seconds"] = statistics.median(s for s, _ in theirs)
                run["duckdb_rss_mb"] = max(r for _, r in theirs)
                run["duckdb_flows"] = duck_detail["flows"]
                run["duckdb_over_almanac"] = run["duckdb_seconds"] / run["almanac_seconds"]
            if workload == "eve" and SIZES[label] <= peers_limit and args.quantlib_sample > 0:
                _, _, out = run_with_rss([python, __file__, "quantlib", book, str(args.quantlib_sample)])
                ql_result = json.loads(out.strip().splitlines()[-1])
                run["quantlib_sample"] = ql_result
                run["quantlib_extrapolated_seconds"] = ql_result["per_instrument"] * meta["instruments"]
                run["quantlib_over_almanac"] = run["quantlib_extrapolated_seconds"] / run["almanac_seconds"]
            results["runs"].append(run)
            print(json.dumps(run), file=sys.stderr)
    out = ROOT / "target" / f"bench-results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}", file=sys.stderr)
    print(table(results))


def table(results):
    lines = [f"Machine: {results['machine']}", "",
             "| book | workload | Almanac s | peak RSS MB | cash flows/s | DuckDB s | DuckDB / Almanac | QuantLib s (extrap.) | QuantLib / Almanac |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["runs"]:
        cell = lambda key, fmt: (fmt.format(r[key]) if key in r else "")
        lines.append(
            f"| {r['book']} | {r['workload']} | {r['almanac_seconds']:.2f} | {r['almanac_rss_mb']:.0f} | "
            f"{cell('flows_per_second', '{:.3g}')} | {cell('duckdb_seconds', '{:.2f}')} | "
            f"{cell('duckdb_over_almanac', '{:.2f}x')} | {cell('quantlib_extrapolated_seconds', '{:.0f}')} | "
            f"{cell('quantlib_over_almanac', '{:.0f}x')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
