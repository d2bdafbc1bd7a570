//! One scripted scenario through every event the pool and the policies record, on the
//! paused clock, under `metrics-util`'s debugging recorder: what `pool.metrics()` says
//! must be what the recorder saw, counter by counter, and the policies' counters must be
//! what the scenario did. The pool's part runs again under OpenTelemetry's names
//! (`MetricNames::OpenTelemetry`), checked against the same counters and `status()`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::{collections::HashMap, sync::Arc, time::Duration};

use metrics::Unit;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use pool_core::{
    Backoff, BreakerConfig, BreakerState, CircuitBreaker, Classify, Delivery, ErrorClass, Jitter,
    MetricNames, Metrics, Pool, PoolError, Rejected, Resilience, SlidingWindow, Status, names,
    names::otel,
};
use support::{Step, TestError, TestManager, settle};

/// What the debugging recorder saw, by `name{label=value,...}` (labels in the order the
/// code registers them), and the unit each name was described with.
struct Seen(HashMap<String, DebugValue>, HashMap<String, Option<Unit>>);

impl Seen {
    fn take(snapshotter: &Snapshotter) -> Self {
        let mut units = HashMap::new();
        let values = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, unit, _, value)| {
                let key = key.key();
                units.insert(key.name().to_owned(), unit);
                let labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                (format!("{}{{{}}}", key.name(), labels.join(",")), value)
            })
            .collect();
        Seen(values, units)
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.0
            .keys()
            .map(|key| key.split('{').next().unwrap_or(key))
    }

    fn unit(&self, name: &str) -> Option<Unit> {
        self.1.get(name).copied().flatten()
    }

    fn histogram(&self, key: &str) -> Vec<f64> {
        match self.0.get(key) {
            Some(DebugValue::Histogram(values)) => values.iter().map(|v| v.into_inner()).collect(),
            other => panic!("{key} is not a histogram: {other:?}"),
        }
    }

    fn counter(&self, key: &str) -> u64 {
        match self.0.get(key) {
            Some(DebugValue::Counter(count)) => *count,
            Some(other) => panic!("{key} is not a counter: {other:?}"),
            None => panic!("the recorder never saw {key}"),
        }
    }

    fn gauge(&self, key: &str) -> f64 {
        match self.0.get(key) {
            Some(DebugValue::Gauge(value)) => value.into_inner(),
            other => panic!("{key} is not a gauge: {other:?}"),
        }
    }

    fn histogram_len(&self, key: &str) -> u64 {
        match self.0.get(key) {
            Some(DebugValue::Histogram(values)) => values.len() as u64,
            other => panic!("{key} is not a histogram: {other:?}"),
        }
    }

    /// The pool's counters as the recorder saw them, in `Metrics`' shape (latency
    /// quantiles are the pool's own; their count is checked against the histogram).
    fn pool_metrics(&self, pool: &str, latency: pool_core::LatencyQuantiles) -> Metrics {
        let p = format!("pool={pool}");
        let checkouts =
            |outcome: &str| self.counter(&format!("{}{{{p},outcome={outcome}}}", names::CHECKOUTS));
        let closed =
            |reason: &str| self.counter(&format!("{}{{{p},reason={reason}}}", names::CLOSED));
        Metrics {
            connections_created: self.counter(&format!("{}{{{p}}}", names::CREATED)),
            closed_broken: closed("broken"),
            closed_invalid: closed("invalid"),
            closed_idle: closed("idle"),
            closed_lifetime: closed("lifetime"),
            closed_pool: closed("closed"),
            closed_hook: closed("hook"),
            checkouts_direct: checkouts("direct"),
            checkouts_waited: checkouts("waited"),
            checkouts_timed_out: checkouts("timed_out"),
            slow_acquires: self.counter(&format!("{}{{{p}}}", names::SLOW_ACQUIRES)),
            connect_errors: self.counter(&format!("{}{{{p}}}", names::CONNECT_ERRORS)),
            leaks: self.counter(&format!("{}{{{p}}}", names::LEAKS)),
            recovered: self.counter(&format!("{}{{{p}}}", names::RECOVERED)),
            limit: self.gauge(&format!("{}{{{p}}}", names::LIMIT)) as u64,
            acquire_latency: latency,
        }
    }
}

#[derive(Debug)]
enum CallError {
    Db(ErrorClass),
    Rejected(Rejected),
}

impl Classify for CallError {
    fn class(&self) -> ErrorClass {
        match self {
            CallError::Db(class) => *class,
            CallError::Rejected(rejected) => rejected.class(),
        }
    }
    fn delivery(&self) -> Delivery {
        match self {
            CallError::Db(_) => Delivery::Rejected,
            CallError::Rejected(rejected) => rejected.delivery(),
        }
    }
}

impl From<Rejected> for CallError {
    fn from(rejected: Rejected) -> Self {
        CallError::Rejected(rejected)
    }
}

async fn run_for(duration: Duration) {
    let until = tokio::time::Instant::now() + duration;
    while tokio::time::Instant::now() < until {
        settle().await;
        tokio::time::advance(Duration::from_millis(100)).await;
    }
    settle().await;
}

/// The pool's part: warm-up failures, direct and waited checkouts, a slow acquire, a
/// timeout, a leak, a broken return, a failed validation, idle and lifetime closes,
/// a close by `retain`, closes by `close()`, and a slow `#[pooled]`-style call.
async fn pool_scenario(names: MetricNames) -> (Pool<TestManager>, Metrics) {
    let (manager, state) = TestManager::new();
    state.script_connects([
        Step::Fail(ErrorClass::Connection),
        Step::Fail(ErrorClass::Connection),
        Step::Ok,
    ]);
    let pool = Pool::builder(manager)
        .name("events")
        .metric_names(names)
        .max_size(2)
        .connect_timeout(Duration::from_secs(1))
        .connect_backoff(Duration::from_millis(100), Duration::from_millis(100))
        .acquire_timeout(Duration::from_secs(2))
        .slow_acquire_threshold(Some(Duration::from_millis(500)))
        .leak_threshold(Some(Duration::from_secs(5)))
        .idle_timeout(Some(Duration::from_secs(10)))
        .max_lifetime(Some(Duration::from_secs(60)))
        .reaper_interval(Duration::from_secs(1))
        .build_and_connect()
        .await
        .unwrap();

    // The warmed-up connection, at once; then a second that waits 600 ms for its connect.
    let first = pool.get().await.unwrap();
    state.script_connects([Step::Slow(Duration::from_millis(600))]);
    let second = pool.get().await.unwrap();
    // Both slots held: a third caller times out.
    assert!(matches!(pool.get().await, Err(PoolError::Timeout { .. })));
    // Held past the leak threshold.
    run_for(Duration::from_secs(6)).await;
    // One breaks, one comes back and is closed after idling past the idle timeout.
    let mut second = second;
    second.broken = true;
    drop(second);
    drop(first);
    run_for(Duration::from_secs(12)).await;

    // An idle connection that fails validation is closed, and the caller gets a new one.
    drop(pool.get().await.unwrap());
    run_for(Duration::from_secs(1)).await;
    state.script_checks([Step::Fail(ErrorClass::Connection)]);
    let mut long_held = pool.get().await.unwrap();
    // A slow call, timed as `#[pooled]` times one.
    long_held.begin_call("metrics_events::pooled_call");
    run_for(Duration::from_secs(2)).await;
    long_held.finish(&Ok::<(), TestError>(()));
    // Kept past its lifetime: closed when it comes back.
    let long_held = pool.get().await.unwrap();
    run_for(Duration::from_secs(61)).await;
    drop(long_held);
    // Closed on demand, as after a credentials rotation.
    drop(pool.get().await.unwrap());
    assert_eq!(pool.retain(|_| false), 1);
    drop(pool.get().await.unwrap());
    pool.close().await;
    let metrics = pool.metrics();
    (pool, metrics)
}

/// Recovery's part, on a pool whose manager recovers (the scripted `TestManager` does
/// not): one operation cancelled by its caller and recovered, one that cannot be.
async fn recovery_scenario() -> Metrics {
    let (pool, recoveries) = support::recovering::pool(None);
    let mut conn = pool.get().await.unwrap();
    conn.begin_operation();
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    *recoveries.script.lock().unwrap() = Some((Duration::ZERO, false));
    conn.begin_operation();
    drop(conn);
    drop(pool.get().await.unwrap());
    pool.close().await;
    pool.metrics()
}

/// The policies' part: a retry that succeeds, a slow call, a retry cut by the breaker
/// opening, a rejection while open, the half-open probe that closes it, and an attempt
/// timeout.
async fn policy_scenario(breaker: &Arc<CircuitBreaker>) {
    let policy = Resilience::builder("metrics_events::find")
        .retries(1)
        .backoff(Backoff::Fixed)
        .base(Duration::from_millis(10))
        .max_delay(Duration::from_millis(10))
        .jitter(Jitter::None)
        .timeout(Duration::from_secs(1))
        .slow_call_threshold(Duration::from_millis(200))
        .circuit_breaker(Arc::clone(breaker))
        .build();
    let outcomes = |script: Vec<Result<u32, ErrorClass>>| {
        let script = std::sync::Mutex::new(script.into_iter());
        move || {
            let next = script.lock().unwrap().next().unwrap_or(Ok(0));
            async move { next.map_err(CallError::Db) }
        }
    };
    // 1: fails, is retried, succeeds (breaker: F S).
    let result = policy
        .call(outcomes(vec![Err(ErrorClass::Transient), Ok(1)]))
        .await;
    assert_eq!(result.unwrap(), 1);
    // 2: succeeds slowly (F S S).
    let result = policy
        .call(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<u32, CallError>(2)
        })
        .await;
    assert_eq!(result.unwrap(), 2);
    // 3: fails (F S S F: 50 %, the breaker opens), its retry is rejected.
    let result = policy
        .call(outcomes(vec![Err(ErrorClass::Transient), Ok(3)]))
        .await;
    assert!(matches!(
        result,
        Err(CallError::Rejected(Rejected::BreakerOpen { .. }))
    ));
    // 4: rejected at once.
    let result = policy.call(outcomes(vec![Ok(4)])).await;
    assert!(matches!(
        result,
        Err(CallError::Rejected(Rejected::BreakerOpen { .. }))
    ));
    // 5: after the wait in open, the probe succeeds and closes the breaker.
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(policy.call(outcomes(vec![Ok(5)])).await.unwrap(), 5);
    assert_eq!(breaker.state(), BreakerState::Closed);
    // 6: an attempt runs past its timeout (and is slow); ambiguous, so not retried.
    let result = policy
        .call(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<u32, CallError>(6)
        })
        .await;
    assert!(matches!(
        result,
        Err(CallError::Rejected(Rejected::Timeout { .. }))
    ));
}

#[test]
fn every_counter_the_pool_reports_is_what_the_recorder_saw() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (pool_metrics, recovery_metrics, transitions) =
        metrics::with_local_recorder(&recorder, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            runtime.block_on(async {
                let (_pool, metrics) = pool_scenario(MetricNames::Pool).await;
                let recovery_metrics = recovery_scenario().await;
                let breaker = Arc::new(
                    CircuitBreaker::new(
                        "metrics_events_db",
                        BreakerConfig {
                            minimum_calls: 4,
                            sliding_window: SlidingWindow::Count(4),
                            wait_in_open: Duration::from_secs(5),
                            permitted_calls_in_half_open: 1,
                            ..BreakerConfig::default()
                        },
                    )
                    .unwrap(),
                );
                let mut events = breaker.subscribe();
                policy_scenario(&breaker).await;
                let mut transitions: HashMap<(String, String), u64> = HashMap::new();
                while let Ok(event) = events.try_recv() {
                    *transitions
                        .entry((event.from.as_str().to_owned(), event.to.as_str().to_owned()))
                        .or_default() += 1;
                }
                (metrics, recovery_metrics, transitions)
            })
        });

    let seen = Seen::take(&snapshotter);

    // The pool: counter by counter, the same figures through both sinks.
    let from_recorder = seen.pool_metrics("events", pool_metrics.acquire_latency);
    assert_eq!(pool_metrics, from_recorder);
    let recovery_from_recorder = seen.pool_metrics("recovering", recovery_metrics.acquire_latency);
    assert_eq!(recovery_metrics, recovery_from_recorder);
    assert_eq!(
        (recovery_metrics.recovered, recovery_metrics.closed_broken),
        (1, 1),
        "one recovered, one that could not be"
    );
    assert_eq!(
        seen.histogram_len(&format!("{}{{pool=events}}", names::ACQUIRE_SECONDS)),
        pool_metrics.checkouts_waited
    );
    assert_eq!(
        pool_metrics.acquire_latency.count,
        pool_metrics.checkouts_direct + pool_metrics.checkouts_waited
    );
    // ... and the scenario reached every one of them.
    let Metrics {
        connections_created,
        closed_broken,
        closed_invalid,
        closed_idle,
        closed_lifetime,
        closed_pool,
        closed_hook,
        checkouts_direct,
        checkouts_waited,
        checkouts_timed_out,
        slow_acquires,
        connect_errors,
        leaks,
        // Reached by the recovering pool, above.
        recovered: _,
        limit,
        acquire_latency: _,
    } = pool_metrics;
    for (name, value) in [
        ("connections_created", connections_created),
        ("closed_broken", closed_broken),
        ("closed_invalid", closed_invalid),
        ("closed_idle", closed_idle),
        ("closed_lifetime", closed_lifetime),
        ("closed_pool", closed_pool),
        ("closed_hook", closed_hook),
        ("checkouts_direct", checkouts_direct),
        ("checkouts_waited", checkouts_waited),
        ("checkouts_timed_out", checkouts_timed_out),
        ("slow_acquires", slow_acquires),
        ("leaks", leaks),
        ("limit", limit),
    ] {
        assert!(value > 0, "the scenario never reached {name}");
    }
    assert_eq!(
        connect_errors, 2,
        "the warm-up's two failures, in both sinks"
    );
    println!("pool metrics, equal in both sinks: {pool_metrics:?}");

    // The slow-call report, from the pool's door and the policy's.
    let slow =
        |function: &str| seen.counter(&format!("{}{{function={function}}}", names::SLOW_CALLS));
    assert_eq!(slow("metrics_events::pooled_call"), 1);

    // The policies: what the scenario did.
    let f = "function=metrics_events::find";
    let calls = |outcome: &str| seen.counter(&format!("{}{{{f},outcome={outcome}}}", names::CALLS));
    assert_eq!(calls("ok"), 3);
    assert_eq!(calls("error"), 1);
    assert_eq!(calls("rejected"), 2);
    assert_eq!(seen.counter(&format!("{}{{{f}}}", names::RETRIES)), 2);
    assert_eq!(slow("metrics_events::find"), 2);
    let rejections =
        |reason: &str| seen.counter(&format!("{}{{{f},reason={reason}}}", names::REJECTIONS));
    for (reason, expected) in [
        ("breaker_open", 2),
        ("timeout", 1),
        ("deadline_exceeded", 0),
        ("bulkhead_full", 0),
        ("budget_exhausted", 0),
        ("breaker_not_declared", 0),
        ("breaker_invalid", 0),
    ] {
        assert_eq!(rejections(reason), expected, "reason={reason}");
    }
    // Breaker transitions: the counter matches the breaker's own event stream.
    assert_eq!(transitions.len(), 3, "{transitions:?}");
    for ((from, to), count) in &transitions {
        assert_eq!(
            seen.counter(&format!(
                "{}{{breaker=metrics_events_db,from={from},to={to}}}",
                names::BREAKER_TRANSITIONS
            )),
            *count,
            "{from} -> {to}"
        );
    }
    assert_eq!(
        seen.gauge(&format!(
            "{}{{breaker=metrics_events_db}}",
            names::BREAKER_STATE
        )),
        BreakerState::Closed.gauge_value()
    );
}

/// Runs `scenario` on a paused runtime under a recorder of its own, and what it saw.
fn recorded<T>(scenario: impl AsyncFnOnce(&Snapshotter) -> T) -> (T, Seen) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let out = metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(scenario(&snapshotter))
    });
    (out, Seen::take(&snapshotter))
}

#[test]
fn under_open_telemetry_names_the_recorder_sees_the_pools_own_figures() {
    let ((_, ours), ours_seen) = recorded(async |_| pool_scenario(MetricNames::Pool).await);
    let ((_, metrics), seen) = recorded(async |_| pool_scenario(MetricNames::OpenTelemetry).await);
    // The names change nothing the pool does: the same script, the same counters.
    assert_eq!(metrics, ours);

    let key = |name: &str| format!("{name}{{{}=events}}", otel::POOL_NAME_KEY);
    assert_eq!(
        seen.counter(&key(otel::TIMEOUTS)),
        metrics.checkouts_timed_out
    );
    // One creation time per connection opened, the scripted 600 ms connect among them.
    let created = seen.histogram(&key(otel::CREATE_TIME));
    assert_eq!(created.len() as u64, metrics.connections_created);
    assert!(created.contains(&0.6), "{created:?}");
    // One wait per successful checkout: 0 for the direct ones, and exactly the waits the
    // pool's own names timed for the others.
    let mut waits = seen.histogram(&key(otel::WAIT_TIME));
    assert_eq!(
        waits.len() as u64,
        metrics.checkouts_direct + metrics.checkouts_waited
    );
    assert_eq!(waits.len() as u64, metrics.acquire_latency.count);
    let mut expected = ours_seen.histogram(&format!("{}{{pool=events}}", names::ACQUIRE_SECONDS));
    expected.extend(std::iter::repeat_n(0.0, metrics.checkouts_direct as usize));
    waits.sort_by(f64::total_cmp);
    expected.sort_by(f64::total_cmp);
    assert_eq!(waits, expected);
    // One use per checkout ended (none is out once the pool has closed), the leaked one's
    // hold past the leak threshold among them.
    let uses = seen.histogram(&key(otel::USE_TIME));
    assert_eq!(uses.len() as u64, metrics.acquire_latency.count);
    assert!(uses.iter().any(|held| *held > 5.0), "{uses:?}");

    // What the conventions do not name keeps its name and label, with the same figures.
    let p = "pool=events";
    let closed = |reason: &str| seen.counter(&format!("{}{{{p},reason={reason}}}", names::CLOSED));
    assert_eq!(
        [
            closed("broken"),
            closed("invalid"),
            closed("idle"),
            closed("lifetime"),
            closed("closed"),
            closed("hook"),
        ],
        [
            metrics.closed_broken,
            metrics.closed_invalid,
            metrics.closed_idle,
            metrics.closed_lifetime,
            metrics.closed_pool,
            metrics.closed_hook,
        ]
    );
    for (name, figure) in [
        (names::SLOW_ACQUIRES, metrics.slow_acquires),
        (names::CONNECT_ERRORS, metrics.connect_errors),
        (names::LEAKS, metrics.leaks),
    ] {
        assert_eq!(seen.counter(&format!("{name}{{{p}}}")), figure, "{name}");
    }
    assert_eq!(
        seen.gauge(&format!("{}{{{p}}}", names::LIMIT)) as u64,
        metrics.limit
    );

    // Each scheme exports its own names only, and OpenTelemetry's with their units.
    for name in seen.names() {
        assert!(
            !names::otel::REPLACED.contains(&name),
            "{name} under OpenTelemetry's names"
        );
    }
    for name in ours_seen.names() {
        assert!(!name.starts_with("db."), "{name} under the pool's names");
    }
    for name in otel::ALL {
        let unit = if name.ends_with("_time") {
            Unit::Seconds
        } else {
            Unit::Count
        };
        assert_eq!(seen.unit(name), Some(unit), "{name}");
    }
}

/// A pool of 3 keeping 1 idle: all 3 out and a caller waiting, then 2 back (the waiter
/// takes one and gives it back), 1 still out. The gauges as the recorder saw them at each
/// step.
async fn gauges_scenario(names: MetricNames, snapshotter: &Snapshotter) -> Vec<(Status, Seen)> {
    let (manager, _state) = TestManager::new();
    let pool = Pool::builder(manager)
        .name("gauges")
        .metric_names(names)
        .max_size(3)
        .min_idle(1)
        .acquire_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pool.get().await.unwrap());
    }
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.get().await.map(drop) })
    };
    settle().await;
    let mut steps = vec![(pool.status(), Seen::take(snapshotter))];
    held.pop();
    waiter.await.unwrap().unwrap();
    held.pop();
    settle().await;
    steps.push((pool.status(), Seen::take(snapshotter)));
    drop(held);
    steps
}

#[test]
fn the_gauges_are_the_pools_status_under_both_names() {
    let (steps, _) =
        recorded(async |snapshotter| gauges_scenario(MetricNames::Pool, snapshotter).await);
    for (status, seen) in &steps {
        let gauge = |key: &str| seen.gauge(key) as usize;
        assert_eq!(
            gauge("pool_connections{pool=gauges,state=idle}"),
            status.idle
        );
        assert_eq!(
            gauge("pool_connections{pool=gauges,state=in_use}"),
            status.in_use
        );
        assert_eq!(gauge("pool_waiting{pool=gauges}"), status.waiting);
        assert_eq!(gauge("pool_max_size{pool=gauges}"), status.max_size);
    }
    let (otel_steps, _) = recorded(async |snapshotter| {
        gauges_scenario(MetricNames::OpenTelemetry, snapshotter).await
    });
    let statuses = |steps: &[(Status, Seen)]| steps.iter().map(|(s, _)| *s).collect::<Vec<_>>();
    assert_eq!(statuses(&otel_steps), statuses(&steps));
    for (status, seen) in &otel_steps {
        let pool = format!("{}=gauges", otel::POOL_NAME_KEY);
        let gauge = |name: &str, state: Option<&str>| {
            let key = match state {
                Some(state) => format!("{name}{{{pool},{}={state}}}", otel::STATE_KEY),
                None => format!("{name}{{{pool}}}"),
            };
            seen.gauge(&key) as usize
        };
        assert_eq!(gauge(otel::CONNECTION_COUNT, Some("idle")), status.idle);
        assert_eq!(gauge(otel::CONNECTION_COUNT, Some("used")), status.in_use);
        assert_eq!(gauge(otel::PENDING_REQUESTS, None), status.waiting);
        assert_eq!(gauge(otel::MAX, None), status.max_size);
        assert_eq!(gauge(otel::IDLE_MAX, None), status.max_size);
        assert_eq!(gauge(otel::IDLE_MIN, None), 1);
    }
    // The steps reached what they are for: a waiter, then an idle connection.
    let [(out, _), (back, _)] = &steps[..] else {
        panic!("two steps")
    };
    assert_eq!((out.in_use, out.waiting, out.idle), (3, 1, 0));
    assert_eq!((back.in_use, back.waiting, back.idle), (1, 0, 2));
}
