//! A real PgBouncer started by a test: its own process on a free loopback port, with a
//! generated configuration in a temp dir, in front of a per-test PostgreSQL database.
//!
//! ```no_run
//! # async fn f() {
//! let Some(db) = tests::db::postgres("my_test").await else { return };
//! let Some(bouncer) = tests::pgbouncer::PgBouncer::start(&db, 5).await else { return };
//! let url = bouncer.url_with("pgbouncer=true"); // postgres://…@127.0.0.1:PORT/<db>?pgbouncer=true
//! # let _ = url;
//! drop(bouncer); // kills the process
//! db.cleanup().await;
//! # }
//! ```
//!
//! The configuration is `pool_mode = transaction` with `default_pool_size` server
//! connections for the database, `auth_type = trust` with an `auth_file` listing the test
//! URL's user (the local PostgreSQL trusts loopback connections), no Unix socket, and the
//! URL's user as the admin console's (`SHOW POOLS` on the `pgbouncer` database).
//!
//! PgBouncer refuses to run as root ("PgBouncer should not run as root"): when this
//! process is root, it is started with `-u postgres` (or the user named by
//! `PGBOUNCER_USER`), which makes it drop to that user after reading its files; the temp
//! dir is made readable for it.
//!
//! The binary is `$PGBOUNCER`, else `pgbouncer` on `PATH`, else `/usr/sbin/pgbouncer`
//! (Debian's package). When none exists a local run prints a loud `SKIPPED` line and
//! [`PgBouncer::start`] returns `None`; with `CI=true` it panics: CI never skips. A
//! PgBouncer that is installed but does not start always panics, with its log.

use std::{
    fmt::Write as _,
    fs,
    net::{Ipv4Addr, TcpListener},
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use std::str::FromStr as _;

use pool_sqlx::sqlx::{
    self, ConnectOptions as _, Connection, PgConnection, postgres::PgConnectOptions,
};
use url::Url;

use crate::db::TestDb;

/// How long [`PgBouncer::start`] waits for the process to accept a real login.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// A running PgBouncer in transaction mode. Dropping it kills the process and removes
/// its temp dir.
#[derive(Debug)]
pub struct PgBouncer {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    database: String,
    user: String,
    password: Option<String>,
    pool_size: usize,
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// The PgBouncer binary, if one is installed.
pub fn binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PGBOUNCER")
        && !path.is_empty()
    {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbouncer"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let debian = PathBuf::from("/usr/sbin/pgbouncer");
        debian.is_file().then_some(debian)
    })
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective user).
fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Quotes a value for a libpq-style `key=value` connection string in `[databases]`.
fn conninfo_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl PgBouncer {
    /// Starts a PgBouncer for `db` with `pool_size` server connections
    /// (`default_pool_size`) in transaction mode, and waits (up to 10 s) until a client
    /// can log in through it and run a query.
    ///
    /// `None` (after a loud `SKIPPED` line) when PgBouncer is not installed and `CI` is
    /// not `true`.
    ///
    /// # Panics
    /// When PgBouncer is not installed under `CI=true`, or when it does not start (the
    /// panic message carries its log).
    pub async fn start(db: &TestDb, pool_size: usize) -> Option<PgBouncer> {
        PgBouncer::start_with(db, pool_size, &[]).await
    }

    /// [`start`](Self::start) with extra `[pgbouncer]` settings, e.g.
    /// `&[("ignore_startup_parameters", "extra_float_digits")]`.
    pub async fn start_with(
        db: &TestDb,
        pool_size: usize,
        settings: &[(&str, &str)],
    ) -> Option<PgBouncer> {
        let Some(binary) = binary() else {
            assert!(
                !ci(),
                "PgBouncer is not installed (no $PGBOUNCER, no `pgbouncer` on PATH, no \
                 /usr/sbin/pgbouncer) and CI=true: `{}` cannot be skipped on CI \
                 (.ci/run installs it)",
                db.name
            );
            eprintln!(
                "\n********************************************************************\n\
                 SKIPPED {}: PgBouncer is not installed (apt-get install pgbouncer)\n\
                 ********************************************************************\n",
                db.name
            );
            return None;
        };
        let mut last_log = String::new();
        // The port is free when chosen but another process may take it before PgBouncer
        // binds it: try again on a new port a few times.
        for _ in 0..3 {
            let bouncer = PgBouncer::spawn(&binary, db, pool_size, settings);
            match bouncer.wait_until_ready().await {
                Ok(bouncer) => return Some(bouncer),
                Err((log, retry)) => {
                    last_log = log;
                    if !retry {
                        break;
                    }
                }
            }
        }
        panic!(
            "PgBouncer ({}) did not start for `{}`; its log:\n{last_log}",
            binary.display(),
            db.name
        );
    }

    fn spawn(binary: &Path, db: &TestDb, pool_size: usize, settings: &[(&str, &str)]) -> PgBouncer {
        let server = Url::parse(&db.url).expect("test database URL");
        let user = match server.username() {
            "" => "postgres".to_owned(),
            user => user.to_owned(),
        };
        let password = server.password().map(str::to_owned);
        let host = server.host_str().unwrap_or("127.0.0.1").to_owned();
        let server_port = server.port().unwrap_or(5432);
        let port = free_port();

        let dir = tempfile::Builder::new()
            .prefix("pgbouncer-")
            .tempdir()
            .expect("temp dir for PgBouncer");
        let userlist = dir.path().join("userlist.txt");
        let ini = dir.path().join("pgbouncer.ini");
        let log = dir.path().join("pgbouncer.log");
        let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        fs::write(
            &userlist,
            format!(
                "{} {}\n",
                quoted(&user),
                quoted(password.as_deref().unwrap_or(""))
            ),
        )
        .expect("write userlist.txt");
        let mut target = format!(
            "host={} port={server_port} dbname={} user={}",
            conninfo_value(&host),
            conninfo_value(&db.name),
            conninfo_value(&user),
        );
        if let Some(password) = &password {
            let _ = write!(target, " password={}", conninfo_value(password));
        }
        let mut config = format!(
            "[databases]\n\
             {database} = {target}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {userlist}\n\
             admin_users = {user}\n\
             pool_mode = transaction\n\
             default_pool_size = {pool_size}\n\
             min_pool_size = 0\n\
             reserve_pool_size = 0\n\
             max_client_conn = 500\n\
             max_db_connections = {pool_size}\n\
             server_lifetime = 3600\n\
             server_idle_timeout = 600\n\
             log_connections = 0\n\
             log_disconnections = 0\n",
            database = db.name,
            userlist = userlist.display(),
        );
        for (key, value) in settings {
            let _ = writeln!(config, "{key} = {value}");
        }
        fs::write(&ini, config).expect("write pgbouncer.ini");
        // PgBouncer drops to another user when started as root; let it read its files.
        for (path, mode) in [(dir.path(), 0o755), (&userlist, 0o644), (&ini, 0o644)] {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .expect("make the PgBouncer files readable");
        }
        let log_file = fs::File::create(&log).expect("create pgbouncer.log");
        let mut command = Command::new(binary);
        if running_as_root() {
            let run_as = std::env::var("PGBOUNCER_USER")
                .ok()
                .filter(|user| !user.is_empty())
                .unwrap_or_else(|| "postgres".to_owned());
            command.arg("-u").arg(run_as);
        }
        command
            .arg(&ini)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file));
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
        PgBouncer {
            child,
            dir,
            port,
            database: db.name.clone(),
            user,
            password,
            pool_size,
        }
    }

    /// Polls until a login through the bouncer runs `SELECT 1`, the process exits, or the
    /// deadline passes. On failure: the log, and whether trying another port may help.
    async fn wait_until_ready(mut self) -> Result<PgBouncer, (String, bool)> {
        let deadline = Instant::now() + START_DEADLINE;
        let mut last_error: String;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log();
                let retry = log.contains("Address already in use");
                return Err((format!("exited with {status}\n{log}"), retry));
            }
            match self.connect().await {
                Ok(mut conn) => {
                    let ran = sqlx::raw_sql("SELECT 1").execute(&mut conn).await;
                    let _ = conn.close().await;
                    match ran {
                        Ok(_) => return Ok(self),
                        Err(error) => last_error = error.to_string(),
                    }
                }
                Err(error) => last_error = error.to_string(),
            }
            if Instant::now() >= deadline {
                let log = self.log();
                return Err((
                    format!(
                        "no successful login within {START_DEADLINE:?} (last error: \
                         {last_error})\n{log}"
                    ),
                    false,
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A plain sqlx connection through the bouncer, without the `extra_float_digits`
    /// startup parameter PgBouncer 1.18 rejects by default.
    pub async fn connect(&self) -> Result<PgConnection, sqlx::Error> {
        let options = PgConnectOptions::from_str(&self.url())?.extra_float_digits(None);
        options.connect().await
    }

    /// A connection to PgBouncer's admin console (`SHOW POOLS`, `SHOW CONFIG`, …;
    /// simple-protocol statements only: `sqlx::raw_sql`).
    pub async fn connect_admin(&self) -> Result<PgConnection, sqlx::Error> {
        let options = PgConnectOptions::from_str(&self.admin_url())?.extra_float_digits(None);
        options.connect().await
    }

    /// PgBouncer's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server connections it keeps per database (`default_pool_size`).
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// A URL for the test database through the bouncer.
    pub fn url(&self) -> String {
        self.url_for(&self.database)
    }

    /// [`url`](Self::url) with query parameters (`"pgbouncer=true&connection_limit=10"`).
    pub fn url_with(&self, query: &str) -> String {
        let mut url = Url::parse(&self.url()).expect("bouncer URL");
        url.set_query(Some(query));
        url.to_string()
    }

    /// A URL for PgBouncer's admin console (the `pgbouncer` database: `SHOW POOLS`, …;
    /// simple protocol only).
    pub fn admin_url(&self) -> String {
        self.url_for("pgbouncer")
    }

    fn url_for(&self, database: &str) -> String {
        let mut url = Url::parse("postgres://127.0.0.1/").expect("static URL");
        let _ = url.set_port(Some(self.port));
        let _ = url.set_username(&self.user);
        if let Some(password) = &self.password {
            let _ = url.set_password(Some(password));
        }
        url.set_path(&format!("/{database}"));
        url.to_string()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
