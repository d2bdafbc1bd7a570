//! Support for the reliability scenarios (issue #7): the server's view of one pool's
//! sessions (count, kill, `idle in transaction`), a sampler and a killer running beside a
//! workload, a seeded RNG, error labels and the figures each scenario prints.
//!
//! A pool's sessions are found by database (each test has its own, see [`crate::db`]) and,
//! on PostgreSQL, by `application_name` (the pool's name). The admin connections used
//! here connect to the administrative URL's database, so they never count themselves.

use std::{
    collections::{BTreeMap, HashSet},
    fmt::{self, Display},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{
    Classify, Error, PoolError,
    sqlx::{self, Connection, MySqlConnection, PgConnection, mysql::MySqlDatabaseError},
};
use tokio::{
    task::JoinHandle,
    time::{Instant, MissedTickBehavior},
};

use crate::db::{Server, TestDb};

/// Reads a duration in whole seconds from the environment variable `var`, or `default`.
///
/// # Panics
/// If the variable is set to something that is not a whole number of seconds.
pub fn seconds_from_env(var: &str, default: u64) -> Duration {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => {
            let secs: u64 = value
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{var}={value:?} is not a whole number of seconds"));
            Duration::from_secs(secs)
        }
        _ => Duration::from_secs(default),
    }
}

/// A small seeded RNG (xorshift64*): reproducible runs without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// An RNG for `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The figures of one scenario on one backend, printed as a block with one `key value`
/// line per figure, in the order they were added.
#[derive(Debug, Clone)]
pub struct Figures {
    title: String,
    rows: Vec<(String, String)>,
}

impl Figures {
    /// Figures for `scenario` on `backend`.
    pub fn new(scenario: &str, backend: &str) -> Self {
        Figures {
            title: format!("{scenario} ({backend})"),
            rows: Vec::new(),
        }
    }

    /// Adds one figure.
    pub fn add(&mut self, key: impl Into<String>, value: impl Display) {
        self.rows.push((key.into(), value.to_string()));
    }

    /// Adds every entry of `counts` as `prefix.key`.
    pub fn add_counts(&mut self, prefix: &str, counts: &BTreeMap<String, u64>) {
        if counts.is_empty() {
            self.add(prefix, "none");
        }
        for (key, value) in counts {
            self.add(format!("{prefix}.{key}"), value);
        }
    }

    /// Prints the block on stderr (visible with `--nocapture`).
    pub fn print(&self) {
        eprintln!("{self}");
    }
}

impl Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "=== reliability: {} ===", self.title)?;
        let width = self.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in &self.rows {
            writeln!(f, "{key:<width$}  {value}")?;
        }
        write!(f, "=== end ===")
    }
}

/// Formats a duration as milliseconds with one decimal.
pub fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// An error the scenarios count: labelled by its class, then what it is
/// (`connection:db 57P01`, `timeout:rejected(timeout)`,
/// `timeout:pool_timeout(WaitingForSlot)`, ...), alike on every binding.
pub trait Labelled {
    /// The label.
    fn label(&self) -> String;
}

/// The label of a pool's error, whatever the binding: `detail` says what the driver's
/// own error is.
fn pool_detail<B>(error: &PoolError<B>, detail: impl Fn(&B) -> String) -> String {
    match error {
        PoolError::Timeout { phase, .. } => format!("pool_timeout({phase:?})"),
        PoolError::Connect(error) => format!("pool_connect({})", detail(error)),
        PoolError::Closed => "pool_closed".to_owned(),
        _ => "pool_other".to_owned(),
    }
}

impl Labelled for Error {
    fn label(&self) -> String {
        let detail = match self {
            Error::Sqlx(error) => sqlx_detail(error),
            Error::Pool(error) => pool_detail(error, |error| sqlx_detail(&error.0)),
            Error::Rejected(rejected) => format!("rejected({})", rejected.reason()),
            Error::CommitOutcomeUnknown(unknown) => match self.as_sqlx() {
                Some(cause) => format!("commit_unknown({})", sqlx_detail(cause)),
                None => format!("commit_unknown({unknown})"),
            },
            Error::Config(_) => "config".to_owned(),
            _ => "other".to_owned(),
        };
        format!("{}:{detail}", self.class().as_str())
    }
}

impl Labelled for sqlx::Error {
    fn label(&self) -> String {
        format!(
            "{}:{}",
            pool_sqlx::classify::classify(self).as_str(),
            sqlx_detail(self)
        )
    }
}

/// What a tokio-postgres failure is: the server's SQLSTATE, a closed client, or I/O.
fn postgres_detail(error: &pool_postgres::PgError) -> String {
    match error {
        pool_postgres::PgError::Driver(driver) => match driver.as_db_error() {
            Some(db) => format!("db {}", db.code().code()),
            None if driver.is_closed() => "closed".to_owned(),
            None => match std::error::Error::source(driver)
                .and_then(|source| source.downcast_ref::<std::io::Error>())
            {
                Some(io) => format!("io {:?}", io.kind()),
                None => "driver".to_owned(),
            },
        },
        _ => "dirty".to_owned(),
    }
}

impl Labelled for pool_postgres::PgError {
    fn label(&self) -> String {
        format!("{}:{}", self.class().as_str(), postgres_detail(self))
    }
}

impl Labelled for pool_postgres::Error {
    fn label(&self) -> String {
        let detail = match self {
            pool_postgres::Error::Postgres(error) => postgres_detail(error),
            pool_postgres::Error::Pool(error) => pool_detail(error, postgres_detail),
            pool_postgres::Error::Rejected(rejected) => format!("rejected({})", rejected.reason()),
            pool_postgres::Error::CommitOutcomeUnknown(unknown) => {
                format!("commit_unknown({unknown})")
            }
            pool_postgres::Error::Config(_) => "config".to_owned(),
            _ => "other".to_owned(),
        };
        format!("{}:{detail}", self.class().as_str())
    }
}

/// [`Labelled::label`] of `error` (the form the scenarios' figures count).
pub fn error_kind<E: Labelled>(error: &E) -> String {
    error.label()
}

/// A stable label for a `sqlx::Error` as an attempt saw it.
pub fn sqlx_error_kind(error: &sqlx::Error) -> String {
    error.label()
}

/// Counts `result`'s error by its label in `counts` (for errors seen inside attempts).
pub fn note_error<T, E: Labelled>(counts: &Mutex<BTreeMap<String, u64>>, result: &Result<T, E>) {
    if let Err(error) = result {
        let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
        count(&mut counts, error.label());
    }
}

/// A copy of `counts`.
pub fn snapshot(counts: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

fn sqlx_detail(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<MySqlDatabaseError>() {
            // MySQL/MariaDB: the error number says more than the SQLSTATE (often HY000).
            Some(my) => format!("db {}", my.number()),
            None => format!("db {}", db.code().unwrap_or_default()),
        },
        sqlx::Error::Io(io) => format!("io {:?}", io.kind()),
        sqlx::Error::Protocol(_) => "protocol".to_owned(),
        sqlx::Error::Tls(_) => "tls".to_owned(),
        sqlx::Error::PoolTimedOut => "sqlx_pool_timed_out".to_owned(),
        other => {
            let text = format!("{other:?}");
            text.split(['(', ' ', '{'])
                .next()
                .unwrap_or("other")
                .to_owned()
        }
    }
}

/// Adds one to `counts[key]`.
pub fn count(counts: &mut BTreeMap<String, u64>, key: String) {
    *counts.entry(key).or_insert(0) += 1;
}

/// `pid, state, wait_event, backend_type` of a PostgreSQL session.
type PgSessionRow = (i32, Option<String>, Option<String>, Option<String>);

/// An administrative connection that watches and kills one pool's sessions on the server.
#[derive(Debug)]
pub struct Sessions {
    admin: Admin,
    database: String,
    application_name: String,
}

#[derive(Debug)]
enum Admin {
    Pg(PgConnection),
    My(MySqlConnection),
}

impl Sessions {
    /// Opens an admin connection watching the sessions of `database` (and, on PostgreSQL,
    /// of `application_name`) on `db`'s server.
    pub async fn connect(db: &TestDb, application_name: &str) -> Self {
        let admin = match db.server {
            Server::Postgres => Admin::Pg(
                PgConnection::connect(db.admin_url())
                    .await
                    .expect("admin connect"),
            ),
            Server::MySql => Admin::My(
                MySqlConnection::connect(db.admin_url())
                    .await
                    .expect("admin connect"),
            ),
        };
        Sessions {
            admin,
            database: db.name.clone(),
            application_name: application_name.to_owned(),
        }
    }

    /// The server's ids of the pool's sessions (PostgreSQL pids, MySQL connection ids).
    pub async fn ids(&mut self) -> Result<Vec<u64>, sqlx::Error> {
        match &mut self.admin {
            Admin::Pg(conn) => {
                let pids: Vec<i32> = sqlx::query_scalar(
                    "SELECT pid FROM pg_stat_activity \
                     WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()",
                )
                .bind(&self.database)
                .bind(&self.application_name)
                .fetch_all(&mut *conn)
                .await?;
                Ok(pids
                    .into_iter()
                    .filter_map(|p| u64::try_from(p).ok())
                    .collect())
            }
            Admin::My(conn) => {
                sqlx::query_scalar(
                    "SELECT CAST(ID AS UNSIGNED) FROM information_schema.PROCESSLIST \
                     WHERE DB = ? AND ID <> CONNECTION_ID()",
                )
                .bind(&self.database)
                .fetch_all(&mut *conn)
                .await
            }
        }
    }

    /// Every session of the pool on the server, as `id command/state` text (for reports).
    pub async fn describe(&mut self) -> Result<Vec<String>, sqlx::Error> {
        match &mut self.admin {
            Admin::Pg(conn) => {
                let rows: Vec<PgSessionRow> = sqlx::query_as(
                    "SELECT pid, state, wait_event, backend_type FROM pg_stat_activity \
                         WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()",
                )
                .bind(&self.database)
                .bind(&self.application_name)
                .fetch_all(&mut *conn)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(pid, state, wait, kind)| format!("{pid} {state:?} {wait:?} {kind:?}"))
                    .collect())
            }
            Admin::My(conn) => {
                let rows: Vec<(u64, String, Option<String>, i64)> = sqlx::query_as(
                    "SELECT CAST(ID AS UNSIGNED), COMMAND, STATE, CAST(TIME_MS AS SIGNED) \
                     FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
                )
                .bind(&self.database)
                .fetch_all(&mut *conn)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, command, state, time)| format!("{id} {command} {state:?} {time}ms"))
                    .collect())
            }
        }
    }

    /// How many sessions the pool has on the server.
    pub async fn count(&mut self) -> Result<usize, sqlx::Error> {
        Ok(self.ids().await?.len())
    }

    /// Terminates the session `id`; `Ok(false)` if it had already gone.
    ///
    /// PostgreSQL: `pg_terminate_backend(pid, 2000)`, which waits until the backend has
    /// exited. MySQL/MariaDB: `KILL id` (the id comes from the server, not from input).
    pub async fn kill(&mut self, id: u64) -> Result<bool, sqlx::Error> {
        match &mut self.admin {
            Admin::Pg(conn) => {
                let pid = i32::try_from(id).unwrap_or(i32::MAX);
                sqlx::query_scalar::<_, bool>("SELECT pg_terminate_backend($1, 2000)")
                    .bind(pid)
                    .fetch_one(&mut *conn)
                    .await
            }
            Admin::My(conn) => {
                // sql: a thread id (an integer) the server gave us; KILL takes no parameter
                let sql = sqlx::AssertSqlSafe(format!("KILL {id}"));
                match sqlx::raw_sql(sql).execute(&mut *conn).await {
                    Ok(_) => Ok(true),
                    // ER_NO_SUCH_THREAD: it ended on its own meanwhile.
                    Err(sqlx::Error::Database(db))
                        if db
                            .try_downcast_ref::<MySqlDatabaseError>()
                            .is_some_and(|e| e.number() == 1094) =>
                    {
                        Ok(false)
                    }
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Terminates the sessions `ids` at once, as a server restart would; returns how many
    /// were terminated. PostgreSQL: one statement signalling every backend without waiting
    /// for any (`pg_terminate_backend(pid)` over the array); MySQL/MariaDB: one `KILL` after
    /// the other on one connection (there is no multi-id `KILL`).
    pub async fn kill_all(&mut self, ids: &[u64]) -> Result<usize, sqlx::Error> {
        match &mut self.admin {
            Admin::Pg(conn) => {
                let pids: Vec<i32> = ids
                    .iter()
                    .filter_map(|id| i32::try_from(*id).ok())
                    .collect();
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) \
                     FROM unnest($1::int4[]) AS pid",
                )
                .bind(pids)
                .fetch_one(&mut *conn)
                .await?;
                Ok(usize::try_from(n).unwrap_or(0))
            }
            Admin::My(_) => {
                let mut killed = 0;
                for id in ids {
                    if self.kill(*id).await? {
                        killed += 1;
                    }
                }
                Ok(killed)
            }
        }
    }

    /// Sessions of the pool sitting idle inside an open transaction: PostgreSQL
    /// `state LIKE 'idle in transaction%'`; MySQL/MariaDB a sleeping connection with an
    /// InnoDB transaction (`information_schema.INNODB_TRX`).
    pub async fn idle_in_transaction(&mut self) -> Result<usize, sqlx::Error> {
        let n: i64 = match &mut self.admin {
            Admin::Pg(conn) => {
                sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = $1 AND application_name = $2 \
                       AND state LIKE 'idle in transaction%'",
                )
                .bind(&self.database)
                .bind(&self.application_name)
                .fetch_one(&mut *conn)
                .await?
            }
            Admin::My(conn) => {
                sqlx::query_scalar(
                    "SELECT CAST(COUNT(*) AS SIGNED) FROM information_schema.INNODB_TRX t \
                     JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
                     WHERE p.DB = ? AND p.COMMAND = 'Sleep'",
                )
                .bind(&self.database)
                .fetch_one(&mut *conn)
                .await?
            }
        };
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Polls until `done(count, idle_in_transaction)` holds or `limit` passes; returns
    /// the last values seen and how long it took (`None` if it never held).
    pub async fn poll_until(
        &mut self,
        limit: Duration,
        done: impl Fn(usize, usize) -> bool,
    ) -> (usize, usize, Option<Duration>) {
        let started = Instant::now();
        let mut last = (usize::MAX, usize::MAX);
        // Bounded in time and in count (10 ms apart at least).
        let max_rounds = limit.as_millis() / 10 + 1;
        for _ in 0..max_rounds {
            let count = self.count().await.expect("count sessions");
            let idle_tx = self
                .idle_in_transaction()
                .await
                .expect("idle in transaction");
            last = (count, idle_tx);
            if done(count, idle_tx) {
                return (count, idle_tx, Some(started.elapsed()));
            }
            if started.elapsed() >= limit {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (last.0, last.1, None)
    }

    /// Closes the admin connection.
    pub async fn close(self) {
        match self.admin {
            Admin::Pg(conn) => conn.close().await.ok(),
            Admin::My(conn) => conn.close().await.ok(),
        };
    }
}

/// A stop flag shared by the side tasks of a scenario.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A flag not yet raised.
    pub fn new() -> Self {
        Self::default()
    }

    /// Raises it.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether it was raised.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The ids of sessions a scenario has killed (shared by the killer and the sampler).
///
/// A killed session can outlive its connection on the server for a moment (MariaDB shows
/// it as `Killed` while it finishes its statement; a PostgreSQL backend exits after
/// sending its FATAL error), when the pool has already dropped it and opened another. It
/// is no longer one of the pool's connections, so the sampler counts it apart.
#[derive(Debug, Clone, Default)]
pub struct KilledIds(Arc<Mutex<HashSet<u64>>>);

impl KilledIds {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `id` as killed (before the kill is sent).
    pub fn insert(&self, id: u64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
    }

    /// Whether `id` was killed.
    pub fn contains(&self, id: u64) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&id)
    }
}

/// What a [`sample`] task saw.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Samples taken.
    pub samples: u64,
    /// The most sessions of the pool's database/application name seen on the server in
    /// one sample, killed ones still exiting included.
    pub max_server: usize,
    /// The most of those not yet killed by the scenario: the pool's live connections.
    pub max_server_live: usize,
    /// Samples in which the server listed more than `max_size` sessions, counting killed
    /// ones still exiting.
    pub samples_over_with_killed: u64,
    /// The largest `status().size` seen.
    pub max_pool_size: usize,
    /// Samples that failed (the admin query itself).
    pub errors: u64,
    /// The sessions listed in the first few samples whose live count exceeded `max_size`.
    pub over_limit: Vec<Vec<String>>,
}

/// Samples the pool's sessions on the server (and `status().size` through `pool_size`)
/// every `every` until `stop` is raised or `limit` passes.
pub fn sample(
    mut sessions: Sessions,
    pool_size: impl Fn() -> usize + Send + 'static,
    max_size: usize,
    killed: KilledIds,
    every: Duration,
    stop: Stop,
    limit: Duration,
) -> JoinHandle<Samples> {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut seen = Samples::default();
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let max_rounds = limit.as_millis() / every.as_millis().max(1) + 1;
        for _ in 0..max_rounds {
            ticks.tick().await;
            if stop.is_stopped() || started.elapsed() > limit {
                break;
            }
            seen.max_pool_size = seen.max_pool_size.max(pool_size());
            match sessions.ids().await {
                Ok(ids) => {
                    seen.samples += 1;
                    let live = ids.iter().filter(|id| !killed.contains(**id)).count();
                    seen.max_server = seen.max_server.max(ids.len());
                    seen.max_server_live = seen.max_server_live.max(live);
                    if ids.len() > max_size {
                        seen.samples_over_with_killed += 1;
                    }
                    if live > max_size && seen.over_limit.len() < 3 {
                        let listed = sessions.describe().await.unwrap_or_default();
                        seen.over_limit.push(listed);
                    }
                }
                Err(_) => seen.errors += 1,
            }
        }
        sessions.close().await;
        seen
    })
}

/// What a [`kill_one_every`] task did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kills {
    /// Ticks at which a kill was tried.
    pub tries: u64,
    /// Sessions terminated.
    pub done: u64,
    /// Ticks with no session of the pool to kill.
    pub none_found: u64,
    /// Admin queries that failed.
    pub errors: u64,
}

/// Kills one of the pool's sessions, chosen at random, every `every` until `stop` is
/// raised or `limit` passes.
pub fn kill_one_every(
    mut sessions: Sessions,
    every: Duration,
    seed: u64,
    stop: Stop,
    limit: Duration,
    killed: KilledIds,
) -> JoinHandle<Kills> {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut rng = Rng::new(seed);
        let mut kills = Kills::default();
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate: let the workload start
        let max_rounds = limit.as_millis() / every.as_millis().max(1) + 1;
        for _ in 0..max_rounds {
            ticks.tick().await;
            if stop.is_stopped() || started.elapsed() > limit {
                break;
            }
            kills.tries += 1;
            let ids = match sessions.ids().await {
                Ok(ids) => ids,
                Err(_) => {
                    kills.errors += 1;
                    continue;
                }
            };
            if ids.is_empty() {
                kills.none_found += 1;
                continue;
            }
            let victim = ids[usize::try_from(rng.below(ids.len() as u64)).unwrap_or(0)];
            killed.insert(victim);
            match sessions.kill(victim).await {
                Ok(true) => kills.done += 1,
                Ok(false) => kills.none_found += 1,
                Err(_) => kills.errors += 1,
            }
        }
        sessions.close().await;
        kills
    })
}

/// Polls `probe` (every 5 ms) until `done` holds or `limit` passes; returns the last value
/// and how long it took (`None`: it never held).
pub async fn wait_for<T>(
    limit: Duration,
    mut probe: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> (T, Option<Duration>) {
    let started = Instant::now();
    let max_rounds = limit.as_millis() / 5 + 1;
    let mut value = probe();
    for _ in 0..max_rounds {
        if done(&value) {
            return (value, Some(started.elapsed()));
        }
        if started.elapsed() >= limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        value = probe();
    }
    let ok = done(&value);
    (value, ok.then(|| started.elapsed()))
}

/// How long one bare sqlx connect (and close) to `db`'s test database takes: the reference
/// for recovery times, which cannot be shorter than one connect.
pub async fn connect_time(db: &TestDb) -> Duration {
    let started = Instant::now();
    match db.server {
        Server::Postgres => {
            let conn = PgConnection::connect(&db.url).await.expect("connect");
            let took = started.elapsed();
            conn.close().await.ok();
            took
        }
        Server::MySql => {
            let conn = MySqlConnection::connect(&db.url).await.expect("connect");
            let took = started.elapsed();
            conn.close().await.ok();
            took
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rng_is_seeded_and_bounded() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let first: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let again: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(first, again);
        assert_ne!(Rng::new(8).next_u64(), first[0]);
        let mut rng = Rng::new(0);
        assert!((0..1000).all(|_| rng.below(6) < 6));
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn figures_print_one_aligned_line_each_in_order() {
        let mut figures = Figures::new("1. test", "postgres");
        figures.add("ops", 3);
        figures.add("a_longer_key", "x");
        figures.add_counts("errors", &BTreeMap::new());
        let mut counts = BTreeMap::new();
        count(&mut counts, "b".to_owned());
        count(&mut counts, "a".to_owned());
        count(&mut counts, "b".to_owned());
        figures.add_counts("kinds", &counts);
        assert_eq!(
            figures.to_string(),
            "=== reliability: 1. test (postgres) ===\n\
             ops           3\n\
             a_longer_key  x\n\
             errors        none\n\
             kinds.a       1\n\
             kinds.b       2\n\
             === end ==="
        );
    }
}
