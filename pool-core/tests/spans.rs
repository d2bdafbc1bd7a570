#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The span trees `pool_core::spans` documents, as a subscriber that records them sees
//! them: a direct checkout, a waited checkout that times out, a call retried twice then
//! succeeding, a call an open breaker rejects, and a transaction committed, rolled back,
//! and one whose commit outcome is unknown.

mod support;

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use pool_core::{
    BreakerConfig, CircuitBreaker, Classify, DatabaseIdentity, ErrorClass, Manager, Pool,
    PoolError, Rejected, Resilience, TransactionManager, spans,
    transaction::{Failed, Transaction},
};
use support::{TestConn, TestManager};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};
use tracing_subscriber::{Layer, layer::Context, prelude::*, registry::LookupSpan};

/// One span as recorded: its name, its parent's index, its fields, the events inside.
#[derive(Debug, Clone, Default)]
struct Recorded {
    name: &'static str,
    parent: Option<usize>,
    fields: BTreeMap<String, String>,
    events: Vec<String>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

/// Remembers each span's index in the recorder.
struct Index(usize);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .and_then(|parent| parent.extensions().get::<Index>().map(|index| index.0));
        let mut recorded = Recorded {
            name: attrs.metadata().name(),
            parent,
            ..Recorded::default()
        };
        attrs.record(&mut Fields(&mut recorded.fields));
        let mut spans = self.0.lock().unwrap();
        spans.push(recorded);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Index(spans.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(index) = ctx
            .span(id)
            .and_then(|span| span.extensions().get::<Index>().map(|index| index.0))
        else {
            return;
        };
        values.record(&mut Fields(&mut self.0.lock().unwrap()[index].fields));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(index) = ctx
            .event_span(event)
            .and_then(|span| span.extensions().get::<Index>().map(|index| index.0))
        else {
            return;
        };
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        self.0.lock().unwrap()[index].events.push(message);
    }
}

impl Recorder {
    /// Records every span of the current thread (the tests' runtime is current-thread, so
    /// the pool's own tasks too) until the guard drops.
    fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let recorder = Recorder::default();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        (recorder, tracing::subscriber::set_default(subscriber))
    }

    fn spans(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    fn named(&self, name: &str) -> Vec<Recorded> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// The children of the span at `parent`, by name.
    fn children(&self, parent: usize, name: &str) -> Vec<(usize, Recorded)> {
        self.spans()
            .into_iter()
            .enumerate()
            .filter(|(_, s)| s.parent == Some(parent) && s.name == name)
            .collect()
    }

    fn index_of(&self, name: &str) -> usize {
        self.spans()
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("no `{name}` span in {:#?}", self.spans()))
    }
}

fn field<'a>(span: &'a Recorded, key: &str) -> &'a str {
    span.fields
        .get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("`{}` has no `{key}`: {:?}", span.name, span.fields))
}

/// The test manager, with an identity for the OpenTelemetry fields and a scripted commit.
struct Identified {
    inner: TestManager,
    commit: AtomicU8,
}

const COMMIT_OK: u8 = 0;
const COMMIT_LOST: u8 = 1;
const COMMIT_HANGS: u8 = 2;

impl Identified {
    fn pool(max_size: usize, acquire_timeout: Duration) -> Pool<Identified> {
        let (inner, _) = TestManager::new();
        Pool::builder(Identified {
            inner,
            commit: AtomicU8::new(COMMIT_OK),
        })
        .name("orders")
        .max_size(max_size)
        .acquire_timeout(acquire_timeout)
        .build()
        .unwrap()
    }
}

impl Manager for Identified {
    type Connection = TestConn;
    type Error = support::TestError;

    async fn connect(&self) -> Result<TestConn, support::TestError> {
        self.inner.connect().await
    }
    async fn check(&self, conn: &mut TestConn) -> Result<(), support::TestError> {
        self.inner.check(conn).await
    }
    fn has_broken(&self, conn: &mut TestConn) -> bool {
        self.inner.has_broken(conn)
    }
    fn identity(&self) -> DatabaseIdentity {
        DatabaseIdentity::new("postgresql")
            .namespace("shop")
            .server("db.internal", Some(5432))
    }
}

impl TransactionManager for Identified {
    type TransactionError = support::TestError;

    async fn begin(&self, _conn: &mut TestConn) -> Result<(), support::TestError> {
        Ok(())
    }
    async fn commit(&self, _conn: &mut TestConn) -> Result<(), support::TestError> {
        match self.commit.load(Ordering::SeqCst) {
            COMMIT_LOST => Err(support::TestError {
                class: ErrorClass::Connection,
                seq: 0,
            }),
            COMMIT_HANGS => std::future::pending().await,
            _ => Ok(()),
        }
    }
    async fn rollback(&self, _conn: &mut TestConn) -> Result<(), support::TestError> {
        Ok(())
    }
}

/// A caller's error: a pool error, a policy's rejection, or the body's own.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("pool: {0}")]
    Pool(#[from] PoolError<support::TestError>),
    #[error("rejected: {0}")]
    Rejected(#[from] Rejected),
    #[error("body: {0}")]
    Body(#[from] support::TestError),
}

impl Classify for CallError {
    fn class(&self) -> ErrorClass {
        match self {
            CallError::Pool(error) => error.class(),
            CallError::Rejected(rejected) => rejected.class(),
            CallError::Body(error) => error.class(),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_direct_checkout_is_one_span_with_the_pool_and_the_server() {
    let pool = Identified::pool(2, Duration::from_secs(1));
    drop(pool.get().await.unwrap());
    let (recorder, _guard) = Recorder::install();

    drop(pool.get().await.unwrap());

    let acquires = recorder.named(spans::ACQUIRE);
    assert_eq!(acquires.len(), 1, "{acquires:#?}");
    let acquire = &acquires[0];
    assert_eq!(field(acquire, "pool.outcome"), "direct");
    assert_eq!(field(acquire, "pool.waited"), "false");
    assert_eq!(field(acquire, "db.client.connection.pool.name"), "orders");
    assert_eq!(field(acquire, "db.system.name"), "postgresql");
    assert_eq!(field(acquire, "db.namespace"), "shop");
    assert_eq!(field(acquire, "server.address"), "db.internal");
    assert_eq!(field(acquire, "server.port"), "5432");
    assert!(!acquire.fields.contains_key("error.type"));
}

#[tokio::test(start_paused = true)]
async fn a_waited_checkout_that_times_out_says_so_and_how_long_it_waited() {
    let pool = Identified::pool(1, Duration::from_millis(250));
    let held = pool.get().await.unwrap();
    let (recorder, _guard) = Recorder::install();

    let error = pool.get().await.unwrap_err();
    assert!(matches!(error, PoolError::Timeout { .. }), "{error}");
    drop(held);

    let acquires = recorder.named(spans::ACQUIRE);
    assert_eq!(acquires.len(), 1, "{acquires:#?}");
    let acquire = &acquires[0];
    assert_eq!(field(acquire, "pool.outcome"), "timed_out");
    assert_eq!(field(acquire, "pool.waited"), "true");
    assert_eq!(field(acquire, "error.type"), "timeout");
    let waited_ms: f64 = field(acquire, "pool.wait_ms").parse().unwrap();
    assert!((250.0..260.0).contains(&waited_ms), "waited {waited_ms} ms");
}

#[tokio::test(start_paused = true)]
async fn a_call_retried_twice_then_succeeding_is_a_call_with_three_attempts() {
    let pool = Identified::pool(2, Duration::from_secs(1));
    let policy = Resilience::builder("find_user")
        .retries(3)
        .base(Duration::from_millis(100))
        .seed(7)
        .build();
    let (recorder, _guard) = Recorder::install();

    let mut failures_left = 2;
    let result = policy
        .call(|| {
            let fail = failures_left > 0;
            failures_left -= 1;
            let pool = &pool;
            async move {
                let _conn = pool.get().await?;
                if fail {
                    return Err(CallError::Body(support::TestError {
                        class: ErrorClass::Transient,
                        seq: 0,
                    }));
                }
                Ok(42)
            }
        })
        .await;
    assert_eq!(result.unwrap(), 42);

    let call = recorder.index_of(spans::CALL);
    let call_span = &recorder.spans()[call];
    assert_eq!(field(call_span, "code.function.name"), "find_user");
    assert_eq!(field(call_span, "pool.outcome"), "ok");
    assert_eq!(field(call_span, "pool.attempts"), "3");
    let attempts = recorder.children(call, spans::ATTEMPT);
    let numbers: Vec<&str> = attempts
        .iter()
        .map(|(_, a)| field(a, "pool.attempt"))
        .collect();
    assert_eq!(numbers, ["1", "2", "3"]);
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|(_, a)| field(a, "pool.outcome"))
        .collect();
    assert_eq!(outcomes, ["error", "error", "ok"]);
    for (_, failed) in &attempts[..2] {
        assert_eq!(field(failed, "error.type"), "transient");
        assert_eq!(field(failed, "pool.delivery"), "rejected");
        assert_eq!(failed.events, ["attempt failed; retrying"]);
    }
    assert_eq!(field(&attempts[0].1, "pool.backoff_ms"), "0");
    for (_, retried) in &attempts[1..] {
        let backoff: u64 = field(retried, "pool.backoff_ms").parse().unwrap();
        assert!(backoff <= 5_000, "backoff {backoff} ms");
    }
    for (index, _) in &attempts {
        let checkouts = recorder.children(*index, spans::ACQUIRE);
        assert_eq!(checkouts.len(), 1, "each attempt checks out once");
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_an_open_breaker_rejects_is_rejected_before_its_attempt_runs() {
    let breaker = Arc::new(CircuitBreaker::new("db", BreakerConfig::default()).unwrap());
    let policy = Resilience::builder("find_user")
        .retries(2)
        .circuit_breaker(Arc::clone(&breaker))
        .build();
    let (recorder, _guard) = Recorder::install();
    breaker.force_open();

    let mut ran = false;
    let result: Result<(), CallError> = policy
        .call(|| {
            ran = true;
            async { Ok(()) }
        })
        .await;
    assert!(matches!(
        result,
        Err(CallError::Rejected(Rejected::BreakerOpen { .. }))
    ));
    assert!(ran, "the attempt's future is made, and dropped unpolled");

    let call = recorder.index_of(spans::CALL);
    let call_span = &recorder.spans()[call];
    assert_eq!(field(call_span, "pool.outcome"), "rejected");
    assert_eq!(field(call_span, "error.type"), "breaker_open");
    let attempts = recorder.children(call, spans::ATTEMPT);
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    let attempt = &attempts[0].1;
    assert_eq!(field(attempt, "pool.breaker.state"), "forced_open");
    assert_eq!(field(attempt, "pool.outcome"), "rejected");
    assert!(recorder.children(attempts[0].0, spans::ACQUIRE).is_empty());
}

/// One transaction through the engine, as `#[pooled(transaction)]` runs it, inside a call.
async fn transaction(
    pool: &Pool<Identified>,
    body: Result<u32, support::TestError>,
) -> Result<u32, CallError> {
    let policy = Resilience::builder("transfer").build();
    let transaction = Transaction::<Identified, CallError>::new();
    let result: Result<u32, Failed<CallError>> = policy
        .call(|| {
            let body = body.clone().map_err(CallError::from);
            let transaction = &transaction;
            async move {
                let conn = pool.get().await?;
                let open = transaction.begin(conn).await?;
                transaction.end(open, body).await
            }
        })
        .await;
    transaction.deliver(result)
}

fn class(error: &CallError) -> ErrorClass {
    error.class()
}

fn the_transaction(recorder: &Recorder) -> Recorded {
    let attempt = recorder.index_of(spans::ATTEMPT);
    let transactions = recorder.children(attempt, spans::TRANSACTION);
    assert_eq!(transactions.len(), 1, "{:#?}", recorder.spans());
    transactions[0].1.clone()
}

#[tokio::test(start_paused = true)]
async fn a_committed_transaction_is_a_span_inside_its_attempt() {
    let pool = Identified::pool(2, Duration::from_secs(1));
    let (recorder, _guard) = Recorder::install();

    assert_eq!(transaction(&pool, Ok(1)).await.unwrap(), 1);

    let span = the_transaction(&recorder);
    assert_eq!(field(&span, "pool.outcome"), "committed");
    assert_eq!(field(&span, "db.client.connection.pool.name"), "orders");
    assert_eq!(field(&span, "db.system.name"), "postgresql");
    assert!(!span.fields.contains_key("error.type"));
}

#[tokio::test(start_paused = true)]
async fn a_rolled_back_transaction_says_why() {
    let pool = Identified::pool(2, Duration::from_secs(1));
    let (recorder, _guard) = Recorder::install();

    let body = Err(support::TestError {
        class: ErrorClass::Permanent,
        seq: 9,
    });
    let error = transaction(&pool, body).await.unwrap_err();
    assert!(
        matches!(error, CallError::Body(support::TestError { seq: 9, .. })),
        "{error}"
    );

    let span = the_transaction(&recorder);
    assert_eq!(field(&span, "pool.outcome"), "rolled_back");
    assert_eq!(field(&span, "error.type"), "permanent");
}

#[tokio::test(start_paused = true)]
async fn a_commit_whose_answer_is_lost_is_visible_as_unknown() {
    let pool = Identified::pool(2, Duration::from_secs(1));
    pool.manager().commit.store(COMMIT_LOST, Ordering::SeqCst);
    let (recorder, _guard) = Recorder::install();

    let error = transaction(&pool, Ok(1)).await.unwrap_err();
    assert_eq!(class(&error), ErrorClass::Connection);

    let span = the_transaction(&recorder);
    assert_eq!(field(&span, "pool.outcome"), "commit_outcome_unknown");
    assert_eq!(field(&span, "error.type"), "connection");
    let call = &recorder.named(spans::CALL)[0];
    assert_eq!(field(call, "pool.outcome"), "error");
}

#[tokio::test(start_paused = true)]
async fn a_commit_cut_by_the_attempt_timeout_is_visible_as_unknown() {
    let pool = Identified::pool(2, Duration::from_secs(1));
    pool.manager().commit.store(COMMIT_HANGS, Ordering::SeqCst);
    let (recorder, _guard) = Recorder::install();

    let policy = Resilience::builder("transfer")
        .timeout(Duration::from_millis(100))
        .build();
    let transaction = Transaction::<Identified, CallError>::new();
    let result: Result<(), Failed<CallError>> = policy
        .call(|| {
            let transaction = &transaction;
            let pool = &pool;
            async move {
                let conn = pool.get().await?;
                let open = transaction.begin(conn).await?;
                transaction.end(open, Ok(())).await
            }
        })
        .await;
    let error = transaction.deliver(result).unwrap_err();
    assert_eq!(
        class(&error),
        ErrorClass::Timeout,
        "CommitOutcomeUnknown::Cut: {error}"
    );

    let span = the_transaction(&recorder);
    assert_eq!(field(&span, "pool.outcome"), "commit_outcome_unknown");
    assert_eq!(field(&span, "error.type"), "timeout");
}

#[test]
fn the_module_table_lists_every_span() {
    let source = include_str!("../src/spans.rs");
    for name in spans::ALL {
        assert!(
            source.contains(&format!("//! | `{name}` |")),
            "the spans table does not list `{name}`"
        );
    }
}
