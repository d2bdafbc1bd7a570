//! The `service` example as a process: started on a free loopback port, its endpoints
//! called, then SIGTERM sent while a request is in flight.
//!
//! The binary is the example `cargo test` builds beside this test
//! (`tests::example_run::example`). No cargo runs from inside the test (the running
//! `cargo test` may hold the build lock).
//!
//! The client is a few lines of HTTP/1.1 over `tokio::net::TcpStream`
//! (`Connection: close`, body read to the end): enough for this server, no extra
//! dependency to compile. Every wait is bounded; the child is killed if the test fails.
#![cfg(unix)]

use std::{process::Stdio, time::Duration};

use pool_sqlx::{Config, Preset};
use tests::example_run::{refused_port, run_bounded};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
    sync::mpsc,
    time::{Instant, timeout},
};

/// Bound on every single wait of this test.
const WAIT: Duration = Duration::from_secs(20);

/// One HTTP response.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: String,
    body: String,
}

/// Sends `method path` with `Connection: close` and reads the whole response.
async fn request(address: &str, method: &str, path: &str) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(address).await?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| invalid(&format!("no complete response: {raw:?}")))?;
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(&format!("bad status line: {status_line:?}")))?;
    Ok(Response {
        status,
        headers: headers.to_ascii_lowercase(),
        body: body.to_owned(),
    })
}

/// The child's stdout, line by line.
struct Output {
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Output {
    /// Waits (bounded) for a line containing `needle` and returns it.
    async fn wait_for(&mut self, needle: &str) -> String {
        let until = Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(until, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Ok(None) => panic!("stdout closed before {needle:?}; it said {:?}", self.seen),
                Err(_) => panic!(
                    "no {needle:?} on stdout within {WAIT:?}; it said {:?}",
                    self.seen
                ),
            }
        }
    }

    /// Everything until stdout closes (bounded).
    async fn rest(&mut self) -> Vec<String> {
        let until = Instant::now() + WAIT;
        while let Ok(Some(line)) = tokio::time::timeout_at(until, self.lines.recv()).await {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}

/// The service on SQLite in a temp file, whatever the environment says.
fn start_service() -> (Child, Output) {
    start_service_with(&[])
}

/// The service with `env` set (`DATABASE_URL`, `POOL_BINDING`), nothing else inherited
/// that would change it.
fn start_service_with(env: &[(&str, &str)]) -> (Child, Output) {
    let mut command = Command::new(tests::example_run::example("service"));
    command
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("POOL_BINDING")
        .env_remove("LISTEN")
        .env_remove("POOL_PRESET");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // A failing test unwinds through the `Child`: it takes the process with it.
        .kill_on_drop(true)
        .spawn()
        .expect("the service binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    (
        child,
        Output {
            lines,
            seen: Vec::new(),
        },
    )
}

fn json(response: &Response) -> serde_json::Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {:?}", response.body))
}

#[tokio::test]
async fn service_serves_health_metrics_and_visits_then_drains_on_sigterm() {
    let (mut child, mut stdout) = start_service();
    let listening = stdout.wait_for("listening on http://").await;
    let address = listening
        .rsplit("http://")
        .next()
        .expect("an address after http://")
        .trim()
        .to_owned();
    assert!(
        address.starts_with("127.0.0.1:") && !address.ends_with(":0"),
        "the bound address, not the requested one: {address}"
    );

    // /health: 200 and the report, healthy.
    let health = timeout(WAIT, request(&address, "GET", "/health"))
        .await
        .expect("/health answers in time")
        .expect("/health answers");
    assert_eq!(health.status, 200, "{health:?}");
    assert!(health.headers.contains("content-type: application/json"));
    let report = json(&health);
    assert_eq!(report["status"], "healthy", "{report}");
    assert_eq!(report["backend"], "sqlite", "{report}");
    assert_eq!(report["check"]["ok"], true, "{report}");

    // The repository: two visits counted, then read back; an unknown name is 0.
    for expected in 1..=2 {
        let visit = timeout(WAIT, request(&address, "POST", "/visits/ada"))
            .await
            .expect("POST /visits answers in time")
            .expect("POST /visits answers");
        assert_eq!(visit.status, 200, "{visit:?}");
        assert_eq!(json(&visit)["visits"], expected);
    }
    let read = request(&address, "GET", "/visits/ada").await.unwrap();
    assert_eq!(
        (read.status, json(&read)["visits"].clone()),
        (200, 2.into())
    );
    let unknown = request(&address, "GET", "/visits/nobody").await.unwrap();
    assert_eq!(json(&unknown)["visits"], 0);

    // Every error is JSON: a query string axum cannot read, a route that does not exist,
    // a name that is too long.
    for (path, status) in [
        ("/slow?ms=abc", 400),
        ("/slow", 400),
        ("/no-such-route", 404),
        (&*format!("/visits/{}", "x".repeat(65)), 400),
    ] {
        let answer = timeout(WAIT, request(&address, "GET", path))
            .await
            .expect("an error answers in time")
            .expect("an error answers");
        assert_eq!(answer.status, status, "{path}: {answer:?}");
        assert!(
            answer.headers.contains("content-type: application/json"),
            "{path}: {answer:?}"
        );
        assert!(json(&answer)["error"].is_string(), "{path}: {answer:?}");
    }

    // /metrics: Prometheus text with the pool's and the policies' documented names,
    // counting what was just done.
    let metrics = timeout(WAIT, request(&address, "GET", "/metrics"))
        .await
        .expect("/metrics answers in time")
        .expect("/metrics answers");
    assert_eq!(metrics.status, 200);
    assert!(metrics.headers.contains("content-type: text/plain"));
    for expected in [
        "# TYPE pool_checkouts_total counter",
        "pool_connections_created_total{pool=\"service\"}",
        "pool_calls_total{function=\"service::sqlite::visit\",outcome=\"ok\"} 2",
        "pool_breaker_state{breaker=\"db\"} 0",
        // A histogram with the library's buckets, not a summary.
        "# TYPE pool_acquire_duration_seconds histogram",
        "pool_acquire_duration_seconds_bucket{pool=\"service\",le=\"0.0001\"}",
    ] {
        assert!(
            metrics.body.contains(expected),
            "/metrics lacks {expected:?}:\n{}",
            metrics.body
        );
    }

    // A slow request holds a connection for 1.5 s; once the pool shows it checked out,
    // SIGTERM.
    let slow = tokio::spawn({
        let address = address.clone();
        async move { request(&address, "GET", "/slow?ms=1500").await }
    });
    let until = Instant::now() + WAIT;
    loop {
        let report = json(&request(&address, "GET", "/health").await.unwrap());
        if report["connections"]["in_use"].as_u64() >= Some(1) {
            break;
        }
        assert!(
            Instant::now() < until,
            "/slow never checked a connection out"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = child.id().expect("the service is running").to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(kill.success());
    let started = stdout.wait_for("shutting down").await;
    assert!(
        started.contains("1 request(s) in flight"),
        "the slow request is in flight: {started}"
    );

    // Shutdown has begun and a request is still in flight: a new request is answered
    // 503, in JSON, and asked to close its connection (not refused at the door).
    let refused = timeout(WAIT, request(&address, "GET", "/visits/ada"))
        .await
        .expect("a request during shutdown ends in time")
        .expect("a request during shutdown is answered, not refused");
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.headers.contains("connection: close"), "{refused:?}");
    assert!(
        refused.headers.contains("content-type: application/json"),
        "{refused:?}"
    );
    assert_eq!(json(&refused)["error"], "shutting down");

    // The request in flight completes.
    let slow = timeout(WAIT, slow)
        .await
        .expect("/slow ends in time")
        .expect("the /slow task does not panic")
        .expect("/slow gets an answer");
    assert_eq!(slow.status, 200, "{slow:?}");
    assert_eq!(json(&slow)["held_ms"], 1500);

    // The process exits 0 and reports the drain.
    let exit = timeout(WAIT, child.wait())
        .await
        .expect("the service exits in time")
        .expect("the exit status is readable");
    assert!(exit.success(), "exit status {exit}");
    let said = stdout.rest().await.join("\n");
    assert!(
        said.contains("shutdown (sigterm)")
            && said.contains("1 request(s) in flight at the start, 0 abandoned"),
        "{said}"
    );
    assert!(said.contains("pool `service` closed"), "{said}");
}

/// The same service on pool-postgres (`POOL_BINDING=pool-postgres`): the same routes,
/// health JSON and metric names, the repository's calls named after its module.
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn service_on_pool_postgres_serves_the_same_routes_health_and_metrics() {
    let Some(db) = tests::db::postgres("service_pool_postgres").await else {
        return;
    };
    let (mut child, mut stdout) = start_service_with(&[
        ("DATABASE_URL", db.url.as_str()),
        ("POOL_BINDING", "pool-postgres"),
    ]);
    let database = stdout.wait_for("database: ").await;
    assert!(database.contains("pool-postgres"), "{database}");
    let listening = stdout.wait_for("listening on http://").await;
    let address = listening
        .rsplit("http://")
        .next()
        .expect("an address after http://")
        .trim()
        .to_owned();

    let health = timeout(WAIT, request(&address, "GET", "/health"))
        .await
        .expect("/health answers in time")
        .expect("/health answers");
    assert_eq!(health.status, 200, "{health:?}");
    let report = json(&health);
    assert_eq!(report["status"], "healthy", "{report}");
    assert_eq!(report["backend"], "postgres", "{report}");
    assert_eq!(report["check"]["ok"], true, "{report}");

    for expected in 1..=2 {
        let visit = timeout(WAIT, request(&address, "POST", "/visits/ada"))
            .await
            .expect("POST /visits answers in time")
            .expect("POST /visits answers");
        assert_eq!(visit.status, 200, "{visit:?}");
        assert_eq!(json(&visit)["visits"], expected);
    }
    let unknown = request(&address, "GET", "/visits/nobody").await.unwrap();
    assert_eq!(json(&unknown)["visits"], 0);

    let metrics = timeout(WAIT, request(&address, "GET", "/metrics"))
        .await
        .expect("/metrics answers in time")
        .expect("/metrics answers");
    for expected in [
        "pool_connections_created_total{pool=\"service\"}",
        "pool_calls_total{function=\"service::tokio_postgres::visit\",outcome=\"ok\"} 2",
        "pool_breaker_state{breaker=\"db\"} 0",
        "pool_acquire_duration_seconds_bucket{pool=\"service\",le=\"0.0001\"}",
    ] {
        assert!(
            metrics.body.contains(expected),
            "/metrics lacks {expected:?}:\n{}",
            metrics.body
        );
    }

    let pid = child.id().expect("the service is running").to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(kill.success());
    let exit = timeout(WAIT, child.wait())
        .await
        .expect("the service exits in time")
        .expect("the exit status is readable");
    assert!(exit.success(), "exit status {exit}");
    let said = stdout.rest().await.join("\n");
    assert!(said.contains("pool `service` closed"), "{said}");
    db.cleanup().await;
}

/// `POOL_BINDING` names a binding that does not exist: one error line, exit 1 (the usage
/// error), before any connect.
#[test]
fn a_bogus_pool_binding_is_one_error_line() {
    let mut command = service();
    command
        .env_remove("DATABASE_URL")
        .env("POOL_BINDING", "pool-odbc");
    let run = run_bounded(command, Duration::from_secs(30));
    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert_eq!(
        run.stderr.trim(),
        "error: POOL_BINDING is `pool-sqlx` (the default) or `pool-postgres`",
        "{run:#?}"
    );
}

/// Slack on top of a timeout for the process to start and exit.
const MARGIN: Duration = Duration::from_secs(2);

fn service() -> std::process::Command {
    let mut command = std::process::Command::new(tests::example_run::example("service"));
    command
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("LISTEN")
        .env_remove("POOL_PRESET")
        .env_remove("RUST_LOG");
    command
}

/// `DATABASE_URL` with a port nothing listens on: the pool opens its first connection
/// before the service listens, so the program ends with one line on stderr within the
/// connect timeout, and never says `listening`.
#[test]
fn a_refused_database_ends_the_service_with_one_line_within_the_connect_timeout() {
    let url = format!("postgres://postgres@127.0.0.1:{}/test", refused_port());
    let connect_timeout = Config::from_url(&url)
        .expect("a valid URL")
        .with_preset(Preset::Production)
        .settings()
        .connect_timeout;
    let mut command = service();
    command.env("DATABASE_URL", &url);
    let run = run_bounded(command, connect_timeout + Duration::from_secs(150));
    eprintln!(
        "service, refused port: exit {} after {:?}, stderr: {:?}",
        run.status, run.took, run.stderr
    );
    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert!(
        run.took <= connect_timeout + MARGIN,
        "took {:?} (connect timeout {connect_timeout:?})",
        run.took
    );
    assert!(!run.stdout.contains("listening"), "{}", run.stdout);
    run.assert_refused_start();
}

#[test]
fn a_bogus_pool_preset_is_one_error_line() {
    let mut command = service();
    command
        .env_remove("DATABASE_URL")
        .env("POOL_PRESET", "bogus");
    run_bounded(command, Duration::from_secs(30)).assert_bogus_preset();
}
