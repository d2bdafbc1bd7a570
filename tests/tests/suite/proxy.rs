//! The fault proxy does what each mode says, against a local echo server and a real
//! PostgreSQL.

use std::time::Duration;

use pool_sqlx::{
    Classify, ErrorClass,
    sqlx::{self, Connection, PgConnection},
};
use tests::{
    db,
    proxy::{FaultProxy, Mode},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::{Instant, timeout},
};

/// An echo server on loopback; ends with the test's runtime.
async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buffer).await {
                    if n == 0 || stream.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn round_trip(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    stream.write_all(b"ping").await.ok()?;
    let mut buffer = [0u8; 4];
    match timeout(limit, stream.read_exact(&mut buffer)).await {
        Ok(Ok(_)) => Some(buffer.to_vec()),
        _ => None,
    }
}

#[tokio::test]
async fn each_mode_does_what_it_says() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(
        round_trip(&mut stream, Duration::from_secs(5))
            .await
            .as_deref(),
        Some(&b"ping"[..])
    );

    proxy.set(Mode::Latency(Duration::from_millis(100)));
    let started = Instant::now();
    assert!(
        round_trip(&mut stream, Duration::from_secs(5))
            .await
            .is_some()
    );
    // One delay each way.
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );

    proxy.set(Mode::Stall);
    assert!(
        round_trip(&mut stream, Duration::from_millis(300))
            .await
            .is_none(),
        "nothing comes back while stalled"
    );
    proxy.set(Mode::Pass);
    let mut held = [0u8; 4];
    timeout(Duration::from_secs(5), stream.read_exact(&mut held))
        .await
        .expect("the stalled bytes arrive once it passes again")
        .unwrap();
    assert_eq!(&held, b"ping");

    proxy.set(Mode::Reset);
    let mut buffer = [0u8; 4];
    let read = timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .expect("the reset arrives");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        proxy
            .counters()
            .reset
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );

    proxy.set(Mode::Refuse);
    // The accept loop closes its port when it sees the mode.
    let mut refused = false;
    for _ in 0..100 {
        match TcpStream::connect(proxy.addr()).await {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => tokio::task::yield_now().await,
        }
    }
    assert!(refused, "new connections are refused");

    proxy.set(Mode::Pass);
    let mut again = None;
    for _ in 0..100 {
        if let Ok(stream) = TcpStream::connect(proxy.addr()).await {
            again = Some(stream);
            break;
        }
        tokio::task::yield_now().await;
    }
    let mut again = again.expect("the port opens again");
    assert!(
        round_trip(&mut again, Duration::from_secs(5))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn only_loopback_upstreams_are_accepted() {
    let error = FaultProxy::start("10.0.0.1:5432".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn a_reset_reaches_postgres_clients_as_a_connection_error() {
    let Some(db) = db::postgres("proxy_reset").await else {
        return;
    };
    let proxy = FaultProxy::for_url(&db.url).await.unwrap();
    let mut conn = PgConnection::connect(&proxy.url_through(&db.url))
        .await
        .unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    proxy.set(Mode::Reset);
    let error = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(
        pool_sqlx::SqlxError(error).class(),
        ErrorClass::Connection,
        "a reset connection is dead"
    );
    drop(conn);
    db.cleanup().await;
}
