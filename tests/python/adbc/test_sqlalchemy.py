"""SQLAlchemy reflection through the `sqlalchemy-adbc` dialect, as BI tools
such as Superset use it."""

import pyarrow.dataset as ds
import pytest
import sqlalchemy as sa

from conftest import DEMO, PASSWORD, USER


@pytest.fixture(scope="module")
def engine(server):
    url = f"adbc+flightsql://{server.host}:{server.port}?tls=false&username={USER}&password={PASSWORD}"
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def test_inspector_lists_tables_and_columns(engine):
    inspector = sa.inspect(engine)
    tables = inspector.get_table_names(schema="public")
    assert sorted(tables) == ["capital", "curves", "fx_rates", "instruments"]
    columns = inspector.get_columns("instruments", schema="public")
    lake = ds.dataset(DEMO / "instruments.parquet").schema
    assert [c["name"] for c in columns] == lake.names
    # The standard reports are views.
    assert "eve_sensitivity_1" in inspector.get_view_names(schema="reports")
    report_columns = inspector.get_columns("eve_sensitivity_1", schema="reports")
    assert [c["name"] for c in report_columns] == ["currency", "scenario", "eve", "delta_eve", "delta_pct_eve"]


def test_query_through_sqlalchemy(engine):
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT COUNT(*) FROM instruments")).scalar_one()
    assert count == ds.dataset(DEMO / "instruments.parquet").count_rows()
