//! pool-postgres's TLS (`pool_postgres::tls`) against real servers: a private server with
//! `ssl = on` and a CA and server certificate made at test time by the `openssl` CLI
//! (SAN `localhost` and `127.0.0.1`), and the shared server, which has no TLS.
//!
//! On the private server: `require` encrypts (`pg_stat_ssl`), `verify-full` with the CA
//! and the host `localhost` connects, `verify-full` against another CA fails once, at
//! once, `Permanent`, naming the refused certificate, and `require` with that other CA as
//! `sslrootcert` fails the same way (libpq's rule: `require` with a root certificate
//! verifies as `verify-ca`), and a URL without `sslmode` is encrypted (`prefer`, libpq's
//! default and pool-sqlx's). On a private server without TLS: `require` fails at once,
//! `Permanent`, and `prefer`, written or by default, connects in plain text. The shared
//! server (`ssl = on` on this machine, though not on every one) is read with `SHOW ssl`
//! first, and `require`, `prefer` and no `sslmode` must follow it. A bad `sslrootcert` is a `ConfigError` at build.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use pool_postgres::{Classify, ErrorClass, Manager, PostgresManager};
use tests::{cluster::Cluster, db::Server};

/// A hung server must fail the test, not eat the suite's time budget.
const SCENARIO_LIMIT: Duration = Duration::from_secs(120);

/// The connect timeout of the failing connects; each must fail well within it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `openssl` with `args` in `dir`, failing the test with its output if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run openssl: {error}"));
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A self-signed CA (`{name}.pem`, `{name}.key`) in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=pool tests {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// The test's certificates: `ca.pem` (and another CA, `other.pem`), and `server.crt` /
/// `server.key` signed by `ca`, valid for `localhost` and `127.0.0.1`.
struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    fn make() -> Certificates {
        let dir = tempfile::Builder::new()
            .prefix("pg-tls-")
            .tempdir()
            .expect("temp dir for the certificates");
        let path = dir.path();
        make_ca(path, "ca");
        make_ca(path, "other");
        openssl(
            path,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(
            path.join("server.ext"),
            "subjectAltName = DNS:localhost, IP:127.0.0.1\n\
             basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\n\
             extendedKeyUsage = serverAuth\n",
        )
        .expect("write server.ext");
        openssl(
            path,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "2",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        );
        Certificates { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).expect("read a certificate file")
    }
}

/// A private server with `ssl = on` and the test's certificates, or `None` without the
/// PostgreSQL binaries (outside CI).
fn tls_server(certificates: &Certificates) -> Option<Cluster> {
    let certificate = certificates.read("server.crt");
    let key = certificates.read("server.key");
    Cluster::start_single(
        &[("server.crt", &certificate), ("server.key", &key)],
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'",
    )
}

fn manager(url: &str) -> PostgresManager {
    pool_postgres::Config::from_url(url)
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.manager())
        .unwrap_or_else(|error| panic!("a manager for {url}: {error}"))
}

/// Whether the session of a connect with `url` is encrypted, as the server sees it.
async fn encrypted(url: &str) -> Result<bool, pool_postgres::Error> {
    let pool = pool_postgres::Config::from_url(url)
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.build_pool("tls"))?;
    let conn = pool.get().await?;
    let row = conn
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// `url` with `query` appended to its query string.
fn with_query(url: &str, query: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// The mean time of `rounds` connects (each one a new session, closed at once).
async fn connect_time(manager: &PostgresManager, rounds: u32) -> Duration {
    let started = Instant::now();
    for _ in 0..rounds {
        let client = manager.connect().await.expect("connect");
        drop(client);
    }
    started.elapsed() / rounds
}

#[tokio::test]
async fn require_encrypts_and_verify_full_checks_the_chain_and_the_name() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let certificates = Certificates::make();
        let started = Instant::now();
        let Some(server) = tls_server(&certificates) else {
            return;
        };
        eprintln!("private TLS server started in {:?}", started.elapsed());
        let port = server.primary_port();
        let ca = certificates.path("ca.pem");
        for (url, why) in [
            (
                format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require"),
                "require, no certificate verified",
            ),
            (
                format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=prefer"),
                "prefer, on a server that offers TLS",
            ),
            (
                format!(
                    "postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
                ),
                "verify-full by name",
            ),
            (
                format!(
                    "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
                ),
                "verify-full by IP address (SAN 127.0.0.1)",
            ),
            (
                format!(
                    "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require&sslrootcert={ca}"
                ),
                "require with sslrootcert: verified as verify-ca",
            ),
            (
                format!(
                    "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-ca&ssl-root-cert={ca}"
                ),
                "verify-ca, sqlx's spelling of sslrootcert",
            ),
        ] {
            assert_eq!(encrypted(&url).await.map_err(|e| e.to_string()), Ok(true), "{why}");
        }
        let plain = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable");
        assert_eq!(encrypted(&plain).await.map_err(|e| e.to_string()), Ok(false));
        // No `sslmode`: `prefer` (pool_facts::DEFAULT_SSL_MODE), so encrypted here.
        let unset = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        assert_eq!(
            encrypted(&unset).await.map_err(|e| e.to_string()),
            Ok(true),
            "no sslmode: prefer, on a server that offers TLS"
        );

        // The cost of TLS at connect, on loopback (the figures the README quotes).
        let rounds = 20;
        let plain = connect_time(&manager(&plain), rounds).await;
        let require = connect_time(
            &manager(&format!(
                "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require"
            )),
            rounds,
        )
        .await;
        let full = connect_time(
            &manager(&format!(
                "postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
            )),
            rounds,
        )
        .await;
        eprintln!(
            "connect, mean of {rounds}: plain {plain:?}, require {require:?}, verify-full {full:?}"
        );
    })
    .await
    .expect("the scenario finished within its limit");
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_once_permanent_and_at_once() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let certificates = Certificates::make();
        let Some(server) = tls_server(&certificates) else {
            return;
        };
        let port = server.primary_port();
        let other = certificates.path("other.pem");
        let timeouts = format!(
            "connect_timeout={}&pool_timeout={}",
            CONNECT_TIMEOUT.as_secs(),
            CONNECT_TIMEOUT.as_secs() * 2
        );
        for (url, says) in [
            (
                format!(
                    "postgres://postgres:secret@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={other}&{timeouts}"
                ),
                "sslmode=verify-full",
            ),
            (
                format!(
                    "postgres://postgres:secret@127.0.0.1:{port}/postgres?sslmode=require&sslrootcert={other}&{timeouts}"
                ),
                "sslmode=require",
            ),
        ] {
            let started = Instant::now();
            let error = encrypted(&url).await.expect_err("another CA's certificate");
            let elapsed = started.elapsed();
            let message = error.to_string();
            assert!(elapsed < CONNECT_TIMEOUT, "{elapsed:?}: {message}");
            assert_eq!(error.class(), ErrorClass::Permanent, "{message}");
            for part in [
                "error performing TLS handshake",
                "the server's certificate was refused",
                says,
                &other,
                "UnknownIssuer",
            ] {
                assert!(message.contains(part), "{part:?} in {message}");
            }
            assert!(!message.contains("secret"), "{message}");
            eprintln!("refused in {elapsed:?}: {message}");
        }
    })
    .await
    .expect("the scenario finished within its limit");
}

#[tokio::test]
async fn on_a_server_without_tls_require_fails_at_once_and_prefer_is_plain() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(server) = Cluster::start_single(&[], "ssl = off") else {
            return;
        };
        let port = server.primary_port();
        let started = Instant::now();
        let error = encrypted(&format!(
            "postgres://postgres:secret@127.0.0.1:{port}/postgres?sslmode=require&connect_timeout={}&pool_timeout={}",
            CONNECT_TIMEOUT.as_secs(),
            CONNECT_TIMEOUT.as_secs() * 2
        ))
        .await
        .expect_err("a server without TLS under require");
        let elapsed = started.elapsed();
        let message = error.to_string();
        assert!(elapsed < CONNECT_TIMEOUT, "{elapsed:?}: {message}");
        assert!(
            message.contains("error performing TLS handshake: server does not support TLS"),
            "{message}"
        );
        assert_eq!(error.class(), ErrorClass::Permanent, "{message}");
        assert!(!message.contains("secret"), "{message}");
        eprintln!("refused in {elapsed:?}: {message}");
        let prefer = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=prefer");
        assert_eq!(
            encrypted(&prefer).await.map_err(|e| e.to_string()),
            Ok(false),
            "prefer falls back to plain text"
        );
        let unset = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        assert_eq!(
            encrypted(&unset).await.map_err(|e| e.to_string()),
            Ok(false),
            "no sslmode: prefer, so plain text from a server without TLS"
        );

        // What asking for TLS first costs a plain connect (the server's `N`, one round
        // trip).
        let rounds = 20;
        let disable = connect_time(
            &manager(&format!(
                "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable"
            )),
            rounds,
        )
        .await;
        let prefer = connect_time(&manager(&prefer), rounds).await;
        eprintln!("no-TLS server connect, mean of {rounds}: disable {disable:?}, prefer {prefer:?}");
    })
    .await
    .expect("the scenario finished within its limit");
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn on_the_shared_server_require_and_prefer_follow_its_ssl_setting() {
    let Some(url) = Server::Postgres.admin_url("on_the_shared_server_require_and_prefer") else {
        return;
    };
    let pool = pool_postgres::Config::from_url(&with_query(&url, "sslmode=disable"))
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.build_pool("show-ssl"))
        .expect("pool");
    let ssl: String = pool
        .get()
        .await
        .expect("checkout")
        .query_one("SHOW ssl", &[])
        .await
        .expect("SHOW ssl")
        .get(0);
    let has_tls = ssl == "on";
    eprintln!("the shared server: ssl = {ssl}");
    let require = encrypted(&with_query(
        &url,
        &format!(
            "sslmode=require&connect_timeout={}",
            CONNECT_TIMEOUT.as_secs()
        ),
    ))
    .await
    .map_err(|error| (error.class(), error.to_string()));
    if has_tls {
        assert_eq!(require, Ok(true));
    } else {
        assert!(
            require
                .as_ref()
                .is_err_and(|(class, message)| *class == ErrorClass::Permanent
                    && message.contains("server does not support TLS")),
            "{require:?}"
        );
    }
    assert_eq!(
        encrypted(&with_query(&url, "sslmode=prefer"))
            .await
            .map_err(|e| e.to_string()),
        Ok(has_tls),
        "prefer: TLS when the server offers it"
    );
    assert_eq!(
        encrypted(&url).await.map_err(|e| e.to_string()),
        Ok(has_tls),
        "no sslmode: prefer (pool_facts::DEFAULT_SSL_MODE), TLS when the server offers it"
    );
    // The same URL on pool-sqlx: the same answer.
    let pool = pool_sqlx::Config::from_url(&url)
        .map_err(pool_sqlx::Error::from)
        .and_then(|config| config.build_pool::<pool_sqlx::sqlx::Postgres>("tls"))
        .expect("a pool-sqlx pool");
    let mut conn = pool.get().await.expect("checkout");
    let sqlx_encrypted: bool =
        pool_sqlx::sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut **conn)
            .await
            .expect("pg_stat_ssl");
    assert_eq!(sqlx_encrypted, has_tls, "no sslmode on pool-sqlx");
}

#[test]
fn a_bad_sslrootcert_is_a_config_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "no certificate here\n").expect("write");
    let missing = dir.path().join("missing.pem");
    for (path, says) in [
        (missing.display().to_string(), "cannot read"),
        (not_pem.display().to_string(), "holds no PEM certificate"),
    ] {
        let url = format!("postgres://app:secret@db/app?sslmode=verify-full&sslrootcert={path}");
        let error = pool_postgres::Config::from_url(&url)
            .map_err(pool_postgres::Error::from)
            .and_then(|config| config.manager())
            .expect_err("a bad sslrootcert");
        let message = error.to_string();
        assert!(
            matches!(error, pool_postgres::Error::Config(ref e) if e.setting == "sslrootcert"),
            "{error:?}"
        );
        assert!(
            message.contains(says) && message.contains(&path),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
        assert_eq!(error.class(), ErrorClass::Permanent);
    }
    // Client certificates are refused, not ignored.
    let error = pool_postgres::Config::from_url("postgres://db/app?sslmode=require&sslcert=/c.pem")
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.manager())
        .expect_err("client certificates");
    assert!(error.to_string().contains("client certificates"), "{error}");
    // No TLS for disable and allow: the manager connects as with `NoTls`.
    for mode in ["disable", "allow"] {
        let manager = manager(&format!("postgres://db/app?sslmode={mode}"));
        assert!(!manager.uses_tls(), "{mode}");
    }
    assert!(manager("postgres://db/app?sslmode=verify-full").uses_tls());
}

#[test]
fn a_url_without_sslmode_is_prefer_on_both_bindings() {
    assert_eq!(
        pool_postgres::pool_facts::DEFAULT_SSL_MODE,
        pool_postgres::pool_facts::SslMode::Prefer
    );
    assert!(manager("postgres://db/app").uses_tls());
    // pool-sqlx hands the URL to sqlx, whose default must stay pool-facts's (sqlx reads
    // `PGSSLMODE` first, libpq's variable, which pool-postgres does not).
    if std::env::var_os("PGSSLMODE").is_none() {
        let sqlx: pool_sqlx::sqlx::postgres::PgConnectOptions =
            "postgres://db/app".parse().expect("sqlx options");
        assert!(
            matches!(
                sqlx.get_ssl_mode(),
                pool_sqlx::sqlx::postgres::PgSslMode::Prefer
            ),
            "sqlx's default is pool-facts's"
        );
    }
}
