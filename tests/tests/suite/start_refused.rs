//! A typo'd port at start-up, through pool-sqlx's door and real sockets: an eager start
//! against a port nobody listens on ends within the connect timeout with the refusal
//! itself, and the retries behind it log nothing: the error they end in is the caller's
//! to report (once). Needs no database server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use pool_sqlx::{
    Backend, Config, PoolError, StartError,
    sqlx::{MySql, Postgres},
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A loopback port that refuses connections: bound, then released.
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Everything a `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn start<DB: Backend>(url: &str) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let config = Config::from_url(url).unwrap();
    let started = Instant::now();
    let result = config
        .pool_builder::<DB>("typo")
        .unwrap()
        .connect_timeout(CONNECT_TIMEOUT)
        .build_and_connect()
        .await;
    let took = started.elapsed();
    let Err(error) = result else {
        panic!("{url}: something listens on the refused port");
    };
    assert!(
        matches!(&error, StartError::Connect(PoolError::Connect(_))),
        "{url}: the refusal itself, not a timeout: {error}"
    );
    let shown = error.to_string();
    assert!(shown.to_lowercase().contains("refused"), "{url}: {shown}");
    // Within the connect timeout, with room for a loaded machine's scheduling.
    assert!(
        took < CONNECT_TIMEOUT + Duration::from_millis(500),
        "{url}: took {took:?}"
    );
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = log.lines().filter(|line| line.contains("WARN")).collect();
    assert!(
        warnings.is_empty(),
        "{url}: the error is returned, not also logged:\n{log}"
    );
    println!("{url}: failed after {took:?}, nothing logged: {shown}");
}

#[tokio::test]
async fn a_refused_postgres_port_fails_the_start_within_the_connect_timeout() {
    let port = refused_port();
    start::<Postgres>(&format!("postgres://postgres@127.0.0.1:{port}/test")).await;
}

#[tokio::test]
async fn a_refused_mysql_port_fails_the_start_within_the_connect_timeout() {
    let port = refused_port();
    start::<MySql>(&format!("mysql://root@127.0.0.1:{port}/test")).await;
}
