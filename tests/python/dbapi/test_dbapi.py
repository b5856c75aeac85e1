"""flightsql-dbapi (pyarrow.flight underneath), its own venv: SQLAlchemy < 2."""

import flightsql
import pyarrow.dataset as ds
import pytest

from conftest import DEMO, PASSWORD, USER


def client(server, password=PASSWORD):
    return flightsql.FlightSQLClient(host=server.host, port=server.port, insecure=True,
                                     user=USER, password=password)


def test_query(server):
    connection = flightsql.connect(client(server))
    cursor = connection.cursor()
    cursor.execute("SELECT COUNT(*) AS n FROM instruments")
    assert cursor.fetchone()[0] == ds.dataset(DEMO / "instruments.parquet").count_rows()
    cursor.execute("SELECT scenario FROM reports.eve_sensitivity_2 ORDER BY scenario")
    scenarios = [row[0] for row in cursor.fetchall()]
    assert scenarios == sorted(["parallel_up", "parallel_down", "steepener", "flattener",
                                "short_up", "short_down"])
    connection.close()


def test_wrong_password(server):
    with pytest.raises(Exception, match="wrong user name or password"):
        flightsql.connect(client(server, password="guess")).cursor().execute("SELECT 1")
