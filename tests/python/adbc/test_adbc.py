"""ADBC (the Flight SQL driver with pyarrow): queries, parameters, catalog
metadata, reports, auth and the query log, against `almanac serve`.

Expected values come from the demo bank's Parquet files read by pyarrow, or
from the `almanac` CLI itself."""

import math
import pathlib
import subprocess

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from conftest import DEMO, PASSWORD, USER, almanac_bin


def connect(server, user=USER, password=PASSWORD):
    kwargs = {}
    if user is not None:
        kwargs["db_kwargs"] = {"username": user, "password": password}
    return flightsql.connect(server.uri, **kwargs)


def demo_table(name):
    return ds.dataset(DEMO / name if (DEMO / name).is_dir() else DEMO / f"{name}.parquet").to_table()


def lake_tables():
    return sorted(p.stem if p.suffix == ".parquet" else p.name for p in DEMO.iterdir())


@pytest.fixture(scope="module")
def conn(server):
    with connect(server) as connection:
        yield connection


def test_query_returns_the_lake_with_strings_as_utf8(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT instrument_id, currency, balance FROM instruments ORDER BY instrument_id LIMIT 5")
        got = cur.fetch_arrow_table()
    assert got.schema.field("instrument_id").type == pa.string()
    assert got.schema.field("currency").type == pa.string()
    want = demo_table("instruments").sort_by("instrument_id").slice(0, 5)
    assert got.column("instrument_id").to_pylist() == want.column("instrument_id").to_pylist()
    assert got.column("balance").to_pylist() == want.column("balance").to_pylist()


@pytest.mark.parametrize("placeholder", ["?", "$1"])
def test_parameters_are_bound(conn, placeholder):
    threshold = 250_000.0
    instruments = demo_table("instruments")
    want = pc.sum(pc.greater(instruments.column("balance"), threshold)).as_py()
    assert 0 < want < instruments.num_rows
    with conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) AS n FROM instruments WHERE balance > {placeholder}", (threshold,))
        assert cur.fetchone()[0] == want
        second = "$2" if placeholder == "$1" else "?"
        cur.execute(
            f"SELECT COUNT(*) FROM instruments WHERE balance > {placeholder} AND currency = {second}",
            (threshold, "EUR"),
        )
        eur = pc.and_(pc.greater(instruments.column("balance"), threshold),
                      pc.equal(instruments.column("currency"), "EUR"))
        assert cur.fetchone()[0] == pc.sum(eur).as_py()


def test_table_functions_match_the_cli(conn):
    sql = "SELECT COUNT(*) AS n, ROUND(SUM(total), 2) AS total FROM cashflows('instruments', DATE '2025-12-31', 'bcbs')"
    with conn.cursor() as cur:
        cur.execute(sql)
        n, total = cur.fetchone()
    printed = subprocess.run([almanac_bin(), "sql", "--data", str(DEMO), "-c", sql, "--format", "csv"],
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()
    assert printed[0] == "n,total"
    cli_n, cli_total = printed[1].split(",")
    assert n == int(cli_n) and n > 100_000
    assert total == pytest.approx(float(cli_total), rel=1e-12)


def test_get_objects_lists_every_table_and_column(conn):
    objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
    catalogs = {c["catalog_name"]: c for c in objects}
    assert "datafusion" in catalogs
    schemas = {s["db_schema_name"]: s for s in catalogs["datafusion"]["catalog_db_schemas"]}
    public = {t["table_name"]: t for t in schemas["public"]["db_schema_tables"]}
    assert sorted(public) == lake_tables()
    for name, table in public.items():
        columns = [c["column_name"] for c in table["table_columns"]]
        assert columns == demo_table(name).schema.names, name
        assert table["table_type"] == "table"
    reports = {t["table_name"] for t in schemas["reports"]["db_schema_tables"]}
    assert {"eve_sensitivity_1", "eve_sensitivity_2", "repricing_gap", "liquidity_gap"} <= reports


def test_get_table_schema(conn):
    schema = conn.adbc_get_table_schema("instruments")
    lake = demo_table("instruments").schema
    assert schema.names == lake.names
    for field in schema:
        if pa.types.is_string(lake.field(field.name).type) or pa.types.is_string_view(lake.field(field.name).type):
            assert field.type == pa.string(), field
        else:
            assert field.type == lake.field(field.name).type, field
    report = conn.adbc_get_table_schema("eve_sensitivity_1", db_schema_filter="reports")
    assert "delta_eve" in report.names


def close(a, b):
    """Equal, or one unit of the report's rounding apart (sums of floats may
    add in a different order in another run; the CLI snapshot test allows the same)."""
    if a == b:
        return True
    if isinstance(a, float) and isinstance(b, float):
        unit = 1.0 if a.is_integer() and b.is_integer() else 0.01
        return math.isclose(a, b, rel_tol=1e-9) or abs(a - b) <= unit + 1e-9 * abs(b)
    return False


def test_each_report_equals_what_the_cli_prints(conn, cli_reports):
    files = sorted(pathlib.Path(cli_reports).glob("*.parquet"))
    assert len(files) >= 7
    for file in files:
        want = pq.read_table(file)
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM reports.{file.stem}")
            got = cur.fetch_arrow_table()
        assert got.schema.names == want.schema.names, file.stem
        assert got.num_rows == want.num_rows, file.stem
        for name in want.schema.names:
            for row, (a, b) in enumerate(zip(got.column(name).to_pylist(), want.column(name).to_pylist())):
                assert close(a, b), f"{file.stem}.{name} row {row}: {a!r} over ADBC, {b!r} from the CLI"


def test_writes_are_refused(conn):
    with conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error, match="read-only"):
            cur.execute("CREATE VIEW mine AS SELECT 1")


def test_bad_query_then_good_query(conn):
    with conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error, match="no_such_table"):
            cur.execute("SELECT * FROM no_such_table")
        cur.execute("SELECT 1 AS one")
        assert cur.fetchone() == (1,)


def test_wrong_password_and_missing_credentials_are_refused(server):
    with pytest.raises(adbc_driver_manager.Error, match="wrong user name or password"):
        with connect(server, password="guess") as bad:
            with bad.cursor() as cur:
                cur.execute("SELECT 1")
    with pytest.raises(adbc_driver_manager.Error, match="(?i)unauthenticated|authorization"):
        with connect(server, user=None) as anonymous:
            with anonymous.cursor() as cur:
                cur.execute("SELECT 1")


def test_each_query_is_logged_with_user_rows_and_duration(conn, server):
    with conn.cursor() as cur:
        cur.execute("SELECT 42 AS answer_for_the_log")
        cur.fetchall()
    records = [r for r in server.log_records()
               if r.get("target") == "almanac::query" and "answer_for_the_log" in r.get("sql", "")]
    assert records, "no log line for the query"
    record = records[-1]
    assert record["user"] == USER
    assert record["outcome"] == "ok"
    assert record["rows"] == 1
    assert record["duration_ms"] >= 0
