//! Service: an axum HTTP service on a pool, with a health endpoint, Prometheus metrics
//! and graceful shutdown.
//!
//! ```sh
//! cargo run --example service                                   # SQLite, a temp file
//! cargo run --example service -- --listen 127.0.0.1:0           # any free port
//! DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run --example service
//! DATABASE_URL=mysql://root@127.0.0.1/test cargo run --example service
//! POOL_BINDING=pool-postgres DATABASE_URL=postgres://postgres@127.0.0.1/test \
//!     cargo run --example service                             # tokio-postgres
//! ```
//!
//! `POOL_BINDING` picks the binding for a PostgreSQL URL: `pool-sqlx` (the default, sqlx)
//! or `pool-postgres` (tokio-postgres, the cheaper driver per query). The routes, the
//! policies, the health JSON and the metric names are the same on both.
//!
//! | route | what it does |
//! |---|---|
//! | `POST /visits/{name}` | counts a visit, returns `{"name": …, "visits": n}` |
//! | `GET /visits/{name}` | reads the count (0 for a name never seen) |
//! | `GET /slow?ms=N` | holds a pooled connection for N ms (at most 10 s), then answers |
//! | `GET /health` | the health report as JSON: 200 when healthy, 503 otherwise |
//! | `GET /metrics` | Prometheus text: the pool's, the policies' and the breaker's metrics |
//!
//! The address comes from `--listen ADDR`, else `LISTEN`, else `127.0.0.1:3000`; the
//! bound address is printed as `listening on http://ADDR`. On SIGTERM or SIGINT the
//! service answers 503 (`{"error": "shutting down"}`, `Connection: close`) to requests
//! that still arrive, lets the requests in flight finish (30 s at most; a second signal
//! cuts it short), closes the pool, stops listening, prints what the shutdown did and
//! exits 0. Every error is JSON: `{"error": "…"}`.
//!
//! `POOL_PRESET` (production, development, test, serverless) picks the pool's starting
//! settings. The pool opens its first connection before the service listens: a
//! database that cannot be reached ends the program at once with one line on stderr
//! (`error: …`) and exit status 1.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Json, Router,
    extract::{
        Path, Query, Request, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use pool_sqlx::{
    BackendKind, BreakerConfig, Config, Error, MySqlPool, PgPool, Preset, Shutdown, ShutdownReport,
    SqlitePool, breakers,
    sqlx::{MySql, Postgres, Sqlite},
};
use serde::{Deserialize, Serialize};

/// Where the service listens unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// How long `/health` waits for a connection and its ping.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the shutdown waits for requests in flight.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);
/// The longest `/slow` holds a connection.
const MAX_HOLD: Duration = Duration::from_secs(10);
/// The longest name `/visits/{name}` takes (the column is `VARCHAR(64)`).
const MAX_NAME: usize = 64;

/// The repository, written once per backend: same functions, that backend's connection
/// type and SQL.
macro_rules! repository {
    ($module:ident, $connection:ty, $upsert:literal, $select:literal) => {
        mod $module {
            use std::time::Duration;

            use pool_sqlx::{Error, pooled, resilient, sqlx};

            /// The binding's health report, the same JSON on every binding.
            pub(crate) use pool_sqlx::health;

            /// Creates the table (idempotent: `IF NOT EXISTS`).
            #[resilient(retries = 3, base = "50ms", max_delay = "1s")]
            #[pooled]
            pub(crate) async fn create_schema(conn: &mut $connection) -> Result<(), Error> {
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS service_visits \
                     (name VARCHAR(64) PRIMARY KEY, visits BIGINT NOT NULL)",
                )
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Counts a visit and returns the new count: an upsert and a read in one
            /// transaction. Retried only on failures that say the server did not apply
            /// it (serialization failure, deadlock, a busy SQLite file): not idempotent.
            #[resilient(
                retries = 3,
                base = "25ms",
                max_delay = "500ms",
                timeout = "5s",
                breaker = "db"
            )]
            #[pooled(transaction)]
            pub(crate) async fn visit(conn: &mut $connection, name: String) -> Result<i64, Error> {
                sqlx::query($upsert).bind(&name).execute(&mut *conn).await?;
                let visits: i64 = sqlx::query_scalar($select)
                    .bind(&name)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(visits)
            }

            /// The count of visits (0 for a name never seen). A read: safe to repeat.
            #[resilient(
                retries = 3,
                base = "25ms",
                max_delay = "500ms",
                timeout = "5s",
                breaker = "db",
                idempotent
            )]
            #[pooled]
            pub(crate) async fn visits(conn: &mut $connection, name: String) -> Result<i64, Error> {
                let visits: Option<i64> = sqlx::query_scalar($select)
                    .bind(&name)
                    .fetch_optional(&mut *conn)
                    .await?;
                Ok(visits.unwrap_or(0))
            }

            /// Runs a query, then keeps the connection checked out for `hold`: a slow
            /// request, to watch the pool and the shutdown with one in flight.
            #[pooled]
            pub(crate) async fn hold(conn: &mut $connection, hold: Duration) -> Result<(), Error> {
                sqlx::query("SELECT 1").execute(&mut *conn).await?;
                tokio::time::sleep(hold).await;
                Ok(())
            }
        }
    };
}

repository!(
    sqlite,
    sqlx::SqliteConnection,
    "INSERT INTO service_visits (name, visits) VALUES ($1, 1) \
     ON CONFLICT (name) DO UPDATE SET visits = service_visits.visits + 1",
    "SELECT visits FROM service_visits WHERE name = $1"
);
repository!(
    postgres,
    sqlx::PgConnection,
    "INSERT INTO service_visits (name, visits) VALUES ($1, 1) \
     ON CONFLICT (name) DO UPDATE SET visits = service_visits.visits + 1",
    "SELECT visits FROM service_visits WHERE name = $1"
);
repository!(
    mysql,
    sqlx::MySqlConnection,
    "INSERT INTO service_visits (name, visits) VALUES (?, 1) \
     ON DUPLICATE KEY UPDATE visits = visits + 1",
    "SELECT visits FROM service_visits WHERE name = ?"
);

/// The repository on pool-postgres: the same functions and policies, tokio-postgres's
/// client, its statements prepared once per connection (`*_cached`).
mod tokio_postgres {
    use std::time::Duration;

    use pool_postgres::{Client, Error, pooled, resilient};

    /// The binding's health report, the same JSON on every binding.
    pub(crate) use pool_postgres::health;

    /// Creates the table (idempotent: `IF NOT EXISTS`).
    #[resilient(crate = pool_postgres, retries = 3, base = "50ms", max_delay = "1s")]
    #[pooled]
    pub(crate) async fn create_schema(conn: &mut Client) -> Result<(), Error> {
        conn.batch_execute(
            "CREATE TABLE IF NOT EXISTS service_visits \
             (name VARCHAR(64) PRIMARY KEY, visits BIGINT NOT NULL)",
        )
        .await?;
        Ok(())
    }

    /// Counts a visit and returns the new count (see the sqlx repositories' `visit`).
    #[resilient(
        crate = pool_postgres,
        retries = 3,
        base = "25ms",
        max_delay = "500ms",
        timeout = "5s",
        breaker = "db"
    )]
    #[pooled(transaction)]
    pub(crate) async fn visit(conn: &mut Client, name: String) -> Result<i64, Error> {
        conn.execute_cached(
            "INSERT INTO service_visits (name, visits) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET visits = service_visits.visits + 1",
            &[&name],
        )
        .await?;
        let row = conn
            .query_one_cached(
                "SELECT visits FROM service_visits WHERE name = $1",
                &[&name],
            )
            .await?;
        Ok(row.get(0))
    }

    /// The count of visits (0 for a name never seen). A read: safe to repeat.
    #[resilient(
        crate = pool_postgres,
        retries = 3,
        base = "25ms",
        max_delay = "500ms",
        timeout = "5s",
        breaker = "db",
        idempotent
    )]
    #[pooled]
    pub(crate) async fn visits(conn: &mut Client, name: String) -> Result<i64, Error> {
        let rows = conn
            .query_cached(
                "SELECT visits FROM service_visits WHERE name = $1",
                &[&name],
            )
            .await?;
        Ok(rows.first().map_or(0, |row| row.get(0)))
    }

    /// Runs a query, then keeps the connection checked out for `hold`.
    #[pooled(crate = pool_postgres)]
    pub(crate) async fn hold(conn: &mut Client, hold: Duration) -> Result<(), Error> {
        conn.batch_execute("SELECT 1").await?;
        tokio::time::sleep(hold).await;
        Ok(())
    }
}

/// The pool, whichever backend `DATABASE_URL` names (and, for PostgreSQL, whichever
/// binding `POOL_BINDING` picks).
#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
    TokioPostgres(pool_postgres::PostgresPool),
}

/// The binding `POOL_BINDING` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    Sqlx,
    Postgres,
}

impl Binding {
    /// `POOL_BINDING`, `pool-sqlx` when unset.
    fn from_env() -> Result<Binding, UsageError> {
        match std::env::var("POOL_BINDING").as_deref() {
            Err(_) | Ok("" | "pool-sqlx") => Ok(Binding::Sqlx),
            Ok("pool-postgres") => Ok(Binding::Postgres),
            Ok(_) => Err(UsageError(
                "POOL_BINDING is `pool-sqlx` (the default) or `pool-postgres`",
            )),
        }
    }
}

/// Runs `$body` with `$pool` bound to the pool and `repo` to that backend's repository.
macro_rules! with_repo {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => {
                #[allow(unused_imports)] // not every body calls the repository
                use sqlite as repo;
                $body
            }
            Db::Postgres($pool) => {
                #[allow(unused_imports)] // not every body calls the repository
                use postgres as repo;
                $body
            }
            Db::MySql($pool) => {
                #[allow(unused_imports)] // not every body calls the repository
                use mysql as repo;
                $body
            }
            Db::TokioPostgres($pool) => {
                #[allow(unused_imports)] // not every body calls the repository
                use tokio_postgres as repo;
                $body
            }
        }
    };
}

impl Db {
    /// Builds the pool and opens its first connection (HikariCP's fail-fast start): a
    /// database that cannot be reached is an error here, before the service listens.
    async fn connect(config: &Config, name: &str) -> Result<Self, Error> {
        Ok(match config.kind {
            BackendKind::Sqlite => Db::Sqlite(
                config
                    .pool_builder::<Sqlite>(name)?
                    .build_and_connect()
                    .await?,
            ),
            BackendKind::Postgres => Db::Postgres(
                config
                    .pool_builder::<Postgres>(name)?
                    .build_and_connect()
                    .await?,
            ),
            BackendKind::MySql => Db::MySql(
                config
                    .pool_builder::<MySql>(name)?
                    .build_and_connect()
                    .await?,
            ),
        })
    }

    fn register(&self, shutdown: &Shutdown) {
        with_repo!(self, |pool| shutdown.register(pool))
    }

    /// pool-postgres's pool for `config` (a PostgreSQL URL), first connection open.
    async fn connect_tokio_postgres(
        config: &pool_postgres::Config,
        name: &str,
    ) -> Result<Self, pool_postgres::Error> {
        Ok(Db::TokioPostgres(
            config.pool_builder(name)?.build_and_connect().await?,
        ))
    }

    async fn create_schema(&self) -> Result<(), ApiError> {
        with_repo!(self, |pool| Ok(repo::create_schema(pool).await?))
    }

    async fn visit(&self, name: String) -> Result<i64, ApiError> {
        with_repo!(self, |pool| Ok(repo::visit(pool, name).await?))
    }

    async fn visits(&self, name: String) -> Result<i64, ApiError> {
        with_repo!(self, |pool| Ok(repo::visits(pool, name).await?))
    }

    async fn hold(&self, hold: Duration) -> Result<(), ApiError> {
        with_repo!(self, |pool| Ok(repo::hold(pool, hold).await?))
    }

    async fn health(&self) -> pool_sqlx::Health {
        with_repo!(self, |pool| repo::health(pool, HEALTH_TIMEOUT).await)
    }
}

/// What every handler shares.
#[derive(Clone)]
struct App {
    db: Db,
    shutdown: Shutdown,
    metrics: PrometheusHandle,
}

/// A failed request: a status and a message, sent as `{"error": "…"}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

/// A query string axum could not read (`/slow?ms=abc`): a 400 in this service's JSON.
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

/// A path segment axum could not read (not UTF-8 once percent-decoded): JSON too.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl ApiError {
    /// A database call's failure: a policy refusal (breaker open, timeout) or no
    /// connection to be had is the database being unavailable (503), not this request
    /// being wrong.
    fn from_database(unavailable: bool, error: &dyn std::fmt::Display) -> Self {
        tracing::warn!(%error, "request failed");
        ApiError {
            status: if unavailable {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            },
            message: error.to_string(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let unavailable = matches!(error, Error::Rejected(_) | Error::Pool(_));
        ApiError::from_database(unavailable, &error)
    }
}

impl From<pool_postgres::Error> for ApiError {
    fn from(error: pool_postgres::Error) -> Self {
        let unavailable = matches!(
            error,
            pool_postgres::Error::Rejected(_) | pool_postgres::Error::Pool(_)
        );
        ApiError::from_database(unavailable, &error)
    }
}

/// The message alone: what `error: …` prints when the schema cannot be created.
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        (
            self.status,
            Json(Body {
                error: self.message,
            }),
        )
            .into_response()
    }
}

#[derive(Serialize)]
struct Visits {
    name: String,
    visits: i64,
}

fn checked_name(name: String) -> Result<String, ApiError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(ApiError::bad_request(format!(
            "a name is 1 to {MAX_NAME} bytes long"
        )));
    }
    Ok(name)
}

async fn post_visit(
    State(app): State<App>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Visits>, ApiError> {
    let Path(name) = name?;
    let name = checked_name(name)?;
    let visits = app.db.visit(name.clone()).await?;
    Ok(Json(Visits { name, visits }))
}

async fn get_visits(
    State(app): State<App>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Visits>, ApiError> {
    let Path(name) = name?;
    let name = checked_name(name)?;
    let visits = app.db.visits(name.clone()).await?;
    Ok(Json(Visits { name, visits }))
}

#[derive(Deserialize)]
struct SlowParams {
    ms: u64,
}

async fn slow(
    State(app): State<App>,
    params: Result<Query<SlowParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(SlowParams { ms }) = params?;
    let hold = Duration::from_millis(ms);
    if hold > MAX_HOLD {
        return Err(ApiError::bad_request(format!(
            "ms is at most {}",
            MAX_HOLD.as_millis()
        )));
    }
    app.db.hold(hold).await?;
    Ok(Json(serde_json::json!({ "held_ms": ms })))
}

async fn health_report(State(app): State<App>) -> Response {
    let report = app.db.health().await;
    let status =
        StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(report)).into_response()
}

async fn metrics_text(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// Counts every request as in flight for the shutdown; once it has begun, answers 503
/// and asks the client to close the connection.
async fn track_in_flight(State(app): State<App>, request: Request, next: Next) -> Response {
    let Some(_in_flight) = app.shutdown.track() else {
        let refusal = ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "shutting down".to_owned(),
        };
        return (
            [(header::CONNECTION, HeaderValue::from_static("close"))],
            refusal,
        )
            .into_response();
    };
    next.run(request).await
}

/// A route this service does not have: 404, in JSON like every other error.
async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no such route".to_owned(),
    }
}

/// `--listen ADDR` / `--listen=ADDR`, else `LISTEN`, else the default.
fn listen_address() -> Result<String, UsageError> {
    let mut args = std::env::args().skip(1);
    let mut listen = None;
    while let Some(arg) = args.next() {
        if arg == "--listen" {
            listen = Some(args.next().ok_or(UsageError("--listen needs an address"))?);
        } else if let Some(address) = arg.strip_prefix("--listen=") {
            listen = Some(address.to_owned());
        } else {
            return Err(UsageError("usage: service [--listen ADDR]"));
        }
    }
    Ok(listen
        .or_else(|| std::env::var("LISTEN").ok())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()))
}

/// A command line the service does not understand.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(&'static str);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Display, not Debug: the message is what a user needs.
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .compact()
        .init();
    let listen = match listen_address() {
        Ok(listen) => listen,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };

    // First the recorder: pools, breakers and `#[resilient]` call sites register their
    // metric handles when they are created, and a handle registered before the
    // recorder exists stays a no-op.
    // The histograms get the library's fixed buckets (without them the exporter writes a
    // summary, which cannot be added up across instances): the acquire time under the
    // pool's own names, the three `_time` histograms under OpenTelemetry's
    // (`metric_names=opentelemetry` in the URL), so either dashboard under `dashboards/`
    // has its heatmap and quantiles.
    let mut exporter = PrometheusBuilder::new();
    for histogram in [
        pool_sqlx::names::ACQUIRE_SECONDS,
        pool_sqlx::names::otel::WAIT_TIME,
        pool_sqlx::names::otel::CREATE_TIME,
        pool_sqlx::names::otel::USE_TIME,
    ] {
        exporter = exporter.set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(histogram.into()),
            &pool_sqlx::ACQUIRE_SECONDS_BUCKETS,
        )?;
    }
    let metrics = exporter.install_recorder()?;
    let upkeep = metrics.clone();
    tokio::spawn(async move {
        // Histograms drain their samples on upkeep; without it they only grow.
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });

    breakers().define("db", BreakerConfig::default())?;
    breakers().verify()?;

    // The SQLite file, removed when `run` returns, whichever way.
    let temp = TempFile(std::env::temp_dir().join(format!("service-{}.db", std::process::id())));
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => format!("sqlite://{}?mode=rwc", temp.0.display()),
    };
    // POOL_PRESET=development|production|test|serverless picks the starting point.
    let preset = Preset::from_env()?.unwrap_or(Preset::Production);
    let db = match Binding::from_env()? {
        Binding::Sqlx => {
            let config = Config::from_url(&url)?.with_preset(preset);
            println!("database: {} (preset {preset})", config.redacted_url());
            Db::connect(&config, "service").await?
        }
        Binding::Postgres => {
            let config = pool_postgres::Config::from_url(&url)?.with_preset(preset);
            println!(
                "database: {} (preset {preset}, pool-postgres)",
                config.redacted_url()
            );
            Db::connect_tokio_postgres(&config, "service").await?
        }
    };
    db.create_schema().await?;

    let shutdown = Shutdown::new();
    db.register(&shutdown);
    let app = App {
        db,
        shutdown: shutdown.clone(),
        metrics,
    };
    let router = Router::new()
        .route("/visits/{name}", get(get_visits).post(post_visit))
        .route("/slow", get(slow))
        .route("/health", get(health_report))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), track_in_flight))
        .with_state(app);

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let address: SocketAddr = listener.local_addr()?;
    println!("listening on http://{address}");

    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown.triggered().await;
            println!(
                "shutting down: {} request(s) in flight",
                shutdown.in_flight()
            );
        }
    });
    // The listener stays open while the requests in flight drain, so that a request
    // arriving meanwhile gets a 503 (from `track_in_flight`) rather than a refused
    // connection; it closes once the drain is over.
    let (drained, stop_accepting) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                // Sent or dropped: either way the drain is over.
                let _ = stop_accepting.await;
            })
            .into_future(),
    );

    let report = tokio::select! {
        report = shutdown.run_until_signal(DRAIN_DEADLINE) => report,
        served = &mut server => {
            served??;
            return Err("the server stopped before any shutdown signal".into());
        }
    };
    // The handlers have returned; let the server write their responses and close the
    // connections (bounded: a client that never reads does not hold the exit).
    let _ = drained.send(());
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(served) => served??,
        Err(_) => eprintln!("connections still open 5 s after the drain; exiting anyway"),
    }
    print_report(&report);
    Ok(())
}

fn print_report(report: &ShutdownReport) {
    println!(
        "shutdown ({}) took {:?}: {} request(s) in flight at the start, {} abandoned{}",
        format!("{:?}", report.trigger).to_lowercase(),
        report.elapsed,
        report.in_flight_at_start,
        report.abandoned,
        if report.forced { " (forced)" } else { "" }
    );
    for pool in &report.pools {
        println!(
            "  pool `{}` closed: {} idle connection(s) closed, {} still open",
            pool.name, pool.report.closed_idle, pool.report.still_open
        );
    }
}

/// A file removed on drop (with SQLite's `-journal`/`-wal`/`-shm` companions).
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            // Best effort: the file may never have been created.
            let _ = std::fs::remove_file(path);
        }
    }
}
