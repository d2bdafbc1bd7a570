//! A private PostgreSQL cluster started by a test: a primary (`initdb`) and a streaming
//! standby (`pg_basebackup -R`), each its own server process on a free loopback port, in
//! temp directories removed on drop.
//!
//! ```no_run
//! let Some(cluster) = tests::cluster::Cluster::start(tests::cluster::Replication::Async)
//! else { return };
//! let primary = cluster.primary_url("postgres"); // postgres://postgres@127.0.0.1:PORT/postgres
//! let standby = cluster.standby_url("postgres");
//! cluster.stop_primary_immediate();             // a crash, as `pg_ctl stop -m immediate`
//! cluster.promote_standby();                    // `pg_ctl promote`, waits until writable
//! # let _ = (primary, standby);
//! ```
//!
//! The servers are the machine's own PostgreSQL binaries: `$PG_BINDIR`, else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian installs them there and `pg_config
//! --bindir` may name the client package's directory instead). PostgreSQL refuses to run
//! as root: when this process is root, every server command runs as the `postgres` user
//! (or `$PG_CLUSTER_USER`), which owns the temp directories.
//!
//! The settings favour a fast, disposable cluster: `fsync = off` (a crash of the *machine*
//! loses the cluster, which is a temp dir anyway; `-m immediate` still loses exactly what a
//! real crash loses of what was not yet replicated), trust authentication on loopback
//! only, no Unix socket outside the temp dir.
//!
//! Without the binaries a local run prints a loud `SKIPPED` line and [`Cluster::start`]
//! returns `None`; with `CI=true` it panics: CI never skips. Binaries that are installed
//! but fail to start a server always panic, with the server's log.
//!
//! The harness blocks (it runs `initdb`, `pg_ctl`, `pg_basebackup` to completion): call it
//! before the workload starts, or from `spawn_blocking`.

use std::{
    fmt, fs,
    net::{Ipv4Addr, TcpListener},
    os::unix::{fs::MetadataExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a server may take to start, stop or be promoted.
const SERVER_DEADLINE: Duration = Duration::from_secs(60);

/// Whether the standby confirms each commit before the primary acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    /// Asynchronous streaming: the primary acknowledges a commit once it is durable
    /// locally; a crash can lose what the standby had not received yet.
    Async,
    /// Synchronous streaming (`synchronous_standby_names = '*'`, `synchronous_commit = on`):
    /// the primary acknowledges a commit only after the standby has flushed it, so a
    /// promoted standby has every acknowledged commit.
    Sync,
}

/// One server of the cluster.
#[derive(Debug)]
struct Server {
    data: PathBuf,
    port: u16,
    running: bool,
}

/// A running primary and streaming standby. Dropping it stops both servers (`-m
/// immediate`) and removes their directories.
pub struct Cluster {
    bin: PathBuf,
    run_as: Option<(u32, u32)>,
    dir: tempfile::TempDir,
    primary: Mutex<Server>,
    standby: Mutex<Server>,
    replication: Replication,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("dir", &self.dir.path())
            .field("primary_port", &self.primary_port())
            .field("standby_port", &self.standby_port())
            .field("replication", &self.replication)
            .finish()
    }
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// The directory holding `initdb`, `pg_ctl` and `pg_basebackup`, if PostgreSQL's server
/// package is installed.
pub fn bindir() -> Option<PathBuf> {
    let has_server = |dir: &Path| {
        ["initdb", "pg_ctl", "pg_basebackup", "postgres"]
            .iter()
            .all(|name| dir.join(name).is_file())
    };
    if let Ok(dir) = std::env::var("PG_BINDIR")
        && !dir.is_empty()
    {
        let dir = PathBuf::from(dir);
        return has_server(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The uid and gid to run servers as, when this process is root.
fn server_user() -> Option<(u32, u32)> {
    if !fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0) {
        return None;
    }
    let name = std::env::var("PG_CLUSTER_USER")
        .ok()
        .filter(|user| !user.is_empty())
        .unwrap_or_else(|| "postgres".to_owned());
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let ids = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name.as_str()) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    });
    match ids {
        Some(ids) => Some(ids),
        None => panic!(
            "running as root and there is no user `{name}` to run PostgreSQL as (set \
             PG_CLUSTER_USER)"
        ),
    }
}

/// The server binaries' directory, or `None` after a loud `SKIPPED` line.
///
/// # Panics
/// When the binaries are missing under `CI=true`: CI never skips.
fn bindir_or_skip() -> Option<PathBuf> {
    let Some(bin) = bindir() else {
        assert!(
            !ci(),
            "the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not \
             installed (no $PG_BINDIR, nothing in /usr/lib/postgresql/*/bin) and CI=true: \
             the cluster tests cannot be skipped on CI"
        );
        eprintln!(
            "\n********************************************************************\n\
             SKIPPED: the PostgreSQL server binaries are not installed \
             (apt-get install postgresql)\n\
             ********************************************************************\n"
        );
        return None;
    };
    Some(bin)
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

impl Cluster {
    /// Starts a primary and a streaming standby replicating from it, and waits until the
    /// standby streams. `None` (after a loud `SKIPPED` line) when the PostgreSQL server
    /// binaries are not installed and `CI` is not `true`.
    ///
    /// # Panics
    /// When the binaries are missing under `CI=true`, or when a server does not start
    /// (the message carries its log).
    pub fn start(replication: Replication) -> Option<Cluster> {
        let cluster = Cluster::unstarted("pg-cluster-", replication)?;
        cluster.init_primary();
        cluster.start_server(&cluster.primary);
        cluster.base_backup();
        cluster.start_server(&cluster.standby);
        cluster.wait_until_streaming();
        Some(cluster)
    }

    /// Starts a primary alone (no standby: [`standby_port`](Self::standby_port) and
    /// [`standby_url`](Self::standby_url) name a server that is not running), with
    /// `files` written into its data directory (owned by the server user, mode 0600, as
    /// PostgreSQL wants of a private key) and `settings` appended to its
    /// `postgresql.conf`: a server with `ssl = on` and a certificate made by the test.
    /// `None` as [`start`](Self::start).
    ///
    /// # Panics
    /// As [`start`](Self::start), and when a file cannot be written.
    pub fn start_single(files: &[(&str, &[u8])], settings: &str) -> Option<Cluster> {
        let cluster = Cluster::unstarted("pg-single-", Replication::Async)?;
        let run_as = cluster.run_as;
        cluster.init_primary();
        let data = lock(&cluster.primary).data.clone();
        for (name, contents) in files {
            let path = data.join(name);
            fs::write(&path, contents).unwrap_or_else(|error| panic!("write {name}: {error}"));
            fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap_or_else(|error| panic!("chmod {name}: {error}"));
            if let Some((uid, gid)) = run_as {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                    .unwrap_or_else(|error| panic!("chown {name}: {error}"));
            }
        }
        let conf = data.join("postgresql.conf");
        let mut existing = fs::read_to_string(&conf).expect("read postgresql.conf");
        existing.push('\n');
        existing.push_str(settings);
        existing.push('\n');
        fs::write(&conf, existing).expect("write postgresql.conf");
        cluster.start_server(&cluster.primary);
        Some(cluster)
    }

    /// A cluster whose servers are laid out (a temp dir owned by the server user, a free
    /// port each) but not initialised. `None` as [`start`](Self::start).
    fn unstarted(prefix: &str, replication: Replication) -> Option<Cluster> {
        let bin = bindir_or_skip()?;
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("temp dir for the cluster");
        let run_as = server_user();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("give the cluster's temp dir to the server user");
        }
        let server = |name: &str| {
            Mutex::new(Server {
                data: dir.path().join(name),
                port: free_port(),
                running: false,
            })
        };
        Some(Cluster {
            primary: server("primary"),
            standby: server("standby"),
            bin,
            run_as,
            dir,
            replication,
        })
    }

    /// Runs one of the server binaries as the server user, to completion.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut command = Command::new(self.bin.join(program));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("PGHOST", "127.0.0.1")
            .env_remove("PGPORT")
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid).env("HOME", self.dir.path());
        }
        command
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"))
    }

    fn run_ok(&self, program: &str, args: &[&str], log: Option<&Path>) {
        let output = self.run(program, args);
        if !output.status.success() {
            let log = log
                .and_then(|path| fs::read_to_string(path).ok())
                .unwrap_or_default();
            panic!(
                "{program} {args:?} failed ({}):\n{}{}\n{log}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
            );
        }
    }

    fn init_primary(&self) {
        let data = lock(&self.primary).data.clone();
        let data = data.to_string_lossy();
        self.run_ok(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            None,
        );
        let mut settings = String::from(
            "\n# pool tests: a disposable streaming cluster on loopback\n\
             listen_addresses = '127.0.0.1'\n\
             wal_level = replica\n\
             max_wal_senders = 10\n\
             max_replication_slots = 10\n\
             hot_standby = on\n\
             hot_standby_feedback = on\n\
             wal_keep_size = '256MB'\n\
             fsync = off\n\
             full_page_writes = off\n\
             max_connections = 200\n\
             shared_buffers = '32MB'\n\
             wal_receiver_status_interval = '100ms'\n\
             log_min_messages = warning\n",
        );
        settings.push_str(&format!(
            "unix_socket_directories = '{}'\n",
            self.dir.path().display()
        ));
        if self.replication == Replication::Sync {
            settings.push_str("synchronous_standby_names = '*'\nsynchronous_commit = on\n");
        }
        let conf = Path::new(&*data).join("postgresql.conf");
        let mut existing = fs::read_to_string(&conf).expect("read postgresql.conf");
        existing.push_str(&settings);
        fs::write(&conf, existing).expect("write postgresql.conf");
    }

    fn base_backup(&self) {
        let primary_port = self.primary_port().to_string();
        let data = lock(&self.standby).data.clone();
        self.run_ok(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port,
                "-U",
                "postgres",
                "-D",
                &data.to_string_lossy(),
                "-R",
                "-X",
                "stream",
                "--no-sync",
                "-c",
                "fast",
            ],
            None,
        );
        // The standby names itself so `synchronous_standby_names = '*'` and
        // `pg_stat_replication.application_name` see it.
        let auto = data.join("postgresql.auto.conf");
        let mut conf = fs::read_to_string(&auto).expect("read postgresql.auto.conf");
        conf = conf.replace(
            "primary_conninfo = '",
            "primary_conninfo = 'application_name=standby ",
        );
        fs::write(&auto, conf).expect("write postgresql.auto.conf");
    }

    fn start_server(&self, server: &Mutex<Server>) {
        let mut server = lock(server);
        let log = server.data.with_extension("log");
        let port = format!("-p {}", server.port);
        self.run_ok(
            "pg_ctl",
            &[
                "-D",
                &server.data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &port,
                "-w",
                "-t",
                &SERVER_DEADLINE.as_secs().to_string(),
                "start",
            ],
            Some(&log),
        );
        server.running = true;
    }

    fn stop_server(&self, server: &Mutex<Server>, mode: &str) {
        let mut server = lock(server);
        if !server.running {
            return;
        }
        let output = self.run(
            "pg_ctl",
            &[
                "-D",
                &server.data.to_string_lossy(),
                "-m",
                mode,
                "-w",
                "-t",
                &SERVER_DEADLINE.as_secs().to_string(),
                "stop",
            ],
        );
        server.running = !output.status.success();
    }

    /// Polls the primary until the standby shows as streaming in `pg_stat_replication`.
    fn wait_until_streaming(&self) {
        let deadline = Instant::now() + SERVER_DEADLINE;
        loop {
            let streaming = self
                .psql_primary("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'");
            if streaming.as_deref() == Some("1") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the standby did not start streaming within {SERVER_DEADLINE:?}; its log:\n{}",
                fs::read_to_string(lock(&self.standby).data.with_extension("log"))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs one statement on the primary with `psql`, returning its single value.
    fn psql_primary(&self, sql: &str) -> Option<String> {
        self.psql(self.primary_port(), sql)
    }

    fn psql(&self, port: u16, sql: &str) -> Option<String> {
        let port = port.to_string();
        let output = self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-XAtqc",
                sql,
            ],
        );
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The primary's port on 127.0.0.1.
    pub fn primary_port(&self) -> u16 {
        lock(&self.primary).port
    }

    /// The standby's port on 127.0.0.1.
    pub fn standby_port(&self) -> u16 {
        lock(&self.standby).port
    }

    /// How the standby replicates.
    pub fn replication(&self) -> Replication {
        self.replication
    }

    /// A URL for `database` on the primary, as the `postgres` superuser.
    pub fn primary_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}",
            self.primary_port()
        )
    }

    /// A URL for `database` on the standby.
    pub fn standby_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}",
            self.standby_port()
        )
    }

    /// A libpq multi-host URL naming the primary, then the standby.
    pub fn multi_host_url(&self, database: &str, query: &str) -> String {
        let mut url = format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{database}",
            self.primary_port(),
            self.standby_port()
        );
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// Stops the primary as a crash would (`pg_ctl stop -m immediate`): no shutdown
    /// checkpoint, clients cut at once.
    pub fn stop_primary_immediate(&self) {
        self.stop_server(&self.primary, "immediate");
    }

    /// Starts the primary again after a stop (it comes back as the primary it was: call
    /// this only when the standby was not promoted, or to show a split brain).
    pub fn restart_primary(&self) {
        self.start_server(&self.primary);
    }

    /// Promotes the standby (`pg_ctl promote -w`): it returns once the new primary
    /// accepts writes.
    pub fn promote_standby(&self) {
        let data = lock(&self.standby).data.clone();
        self.run_ok(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-w",
                "-t",
                &SERVER_DEADLINE.as_secs().to_string(),
                "promote",
            ],
            Some(&data.with_extension("log")),
        );
        if self.replication == Replication::Sync {
            // The promoted server inherited `synchronous_standby_names = '*'` and has no
            // standby of its own: every commit would wait for one for ever. Failover
            // managers (Patroni, pg_auto_failover) drop the requirement when no standby
            // is left; so does the harness.
            let cleared = self
                .psql(
                    self.standby_port(),
                    "ALTER SYSTEM SET synchronous_standby_names = ''",
                )
                .and_then(|_| self.psql(self.standby_port(), "SELECT pg_reload_conf()"));
            assert!(
                cleared.is_some(),
                "could not clear synchronous_standby_names on the promoted standby"
            );
        }
    }

    /// Pauses WAL replay on the standby (`pg_wal_replay_pause()`): it keeps receiving but
    /// stops applying, so its lag grows with every write on the primary. Use it on an
    /// [`Replication::Async`] cluster: under `Sync`, a commit on the primary was seen to
    /// wait ~44 s for a standby whose replay was paused (PostgreSQL 15).
    pub fn pause_replay(&self) {
        let paused = self.psql(self.standby_port(), "SELECT pg_wal_replay_pause()");
        assert!(
            paused.is_some(),
            "pg_wal_replay_pause() failed on the standby"
        );
    }

    /// Resumes WAL replay on the standby.
    pub fn resume_replay(&self) {
        let resumed = self.psql(self.standby_port(), "SELECT pg_wal_replay_resume()");
        assert!(
            resumed.is_some(),
            "pg_wal_replay_resume() failed on the standby"
        );
    }

    /// Whether the server on `port` is in recovery (a standby), read with `psql`; `None`
    /// when it cannot be reached.
    pub fn in_recovery(&self, port: u16) -> Option<bool> {
        self.psql(port, "SELECT pg_is_in_recovery()")
            .map(|value| value == "t")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_server(&self.standby, "immediate");
        self.stop_server(&self.primary, "immediate");
    }
}

/// Locks a server's state; a test that panicked while holding it left it consistent
/// (every change is a single field write).
fn lock(server: &Mutex<Server>) -> std::sync::MutexGuard<'_, Server> {
    server
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes the server `admin` is connected to read-only by default, as a fenced old
/// primary or a switchover does: `default_transaction_read_only` set and reloaded. Its
/// open sessions stay open and take the setting when they next read a command, so a
/// pool's connections to it start refusing writes (SQLSTATE 25006) without being cut.
pub async fn fence(
    admin: &mut pool_sqlx::sqlx::PgConnection,
) -> Result<(), pool_sqlx::sqlx::Error> {
    for sql in [
        "ALTER SYSTEM SET default_transaction_read_only = on",
        "SELECT pg_reload_conf()",
    ] {
        pool_sqlx::sqlx::raw_sql(sql).execute(&mut *admin).await?;
    }
    Ok(())
}
