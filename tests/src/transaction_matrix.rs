//! The transaction fault matrix: one table of cells (a real fault at one step of a
//! transaction) with what must come of each, run by one shared body for every door
//! (the binding's `transaction(pool, policy, body)` and `#[resilient(retries = 2)]
//! #[pooled(transaction)]`) on every binding (pool-sqlx on PostgreSQL and MariaDB,
//! pool-postgres on PostgreSQL), through the loopback [`FaultProxy`].
//!
//! For each cell it checks the rows the door wrote (0 or 1, never 2), how many times the
//! body ran, the error the caller got, and whether the connection was discarded or reused
//! (`connections_created`, `closed_broken`). A binding is a small adapter: how its
//! connection runs one statement ([`Statements`]), how its error says a `COMMIT`'s
//! outcome is unknown ([`MatrixError`]), and how its pool is built through the proxy.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{
    Backend, Classify, ErrorClass, Manager, Pool, Resilience, SqlxManager,
    sqlx::{self, Connection, MySqlConnection, PgConnection},
};
use tokio::sync::Mutex;

use crate::{
    db::{Server, TestDb, admin_execute},
    proxy::{FaultProxy, OnPattern},
};

/// The per-attempt timeout of the timed door: the `COMMIT` the proxy stalls is cut by it.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

/// A door into the transaction engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The binding's `transaction(pool, policy, body)` with `retries(2)`.
    Function,
    /// A `#[resilient(retries = 2)] #[pooled(transaction)]` function.
    Macro,
}

/// One fault, at one step of the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// The connection is cut when the client sends `BEGIN` (the server never sees it).
    BeginCut,
    /// The connection is cut after the body's `INSERT` reached the server and was answered.
    BodyCut,
    /// The connection is cut after `COMMIT` reached the server and was answered (the
    /// transaction is committed; the client never hears).
    CommitCut,
    /// PostgreSQL `SERIALIZABLE`: a concurrent transaction makes `COMMIT` fail with 40001
    /// on the first attempt.
    CommitSerialization,
    /// PostgreSQL: a `DEFERRABLE INITIALLY DEFERRED` unique constraint fails at `COMMIT`.
    CommitDeferredConstraint,
    /// The proxy withholds `COMMIT`'s answer until the policy's per-attempt timeout cuts
    /// the attempt (the server has committed).
    CommitTimeout,
}

impl Cell {
    /// Every cell, in the order they run.
    pub const ALL: [Cell; 6] = [
        Cell::BeginCut,
        Cell::BodyCut,
        Cell::CommitCut,
        Cell::CommitSerialization,
        Cell::CommitDeferredConstraint,
        Cell::CommitTimeout,
    ];

    /// Why the cell cannot be produced on `server`, if it cannot.
    pub fn not_on(self, server: Server) -> Option<&'static str> {
        match (self, server) {
            (Cell::CommitSerialization, Server::MySql) => Some(
                "InnoDB detects serialization conflicts (deadlocks, lock waits) at the statement \
                 that meets them, never at COMMIT: there is no SSI",
            ),
            (Cell::CommitDeferredConstraint, Server::MySql) => Some(
                "InnoDB checks every constraint at the statement; MariaDB has no deferrable \
                 constraints",
            ),
            _ => None,
        }
    }

    /// The fault the proxy is armed with.
    fn fault(self) -> Option<(&'static [u8], OnPattern)> {
        match self {
            Cell::BeginCut => Some((b"BEGIN", OnPattern::CutBefore)),
            Cell::BodyCut => Some((b"INSERT INTO tx_matrix", OnPattern::CutAfterReply)),
            Cell::CommitCut => Some((b"COMMIT", OnPattern::CutAfterReply)),
            Cell::CommitTimeout => Some((b"COMMIT", OnPattern::StallReply)),
            Cell::CommitSerialization | Cell::CommitDeferredConstraint => None,
        }
    }

    /// What the decided rule says must come of this cell, by either door.
    pub fn expected(self) -> Observed {
        let outcome =
            |rows, (body_runs, bodies_ok), outcome, connections_created, closed_broken| Observed {
                rows,
                body_runs,
                bodies_ok,
                outcome,
                connections_created,
                closed_broken,
            };
        match self {
            // Not applied: retried without `idempotent` on a new connection; the body ran
            // once, on the second attempt.
            Cell::BeginCut => outcome(1, (1, 1), Outcome::Ok, 2, 1),
            // Not applied (the server rolled the transaction back): retried.
            Cell::BodyCut => outcome(1, (2, 1), Outcome::Ok, 2, 1),
            // Outcome unknown (it was in fact applied): not retried, connection discarded.
            Cell::CommitCut => outcome(1, (1, 1), Outcome::CommitOutcomeUnknown, 1, 1),
            // Answered, transient: retried on the same connection, rolled back and reused.
            // Both bodies succeeded: the first attempt failed at COMMIT.
            Cell::CommitSerialization => outcome(1, (2, 2), Outcome::Ok, 1, 0),
            // Answered, permanent: not retried; the connection is reused.
            Cell::CommitDeferredConstraint => {
                outcome(0, (1, 1), Outcome::Failed(ErrorClass::Permanent), 1, 0)
            }
            // Cut by the policy inside COMMIT: unknown, not retried, discarded.
            Cell::CommitTimeout => outcome(1, (1, 1), Outcome::CommitOutcomeUnknown, 1, 1),
        }
    }
}

/// How a call ended, as the matrix compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `Ok(())`.
    Ok,
    /// `Err(Error::CommitOutcomeUnknown(_))`, whose message says so.
    CommitOutcomeUnknown,
    /// Any other error, by class.
    Failed(ErrorClass),
}

impl Outcome {
    fn of<E: MatrixError>(result: &Result<(), E>) -> Outcome {
        match result {
            Ok(()) => Outcome::Ok,
            Err(error)
                if error.commit_outcome_unknown()
                    && error.to_string().contains("outcome of COMMIT is unknown") =>
            {
                Outcome::CommitOutcomeUnknown
            }
            Err(error) => Outcome::Failed(error.class()),
        }
    }
}

/// A binding's error as the matrix reads it: its class, and whether it is the binding's
/// `CommitOutcomeUnknown`.
pub trait MatrixError: Classify + fmt::Debug + fmt::Display {
    /// Whether this is the binding's `CommitOutcomeUnknown` variant.
    fn commit_outcome_unknown(&self) -> bool;
}

impl MatrixError for pool_sqlx::Error {
    fn commit_outcome_unknown(&self) -> bool {
        matches!(self, pool_sqlx::Error::CommitOutcomeUnknown(_))
    }
}

impl MatrixError for pool_postgres::Error {
    fn commit_outcome_unknown(&self) -> bool {
        matches!(self, pool_postgres::Error::CommitOutcomeUnknown(_))
    }
}

/// A binding's connection as the body uses it: one statement, by the simple query
/// protocol (so the proxy sees its text).
pub trait Statements: Send {
    /// What the statement fails with.
    type Error: Send;
    /// Runs `statement`.
    fn execute<'a>(
        &'a mut self,
        statement: &'static str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Self::Error>> + Send + 'a>>;
}

impl Statements for PgConnection {
    type Error = pool_sqlx::Error;
    fn execute<'a>(
        &'a mut self,
        statement: &'static str,
    ) -> Pin<Box<dyn Future<Output = Result<(), pool_sqlx::Error>> + Send + 'a>> {
        Box::pin(async move {
            sqlx::raw_sql(statement).execute(self).await?;
            Ok(())
        })
    }
}

impl Statements for MySqlConnection {
    type Error = pool_sqlx::Error;
    fn execute<'a>(
        &'a mut self,
        statement: &'static str,
    ) -> Pin<Box<dyn Future<Output = Result<(), pool_sqlx::Error>> + Send + 'a>> {
        Box::pin(async move {
            sqlx::raw_sql(statement).execute(self).await?;
            Ok(())
        })
    }
}

impl Statements for pool_postgres::Client {
    type Error = pool_postgres::Error;
    fn execute<'a>(
        &'a mut self,
        statement: &'static str,
    ) -> Pin<Box<dyn Future<Output = Result<(), pool_postgres::Error>> + Send + 'a>> {
        Box::pin(async move { Ok(self.batch_execute(statement).await?) })
    }
}

/// pool-sqlx's pool for the matrix: `url` (through the proxy), two connections at most.
pub fn sqlx_pool<DB: Backend>(url: &str) -> Pool<SqlxManager<DB>> {
    let manager = SqlxManager::<DB>::from_url(url).expect("manager");
    Pool::builder(manager)
        .max_size(2)
        .build()
        .expect("pool through the proxy")
}

/// pool-postgres's pool for the matrix, built by its own door (`Config::from_url`): `url`
/// (through the proxy), two connections at most.
pub fn postgres_pool(url: &str) -> pool_postgres::PostgresPool {
    pool_postgres::Config::from_url(url)
        .expect("config")
        .pool_builder("tx_matrix")
        .expect("manager")
        .max_size(2)
        .build()
        .expect("pool through the proxy")
}

/// What one cell did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// Rows the door's transaction left in the table.
    pub rows: i64,
    /// How many times the body started.
    pub body_runs: usize,
    /// How many of those returned `Ok` (so a failure after it was the `COMMIT`'s).
    pub bodies_ok: usize,
    /// How the call ended.
    pub outcome: Outcome,
    /// Connections the pool opened.
    pub connections_created: u64,
    /// Connections the pool closed as broken (discarded).
    pub closed_broken: u64,
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rows {} body runs {} (ok {}) {:?} created {} discarded {}",
            self.rows,
            self.body_runs,
            self.bodies_ok,
            self.outcome,
            self.connections_created,
            self.closed_broken
        )
    }
}

/// One statement of the body: the door's own, or the rival transaction's.
#[derive(Debug, Clone, Copy)]
enum Step {
    Door(&'static str),
    Rival(&'static str),
}

/// One cell's run: the body the door calls, and the concurrent transaction some cells use.
pub struct Run {
    cell: Cell,
    body_runs: AtomicUsize,
    bodies_ok: AtomicUsize,
    /// PostgreSQL, `CommitSerialization`: a `SERIALIZABLE` transaction that has read
    /// `grp = 1`, writes `grp = 2` and commits while the door's first attempt is open.
    rival: Mutex<Option<PgConnection>>,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("cell", &self.cell)
            .field("body_runs", &self.body_runs)
            .finish_non_exhaustive()
    }
}

impl Run {
    /// The cell this run is for.
    pub fn cell(&self) -> Cell {
        self.cell
    }

    /// The transaction's body, the same through every door and on every binding.
    pub async fn body<C: Statements>(&self, conn: &mut C) -> Result<(), C::Error> {
        for step in self.steps() {
            match step {
                Step::Door(statement) => conn.execute(statement).await?,
                Step::Rival(statement) => self.rival(statement).await,
            }
        }
        self.bodies_ok.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// What one run of the body does (and counts the run): insert the door's row; for the
    /// serialization cell, after reading the rows the rival writes, and on the first run
    /// with the rival writing and committing in between.
    fn steps(&self) -> Vec<Step> {
        let run = self.body_runs.fetch_add(1, Ordering::SeqCst) + 1;
        let rivalled = self.cell == Cell::CommitSerialization && run == 1;
        let mut steps = Vec::new();
        if self.cell == Cell::CommitSerialization {
            steps.push(Step::Door("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"));
            steps.push(Step::Door("SELECT count(*) FROM tx_matrix WHERE grp = 2"));
            if rivalled {
                steps.push(Step::Rival(
                    "INSERT INTO tx_matrix (who, grp) VALUES ('rival', 2)",
                ));
            }
        }
        steps.push(Step::Door(if self.cell == Cell::CommitDeferredConstraint {
            "INSERT INTO tx_matrix (who, grp, k) VALUES ('door', 1, 42)"
        } else {
            "INSERT INTO tx_matrix (who, grp, k) VALUES ('door', 1, NULL)"
        }));
        if rivalled {
            steps.push(Step::Rival("COMMIT"));
        }
        steps
    }

    /// The rival's statement, on its own direct connection (never faulted).
    async fn rival(&self, statement: &'static str) {
        let mut rival = self.rival.lock().await;
        if let Some(conn) = rival.as_mut() {
            sqlx::raw_sql(statement)
                .execute(conn)
                .await
                .expect("the rival's statement");
        }
    }
}

/// Calls the door under test for one run; `timed` asks for the door with the
/// per-attempt timeout ([`ATTEMPT_TIMEOUT`]).
pub type Call<M, E> = for<'a> fn(
    &'a Pool<M>,
    Arc<Run>,
    bool,
) -> Pin<Box<dyn Future<Output = Result<(), E>> + Send + 'a>>;

/// The policy of the `transaction()` door: what `#[resilient(retries = 2)]` builds, and
/// with `timeout = "300ms"` when `timed`.
pub fn function_policy(timed: bool) -> Resilience {
    let builder = Resilience::builder("transaction_matrix").retries(2);
    match timed {
        true => builder.timeout(ATTEMPT_TIMEOUT).build(),
        false => builder.build(),
    }
}

/// The matrix on one database: its table and proxy, set up once and shared by every
/// binding's run, and the table of what each cell did.
pub struct Matrix<'d> {
    db: &'d TestDb,
    proxy: FaultProxy,
    through: String,
    report: Vec<String>,
    failures: usize,
}

impl fmt::Debug for Matrix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matrix")
            .field("server", &self.db.server)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl<'d> Matrix<'d> {
    /// Creates the matrix's table in `db` and the proxy in front of its server.
    pub async fn set_up(db: &'d TestDb) -> Self {
        let create = match db.server {
            Server::Postgres => {
                "CREATE TABLE tx_matrix (who TEXT NOT NULL, grp INT NOT NULL DEFAULT 0, \
                 k INT NULL, CONSTRAINT tx_matrix_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)"
            }
            Server::MySql => {
                "CREATE TABLE tx_matrix (who VARCHAR(16) NOT NULL, grp INT NOT NULL DEFAULT 0, \
                 k INT NULL) ENGINE = InnoDB"
            }
        };
        admin_execute(db.server, &db.url, create).await;
        let proxy = FaultProxy::for_url(&db.url).await.expect("proxy");
        // In clear, so the proxy can see the statements.
        let plain = match db.server {
            Server::Postgres => db.url_with("sslmode=disable"),
            Server::MySql => db.url_with("ssl-mode=disabled"),
        };
        let through = proxy.url_through(&plain);
        Matrix {
            db,
            proxy,
            through,
            report: Vec::new(),
            failures: 0,
        }
    }

    /// Runs every cell that applies to the server through `binding`'s `door` (its pool
    /// built by `pool` from the proxy's URL) and adds them to the table; returns how many
    /// cells ran.
    pub async fn run<M: Manager, E: MatrixError>(
        &mut self,
        binding: &str,
        door: Door,
        pool: fn(&str) -> Pool<M>,
        call: Call<M, E>,
    ) -> usize {
        let server = self.db.server;
        let mut ran = 0;
        let mut lines = Vec::new();
        for cell in Cell::ALL {
            if let Some(reason) = cell.not_on(server) {
                lines.push(format!("{cell:?}: does not apply on {server:?}: {reason}"));
                continue;
            }
            let observed = run_cell(self.db, &self.proxy, &self.through, cell, pool, call).await;
            ran += 1;
            let expected = cell.expected();
            let verdict = if observed == expected {
                "ok"
            } else {
                self.failures += 1;
                "MISMATCH"
            };
            lines.push(format!(
                "{cell:?}: {verdict}: observed {observed}; expected {expected}"
            ));
        }
        self.report.push(format!(
            "{binding}, {door:?} on {server:?} ({ran} cells):\n    {}",
            lines.join("\n    ")
        ));
        ran
    }

    /// Prints the table and panics, with the whole table, if any cell of any run did not
    /// do what [`Cell::expected`] says.
    pub fn finish(self) {
        let table = self.report.join("\n  ");
        eprintln!("transaction matrix:\n  {table}");
        assert_eq!(self.failures, 0, "transaction matrix:\n  {table}");
    }
}

async fn run_cell<M: Manager, E: MatrixError>(
    db: &TestDb,
    proxy: &FaultProxy,
    through: &str,
    cell: Cell,
    pool: fn(&str) -> Pool<M>,
    call: Call<M, E>,
) -> Observed {
    admin_execute(db.server, &db.url, "DELETE FROM tx_matrix").await;
    if cell == Cell::CommitDeferredConstraint {
        admin_execute(
            db.server,
            &db.url,
            "INSERT INTO tx_matrix (who, grp, k) VALUES ('seed', 0, 42)",
        )
        .await;
    }
    let rival = match cell {
        Cell::CommitSerialization => {
            let mut rival = PgConnection::connect(&db.url).await.expect("rival connect");
            sqlx::raw_sql(
                "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT count(*) FROM tx_matrix WHERE grp = 1",
            )
            .execute(&mut rival)
            .await
            .expect("rival begins");
            Some(rival)
        }
        _ => None,
    };
    let run = Arc::new(Run {
        cell,
        body_runs: AtomicUsize::new(0),
        bodies_ok: AtomicUsize::new(0),
        rival: Mutex::new(rival),
    });
    let pool = pool(through);
    let fired_before = proxy.counters().triggered.load(Ordering::SeqCst);
    if let Some((pattern, action)) = cell.fault() {
        proxy.arm(pattern, action);
    }
    let result = call(&pool, Arc::clone(&run), cell == Cell::CommitTimeout).await;
    proxy.disarm();
    let fired = proxy.counters().triggered.load(Ordering::SeqCst) - fired_before;
    assert_eq!(
        fired,
        u64::from(cell.fault().is_some()),
        "{cell:?}: the armed fault fired {fired} times ({result:?})"
    );
    let metrics = pool.metrics();
    pool.close_within(Duration::from_secs(1)).await;
    Observed {
        rows: door_rows(db).await,
        body_runs: run.body_runs.load(Ordering::SeqCst),
        bodies_ok: run.bodies_ok.load(Ordering::SeqCst),
        outcome: Outcome::of(&result),
        connections_created: metrics.connections_created,
        closed_broken: metrics.closed_broken,
    }
}

/// The rows the door's transactions left, read on a direct connection.
async fn door_rows(db: &TestDb) -> i64 {
    let count = "SELECT count(*) FROM tx_matrix WHERE who = 'door'";
    match db.server {
        Server::Postgres => {
            let mut conn = PgConnection::connect(&db.url).await.expect("connect");
            let rows: i64 = sqlx::query_scalar(count)
                .fetch_one(&mut conn)
                .await
                .expect("count");
            conn.close().await.ok();
            rows
        }
        Server::MySql => {
            let mut conn = MySqlConnection::connect(&db.url).await.expect("connect");
            let rows: i64 = sqlx::query_scalar(count)
                .fetch_one(&mut conn)
                .await
                .expect("count");
            conn.close().await.ok();
            rows
        }
    }
}
