//! The lake in an S3-compatible object store: a local moto server (PyPI
//! `moto[server]`, in a venv made here) holds the demo bank, flat and
//! Hive-partitioned by `as_of_date`; every report run from `s3://` equals the
//! local run, partition pruning lists fewer files, results are written back
//! with COPY and read again, and store failures give plain messages.

mod support;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use support::{run, venv, ROOT};

const ALMANAC: &str = env!("CARGO_BIN_EXE_almanac");

/// A moto S3 server on a free loopback port, stopped on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Self {
        let python = venv("moto", "requirements-moto.txt");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = python.with_file_name("moto_server");
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    fn upload(&self, bucket: &str, prefix: &str, folder: &Path) {
        let python = venv("moto", "requirements-moto.txt");
        run(
            Command::new(python)
                .arg(Path::new(ROOT).join("tests/python/upload_lake.py"))
                .args([&self.endpoint, bucket, prefix])
                .arg(folder),
            "uploading the lake",
        );
    }

    /// `almanac` with the S3 environment pointing at this server.
    fn almanac(&self, args: &[&str]) -> Output {
        Command::new(ALMANAC)
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .expect("run almanac")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failure(out: Output) -> String {
    assert!(!out.status.success(), "should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Two CSV files equal cell by cell, numbers within one unit of their rounding
/// (partial sums may add in another order between runs).
fn same_csv(a: &str, b: &str, name: &str) {
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

#[test]
fn the_lake_in_s3() {
    let moto = Moto::start();
    let demo = Path::new(ROOT).join("datasets/demo");
    moto.upload("bank", "demo", &demo);

    // A partitioned copy: two instrument snapshots, one folder per as_of_date.
    let work = tempfile::tempdir().expect("tmp");
    let lake = work.path().join("partitioned");
    std::fs::create_dir_all(&lake).expect("mkdir");
    for table in ["curves", "capital", "fx_rates"] {
        std::fs::copy(
            demo.join(format!("{table}.parquet")),
            lake.join(format!("{table}.parquet")),
        )
        .expect("copy");
    }
    let instruments = lake.join("instruments");
    let copy = format!(
        "COPY (SELECT *, DATE '2025-12-31' AS as_of_date FROM instruments) TO '{0}/' \
           STORED AS PARQUET PARTITIONED BY (as_of_date); \
         COPY (SELECT *, DATE '2025-11-30' AS as_of_date FROM instruments WHERE balance > 1e6) TO '{0}/' \
           STORED AS PARQUET PARTITIONED BY (as_of_date)",
        instruments.display()
    );
    ok(
        moto.almanac(&["sql", "-c", &copy]),
        "making the partitioned lake",
    );
    moto.upload("bank", "partitioned", &lake);

    // 1. Every report from s3:// equals the local run.
    let local = work.path().join("local");
    let remote = work.path().join("remote");
    ok(
        moto.almanac(&["report", "--out", local.to_str().expect("utf8")]),
        "local reports",
    );
    ok(
        moto.almanac(&[
            "report",
            "--data",
            "s3://bank/demo",
            "--out",
            remote.to_str().expect("utf8"),
        ]),
        "reports from s3",
    );
    let mut compared = 0;
    for entry in std::fs::read_dir(&local).expect("outputs") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "csv") {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let a = std::fs::read_to_string(&path).expect("local csv");
            let b = std::fs::read_to_string(remote.join(&name)).expect("remote csv");
            same_csv(&a, &b, &name);
            compared += 1;
        }
    }
    assert!(compared >= 7, "compared {compared} report outputs");
    let manifest = std::fs::read_to_string(remote.join("manifest.json")).expect("manifest");
    assert!(
        manifest.contains("instruments.parquet") && manifest.contains("etag"),
        "{manifest}"
    );

    // 2. The partitioned lake: the snapshot column, and pruning by it.
    let counts = ok(
        moto.almanac(&[
            "sql",
            "--data",
            "s3://bank/partitioned",
            "--format",
            "csv",
            "-c",
            "SELECT as_of_date, COUNT(*) AS n FROM instruments GROUP BY 1 ORDER BY 1",
        ]),
        "partitions",
    );
    let lines: Vec<&str> = counts.lines().collect();
    assert_eq!(lines[0], "as_of_date,n");
    assert!(
        lines[1].starts_with("2025-11-30,") && lines[2] == "2025-12-31,10000",
        "{counts}"
    );
    let files = |sql: &str| {
        let plan = ok(
            moto.almanac(&[
                "sql",
                "--data",
                "s3://bank/partitioned",
                "--format",
                "csv",
                "-c",
                sql,
            ]),
            "explain",
        );
        plan.matches("instruments/as_of_date=").count()
    };
    let all = files("EXPLAIN SELECT SUM(balance) FROM instruments");
    let one =
        files("EXPLAIN SELECT SUM(balance) FROM instruments WHERE as_of_date = DATE '2025-12-31'");
    let snapshot =
        files("EXPLAIN SELECT COUNT(*) FROM cashflows('instruments', DATE '2025-12-31')");
    assert_eq!(
        (all, one, snapshot),
        (2, 1, 1),
        "files read: all, filtered, cashflows"
    );
    // cashflows() on the partitioned lake reads the as-of snapshot only: the same as the flat lake.
    let sum = "SELECT COUNT(*) AS n, ROUND(SUM(total), 2) AS total FROM cashflows('instruments', DATE '2025-12-31')";
    let flat = ok(
        moto.almanac(&[
            "sql",
            "--data",
            "s3://bank/demo",
            "--format",
            "csv",
            "-c",
            sum,
        ]),
        "flat",
    );
    let parted = ok(
        moto.almanac(&[
            "sql",
            "--data",
            "s3://bank/partitioned",
            "--format",
            "csv",
            "-c",
            sum,
        ]),
        "parted",
    );
    same_csv(&flat, &parted, "cashflows by snapshot");

    // 3. Written back and read again.
    let round_trip = ok(
        moto.almanac(&[
            "sql",
            "--data",
            "s3://bank/demo",
            "--format",
            "csv",
            "-c",
            "COPY (SELECT currency, SUM(balance) AS balance FROM instruments GROUP BY 1) \
               TO 's3://bank/results/balances.parquet'; \
             SELECT COUNT(*) AS n FROM 's3://bank/results/balances.parquet'",
        ]),
        "COPY to s3",
    );
    assert!(round_trip.trim_end().ends_with("n\n2"), "{round_trip}");

    // 4. Failures in plain words.
    let e = failure(moto.almanac(&[
        "sql",
        "--data",
        "s3://no-such-bucket/lake",
        "-c",
        "SELECT 1",
    ]));
    assert!(e.contains("the bucket does not exist"), "{e}");
    let e = failure(moto.almanac(&["sql", "--data", "s3://bank/nothing-here", "-c", "SELECT 1"]));
    assert!(
        e.contains("no Parquet tables in s3://bank/nothing-here/"),
        "{e}"
    );
    let closed = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let out = Command::new(ALMANAC)
        .args(["sql", "--data", "s3://bank/demo", "-c", "SELECT 1"])
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run");
    let e = failure(out);
    assert!(e.contains("cannot be reached"), "{e}");
}
