//! The lake in an S3-compatible object store: a local moto server (PyPI
//! `moto[server]`, in a venv made here) holds the demo bank, flat and
//! Hive-partitioned by `as_of_date`; every report run from `s3://` equals the
//! local run, partition pruning lists fewer files, results are written back
//! with COPY and `report --out s3://…` and read again, a catalog in the bucket
//! maps tables across prefixes (Parquet and CSV), `almanac serve` serves the
//! S3 lake over Flight SQL, and store failures (unknown bucket, refused
//! credentials, unreachable endpoint) give plain messages.

mod support;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use support::{failure, mismatched_snapshots_sql, ok, run, same_csv, venv, ROOT};

const ALMANAC: &str = env!("CARGO_BIN_EXE_almanac");

const GET_OBJECT: &str = "import sys, boto3
endpoint, bucket, key = sys.argv[1:4]
s3 = boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1',
                  aws_access_key_id='test', aws_secret_access_key='test')
sys.stdout.write(s3.get_object(Bucket=bucket, Key=key)['Body'].read().decode())";

/// A moto S3 server on a free loopback port, stopped on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// `env` configures moto, e.g. `INITIAL_NO_AUTH_ACTION_COUNT=0` to check every signature.
    fn start_with(env: &[(&str, &str)]) -> Self {
        let python = venv("moto", "requirements-moto.txt");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = python.with_file_name("moto_server");
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
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
        self.command(args).output().expect("run almanac")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(ALMANAC);
        command
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
        command
    }

    /// `almanac sql --data DATA --format csv -c SQL`.
    fn sql_csv(&self, data: &str, sql: &str) -> Output {
        self.almanac(&["sql", "--data", data, "--format", "csv", "-c", sql])
    }

    /// The text of `s3://bucket/key`.
    fn get(&self, bucket: &str, key: &str) -> String {
        let python = venv("moto", "requirements-moto.txt");
        run(
            Command::new(python).args(["-c", GET_OBJECT, &self.endpoint, bucket, key]),
            "reading an object back",
        )
    }

    /// Uploads one file's `bytes` as `s3://bucket/key`.
    fn put(&self, bucket: &str, key: &str, bytes: &str) {
        let folder = tempfile::tempdir().expect("tmp");
        let (prefix, name) = key.rsplit_once('/').expect("a key with a folder");
        std::fs::write(folder.path().join(name), bytes).expect("write");
        self.upload(bucket, prefix, folder.path());
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One test at a time: `the_lake_in_s3` expects a port it has just closed to
/// stay closed, and the other test's S3 server, starting in parallel, once
/// took that port (and answered "credentials refused").
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_lake_in_s3() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
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
        moto.sql_csv(
            "s3://bank/partitioned",
            "SELECT as_of_date, COUNT(*) AS n FROM instruments GROUP BY 1 ORDER BY 1",
        ),
        "partitions",
    );
    let lines: Vec<&str> = counts.lines().collect();
    assert_eq!(lines[0], "as_of_date,n");
    assert!(
        lines[1].starts_with("2025-11-30,") && lines[2] == "2025-12-31,10000",
        "{counts}"
    );
    let files = |sql: &str| {
        let plan = ok(moto.sql_csv("s3://bank/partitioned", sql), "explain");
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
    let flat = ok(moto.sql_csv("s3://bank/demo", sum), "flat");
    let parted = ok(moto.sql_csv("s3://bank/partitioned", sum), "parted");
    same_csv(&flat, &parted, "cashflows by snapshot");

    // 3. Written back and read again.
    let round_trip = ok(
        moto.sql_csv(
            "s3://bank/demo",
            "COPY (SELECT currency, SUM(balance) AS balance FROM instruments GROUP BY 1) \
               TO 's3://bank/results/balances.parquet'; \
             SELECT COUNT(*) AS n FROM 's3://bank/results/balances.parquet'",
        ),
        "COPY to s3",
    );
    assert!(round_trip.trim_end().ends_with("n\n2"), "{round_trip}");

    // 4. A report pack written to the bucket. Each object is one PUT, whole or
    //    absent; the manifest comes last. The result prefix is itself a lake.
    let eve_only = work.path().join("eve-only");
    std::fs::create_dir_all(&eve_only).expect("mkdir");
    std::fs::copy(
        Path::new(ROOT).join("sql/eve_sensitivity.sql"),
        eve_only.join("eve_sensitivity.sql"),
    )
    .expect("copy report");
    let eve_only = eve_only.to_str().expect("utf8");
    ok(
        moto.almanac(&[
            "report",
            "--data",
            "s3://bank/demo",
            "--sql-dir",
            eve_only,
            "--out",
            "s3://bank/results/2025-12-31",
        ]),
        "report --out s3://",
    );
    let results = |sql: &str| ok(moto.sql_csv("s3://bank/results/2025-12-31", sql), sql);
    assert_eq!(
        results(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1"
        ),
        "table_name\neve_sensitivity_1\neve_sensitivity_2\n"
    );
    let local_csv =
        |stem: &str| std::fs::read_to_string(local.join(format!("{stem}.csv"))).expect("local csv");
    for stem in ["eve_sensitivity_1", "eve_sensitivity_2"] {
        let back = results(&format!("SELECT * FROM {stem}"));
        same_csv(&local_csv(stem), &back, stem);
    }
    let manifest = moto.get("bank", "results/2025-12-31/manifest.json");
    assert!(
        manifest.contains("\"eve_sensitivity_2.parquet\"") && manifest.contains("s3://bank/demo/"),
        "{manifest}"
    );

    // 5. A catalog in the bucket maps tables across prefixes, Parquet and CSV.
    let capital = ok(
        moto.almanac(&["sql", "--format", "csv", "-c", "SELECT * FROM capital"]),
        "capital",
    );
    moto.put(
        "bank",
        "mapped/reference/capital.csv",
        &capital.replace(',', ";"),
    );
    moto.put(
        "bank",
        "mapped/almanac.toml",
        r#"[tables.instruments]
location = "s3://bank/partitioned/instruments/"
[tables.curves]
location = "../demo/curves.parquet"
[tables.fx_rates]
location = "s3://bank/demo/fx_rates.parquet"
[tables.capital]
location = "reference/capital.csv"
format = "csv"
delimiter = ";"
columns = { tier1_capital = "double" }
"#,
    );
    let mapped = work.path().join("mapped");
    ok(
        moto.almanac(&[
            "report",
            "--data",
            "s3://bank/mapped",
            "--sql-dir",
            eve_only,
            "--out",
            mapped.to_str().expect("utf8"),
        ]),
        "reports through an S3 catalog",
    );
    for stem in ["eve_sensitivity_1", "eve_sensitivity_2"] {
        let through_catalog =
            std::fs::read_to_string(mapped.join(format!("{stem}.csv"))).expect("csv");
        same_csv(&local_csv(stem), &through_catalog, stem);
    }

    // 6. `almanac serve` on the S3 lake (through its catalog file) over Flight SQL.
    let mut server = moto
        .command(&[
            "serve",
            "--data",
            "s3://bank/mapped/almanac.toml",
            "--sql-dir",
            eve_only,
            "--addr",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start almanac serve");
    let addr = listening_address(&mut server);
    let served = flight_csv(&addr, "SELECT * FROM reports.eve_sensitivity_1");
    let _ = server.kill();
    let _ = server.wait();
    same_csv(&local_csv("eve_sensitivity_1"), &served, "served from s3");

    // 7. Keys from an AWS profile when the environment has none.
    let aws = work.path().join("aws-credentials");
    std::fs::write(
        &aws,
        "[default]\naws_access_key_id = wrong\n[alm]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .expect("credentials file");
    let with_profile = |profile: &str| {
        moto.command(&[
            "sql",
            "--data",
            "s3://bank/demo",
            "--format",
            "csv",
            "-c",
            "SELECT COUNT(*) AS n FROM capital",
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_SHARED_CREDENTIALS_FILE", &aws)
        .env("AWS_CONFIG_FILE", work.path().join("no-config"))
        .env("AWS_PROFILE", profile)
        .output()
        .expect("run almanac")
    };
    assert_eq!(ok(with_profile("alm"), "keys from a profile"), "n\n1\n");
    let e = failure(with_profile("nobody"));
    assert!(e.contains("AWS_PROFILE=nobody: no such profile"), "{e}");

    // 8. A snapshot written with other column types is named, files and all.
    let bad = work.path().join("bad");
    let folder = bad.join("instruments");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::copy(demo.join("curves.parquet"), bad.join("curves.parquet")).expect("copy");
    let copy = mismatched_snapshots_sql(&folder);
    ok(moto.almanac(&["sql", "-c", &copy]), "a mismatched snapshot");
    moto.upload("bank", "bad", &bad);
    let e = failure(moto.almanac(&["sql", "--data", "s3://bank/bad", "-c", "SELECT 1"]));
    assert!(
        e.contains("table 'instruments' (s3://bank/bad/instruments/)")
            && e.contains("disagree on column 'balance'")
            && e.contains("s3://bank/bad/instruments/as_of_date=2025-11-30/"),
        "{e}"
    );

    // 9. Failures in plain words.
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

/// Waits for `almanac serve` to say where it listens; its address. Its
/// stderr (the query log) is drained meanwhile, so the server never writes
/// into a closed pipe.
fn listening_address(server: &mut Child) -> String {
    use std::io::BufRead;
    let stderr = server.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = Vec::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = line.split("listening on grpc://").nth(1) {
                let _ = tx.send(Ok(addr.trim().to_string()));
            }
            said.push(line);
        }
        let _ = tx.send(Err(said.join("\n")));
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(addr)) => addr,
        Ok(Err(said)) => panic!("almanac serve stopped before listening:\n{said}"),
        Err(e) => panic!("almanac serve did not say where it listens: {e}"),
    }
}

/// A query over Flight SQL, as CSV.
fn flight_csv(addr: &str, sql: &str) -> String {
    use arrow_flight::sql::client::FlightSqlServiceClient;
    use futures::TryStreamExt;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let batches = runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let mut client = FlightSqlServiceClient::new(channel);
        let info = client
            .execute(sql.to_string(), None)
            .await
            .expect("execute");
        let mut batches = Vec::new();
        for endpoint in info.endpoint {
            let ticket = endpoint.ticket.expect("ticket");
            let stream = client.do_get(ticket).await.expect("do_get");
            batches.extend(stream.try_collect::<Vec<_>>().await.expect("batches"));
        }
        batches
    });
    let mut csv = Vec::new();
    {
        let mut writer = datafusion::arrow::csv::Writer::new(&mut csv);
        for batch in &batches {
            writer.write(batch).expect("csv");
        }
    }
    String::from_utf8(csv).expect("utf8")
}

/// A store that checks signatures refuses unknown keys, and says so.
#[test]
fn refused_credentials_are_named() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let e = failure(moto.almanac(&["sql", "--data", "s3://bank/demo", "-c", "SELECT 1"]));
    assert!(
        e.contains("s3://bank/demo/")
            && e.contains("the credentials were refused")
            && e.contains("InvalidAccessKeyId: The AWS Access Key Id you provided does not exist"),
        "{e}"
    );
}
