//! `almanac.toml`: a lake laid out another way (tables under other names,
//! a Hive-partitioned folder, CSV reference tables with a `;` delimiter) gives
//! the same reports as the folder convention; and a lake's mistakes (a
//! catalog typo, a partition written with other column types) are named.

mod support;

use std::fs;
use std::path::Path;

use support::{almanac, failure, generate, mismatched_snapshots_sql, ok, same_csv};

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The bank in `bank` laid out differently under `mapped`, with its catalog.
fn map_differently(bank: &Path, mapped: &Path) {
    fs::create_dir_all(mapped.join("market")).expect("mkdir");
    fs::create_dir_all(mapped.join("ref")).expect("mkdir");
    fs::copy(
        bank.join("curves.parquet"),
        mapped.join("market/zero_curves.parquet"),
    )
    .expect("copy curves");
    let data = ["--data", utf8(bank)];
    let copy = format!(
        "COPY (SELECT *, DATE '2025-12-31' AS as_of_date FROM instruments) TO '{}/' \
         STORED AS PARQUET PARTITIONED BY (as_of_date)",
        utf8(&mapped.join("raw/positions"))
    );
    ok(
        almanac(&["sql", data[0], data[1], "-c", &copy]),
        "partitioning",
    );
    for (table, file, delimiter) in [("capital", "capital.csv", ';'), ("fx_rates", "fx.csv", ',')] {
        let csv = ok(
            almanac(&[
                "sql",
                data[0],
                data[1],
                "--format",
                "csv",
                "-c",
                &format!("SELECT * FROM {table}"),
            ]),
            table,
        );
        fs::write(
            mapped.join("ref").join(file),
            csv.replace(',', &delimiter.to_string()),
        )
        .expect("write csv");
    }
    fs::write(
        mapped.join("almanac.toml"),
        r#"# The demo bank as another team laid it out.
[tables.instruments]
location = "raw/positions/"

[tables.curves]
location = "market/zero_curves.parquet"

[tables.capital]
location = "ref/capital.csv"
format = "csv"
delimiter = ";"
columns = { tier1_capital = "double" }

[tables.fx_rates]
location = "ref/fx.csv"
format = "csv"
columns = { rate_to_reporting = "double", as_of_date = "date" }
"#,
    )
    .expect("write catalog");
}

#[test]
fn a_catalog_maps_another_layout_to_the_same_reports() {
    let work = tempfile::tempdir().expect("tmp");
    let (bank, mapped) = (work.path().join("bank"), work.path().join("mapped"));
    generate(&bank, "400", "7");
    map_differently(&bank, &mapped);

    let (by_folder, by_catalog) = (work.path().join("a"), work.path().join("b"));
    ok(
        almanac(&["report", "--data", utf8(&bank), "--out", utf8(&by_folder)]),
        "reports by the folder convention",
    );
    ok(
        almanac(&[
            "report",
            "--data",
            utf8(&mapped.join("almanac.toml")),
            "--out",
            utf8(&by_catalog),
        ]),
        "reports through the catalog",
    );
    let mut compared = 0;
    for entry in fs::read_dir(&by_folder).expect("outputs") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "csv") {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let a = fs::read_to_string(&path).expect("folder csv");
            let b = fs::read_to_string(by_catalog.join(&name)).expect("catalog csv");
            same_csv(&a, &b, &name);
            compared += 1;
        }
    }
    assert!(compared >= 7, "compared {compared} report outputs");

    // The manifest names the catalog and every file it mapped.
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(by_catalog.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert!(
        manifest["data"]
            .as_str()
            .is_some_and(|d| d.ends_with("mapped/almanac.toml")),
        "{}",
        manifest["data"]
    );
    let inputs = manifest["inputs"].as_object().expect("inputs");
    for key in [
        "almanac.toml",
        "ref/capital.csv",
        "ref/fx.csv",
        "market/zero_curves.parquet",
    ] {
        assert!(inputs.contains_key(key), "{key} not in {inputs:?}");
    }
    assert!(
        inputs
            .keys()
            .any(|k| k.starts_with("raw/positions/as_of_date=2025-12-31/")),
        "{inputs:?}"
    );

    // An almanac.toml at the root of --data is used without being named;
    // the CSV columns have the types the catalog gives.
    let types = ok(
        almanac(&[
            "sql",
            "--data",
            utf8(&mapped),
            "--format",
            "csv",
            "-c",
            "SELECT arrow_typeof(tier1_capital) AS t, arrow_typeof(as_of_date) AS d FROM capital",
        ]),
        "catalog at the root",
    );
    assert_eq!(types, "t,d\nFloat64,Date32\n");
}

#[test]
fn lake_mistakes_name_the_table_the_file_and_the_value() {
    let work = tempfile::tempdir().expect("tmp");
    let bank = work.path().join("bank");
    generate(&bank, "50", "3");
    let data = utf8(&bank);

    // A snapshot written with another type for a column.
    let lake = work.path().join("lake");
    fs::create_dir_all(&lake).expect("mkdir");
    fs::copy(bank.join("curves.parquet"), lake.join("curves.parquet")).expect("copy");
    let copy = mismatched_snapshots_sql(&lake.join("instruments"));
    ok(
        almanac(&["sql", "--data", data, "-c", &copy]),
        "writing two snapshots",
    );
    let e = failure(almanac(&["sql", "--data", utf8(&lake), "-c", "SELECT 1"]));
    assert!(
        e.contains("table 'instruments'")
            && e.contains("disagree on column 'balance'")
            && e.contains("Float64 in file:///")
            && e.contains("as_of_date=2025-12-31/")
            && e.contains("as_of_date=2025-11-30/"),
        "{e}"
    );

    // Catalog mistakes.
    let catalog = work.path().join("almanac.toml");
    let with_catalog = |text: &str| {
        fs::write(&catalog, text).expect("write catalog");
        failure(almanac(&[
            "sql",
            "--data",
            utf8(&catalog),
            "-c",
            "SELECT 1",
        ]))
    };
    let bank_file = |table: &str| utf8(&bank.join(format!("{table}.parquet"))).to_string();
    let e = with_catalog(&format!(
        "[tables.capital]\nlocation = \"{}\"\nformat = \"parquet\"\ncolumns = {{ tier1 = \"double\" }}",
        bank_file("capital")
    ));
    assert!(
        e.contains(
            "almanac.toml: table 'capital': delimiter, header and columns are for format = \"csv\""
        ),
        "{e}"
    );
    fs::write(
        work.path().join("capital.csv"),
        "as_of_date,tier1\n2025-12-31,100\n",
    )
    .expect("csv");
    let e = with_catalog(
        "[tables.capital]\nlocation = \"capital.csv\"\nformat = \"csv\"\ncolumns = { tier1_capital = \"double\" }",
    );
    assert!(
        e.contains("table 'capital'")
            && e.contains("the catalog types column 'tier1_capital', which the file does not have (it has: as_of_date, tier1)"),
        "{e}"
    );
    let e = with_catalog("[tables.curves]\nlocation = \"no_such_file.parquet\"");
    assert!(
        e.contains("table 'curves'")
            && e.contains("no_such_file.parquet")
            && e.contains("no file at this location"),
        "{e}"
    );
    let e = with_catalog("[tables.curves\nlocation = 1");
    assert!(e.contains("catalog file://") && e.contains("line 1"), "{e}");
    let e = failure(almanac(&[
        "sql",
        "--data",
        utf8(&work.path().join("missing.toml")),
        "-c",
        "SELECT 1",
    ]));
    assert!(e.contains("missing.toml does not exist"), "{e}");
}
