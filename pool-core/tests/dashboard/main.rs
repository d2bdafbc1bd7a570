//! The Grafana dashboards under `dashboards/` cannot drift from the metrics: every metric
//! their PromQL selects is one a real pool, policy and breaker export through
//! `metrics-exporter-prometheus` (as the `service` example installs it) under the naming
//! scheme the dashboard is for, with the labels and label values the queries match and
//! group by; and every metric exported is shown on a panel.
//!
//! What is exported is not read from a list: a scenario runs under a local Prometheus
//! recorder (a pool's direct, waited and timed-out checkouts, a slow `#[pooled]`-style
//! call, a policy's calls, a breaker forced open and reset) and the rendered scrape is
//! parsed, so a histogram shows as its `_bucket`, `_sum` and `_count` series and an
//! OpenTelemetry name with underscores for its dots. The one series no pool-core pool
//! sets is `pool_host_connections{pool, host}` (the bindings' per-host tally), added as
//! pool-facts's `HostTally` publishes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod promql;
mod scrape;
#[path = "../support/mod.rs"]
mod support;

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use pool_core::{
    ACQUIRE_SECONDS_BUCKETS, BreakerConfig, CircuitBreaker, MetricNames, Pool, Rejected,
    Resilience, names,
};
use promql::{Reads, reads, variable_reads};
use scrape::Scrape;
use serde_json::Value;
use support::{TestError, TestManager};

/// The default scheme's dashboard.
const POOL_DASHBOARD: &str = include_str!("../../../dashboards/pool.json");
/// The dashboard for pools under OpenTelemetry's names.
const OPEN_TELEMETRY_DASHBOARD: &str = include_str!("../../../dashboards/pool-opentelemetry.json");

/// Runs the scenario on a pool under `scheme`, under a Prometheus recorder with
/// `histograms` bucketed as the README says, and returns what a scrape shows.
fn scrape(scheme: MetricNames, histograms: &[&str]) -> Scrape {
    let mut builder = PrometheusBuilder::new();
    for histogram in histograms {
        builder = builder
            .set_buckets_for_metric(
                Matcher::Full((*histogram).to_owned()),
                &ACQUIRE_SECONDS_BUCKETS,
            )
            .unwrap();
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(scenario(scheme));
    });
    Scrape::parse(&handle.render()).with_series(
        names::HOST_CONNECTIONS,
        &[("pool", "dashboard"), ("host", "db1.internal:5432")],
    )
}

/// A pool's checkouts of every outcome, a slow call, a policy's calls and a breaker's
/// transitions.
async fn scenario(scheme: MetricNames) {
    let (manager, _state) = TestManager::new();
    let pool = Pool::builder(manager)
        .name("dashboard")
        .max_size(1)
        .acquire_timeout(Duration::from_millis(100))
        .metric_names(scheme)
        .build()
        .unwrap();
    let held = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(held);
    waiter.await.unwrap().unwrap();
    let mut held = pool.get().await.unwrap();
    assert!(pool.get().await.is_err(), "the second caller times out");
    held.begin_call("dashboard::pooled_call");
    tokio::time::sleep(Duration::from_secs(2)).await;
    held.finish(&Ok::<(), TestError>(()));
    pool.close().await;

    let breaker = Arc::new(CircuitBreaker::new("dashboard_db", BreakerConfig::default()).unwrap());
    let policy = Resilience::builder("dashboard::find")
        .retries(1)
        .circuit_breaker(Arc::clone(&breaker))
        .build();
    assert_eq!(
        policy
            .call(|| async { Ok::<u32, Rejected>(1) })
            .await
            .unwrap(),
        1
    );
    breaker.force_open();
    assert!(
        policy
            .call(|| async { Ok::<u32, Rejected>(2) })
            .await
            .is_err()
    );
    breaker.reset();
}

/// Every PromQL expression of a dashboard: each `expr` anywhere in its panels (rows
/// included), and its query variables' queries.
fn queries(dashboard: &Value) -> (Vec<String>, Vec<String>) {
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("expr", Value::String(expr)) => found.push(expr.clone()),
                        _ => walk(value, found),
                    }
                }
            }
            Value::Array(values) => values.iter().for_each(|value| walk(value, found)),
            _ => {}
        }
    }
    let mut exprs = Vec::new();
    walk(&dashboard["panels"], &mut exprs);
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .filter(|variable| variable["type"] == "query")
        .map(|variable| match &variable["query"] {
            Value::String(query) => query.clone(),
            query => query["query"].as_str().expect("a query").to_owned(),
        })
        .collect();
    (exprs, variables)
}

/// `query` (of `file`) reads only what `scrape` shows: its metrics, the labels it matches
/// and groups by, and the exact label values it asks for.
fn check_query(file: &str, query: &str, read: &Reads, scrape: &Scrape) {
    assert!(
        !read.selectors.is_empty(),
        "{file}: `{query}` selects no metric"
    );
    for selector in &read.selectors {
        let name = &selector.name;
        let Some(labels) = scrape.series.get(name) else {
            panic!(
                "{file}: `{query}` uses `{name}`, which the library does not export under \
                 this scheme; exported: {:?}",
                scrape.series.keys()
            );
        };
        for matcher in &selector.matchers {
            assert!(
                scrape.has_label(name, &matcher.key),
                "{file}: `{query}` matches `{name}` on `{}`, a label it does not carry: {labels:?}",
                matcher.key
            );
            let exact = matcher.op == "=" && !matcher.value.contains('$');
            assert!(
                !exact || labels.contains(&(matcher.key.clone(), matcher.value.clone())),
                "{file}: `{query}` asks for `{name}{{{}=\"{}\"}}`, a value the library never \
                 gives it: {labels:?}",
                matcher.key,
                matcher.value
            );
        }
    }
    for label in &read.grouping {
        assert!(
            read.selectors
                .iter()
                .any(|selector| scrape.has_label(&selector.name, label)),
            "{file}: `{query}` groups by `{label}`, which none of its metrics carries"
        );
    }
}

/// Every query of `dashboard` reads only what `scrape` shows, and every family `scrape`
/// has is on a panel.
fn check(file: &str, dashboard: &str, scrape: &Scrape) {
    let dashboard: Value = serde_json::from_str(dashboard)
        .unwrap_or_else(|error| panic!("{file} is not JSON: {error}"));
    let (exprs, variables) = queries(&dashboard);
    assert!(!exprs.is_empty(), "{file} has no queries");
    let mut used = BTreeSet::new();
    for (query, read) in exprs
        .iter()
        .map(|expr| (expr, reads(expr)))
        .chain(variables.iter().map(|query| (query, variable_reads(query))))
    {
        check_query(file, query, &read, scrape);
        used.extend(read.selectors.into_iter().map(|selector| selector.name));
    }
    for family in &scrape.families {
        let shown = used.iter().any(|name| {
            name == family
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(family))
        });
        assert!(shown, "{file} shows no panel of `{family}`");
    }
}

/// `name` as Prometheus writes it: dots (OpenTelemetry's) as underscores.
fn prometheus(name: &str) -> String {
    name.replace('.', "_")
}

#[test]
fn the_default_dashboard_reads_exactly_the_default_names() {
    let scrape = scrape(MetricNames::Pool, &[names::ACQUIRE_SECONDS]);
    // The scrape is the library's whole default vocabulary: a family per name.
    let families: Vec<&str> = scrape.families.iter().map(String::as_str).collect();
    let mut all = names::ALL.to_vec();
    all.sort_unstable();
    assert_eq!(families, all, "the scenario registers every name");
    assert!(
        scrape
            .series
            .contains_key(&format!("{}_bucket", names::ACQUIRE_SECONDS)),
        "the acquire histogram is exported with buckets: {:?}",
        scrape.series.keys()
    );
    check("dashboards/pool.json", POOL_DASHBOARD, &scrape);
}

#[test]
fn the_open_telemetry_dashboard_reads_exactly_the_open_telemetry_names() {
    let histograms = [
        names::otel::WAIT_TIME,
        names::otel::CREATE_TIME,
        names::otel::USE_TIME,
    ];
    let scrape = scrape(MetricNames::OpenTelemetry, &histograms);
    // Every OpenTelemetry name is there; the rest are the pool_* names they leave.
    for name in names::otel::ALL {
        assert!(
            scrape.families.contains(&prometheus(name)),
            "{name} is not exported: {:?}",
            scrape.families
        );
    }
    for family in &scrape.families {
        assert!(
            names::otel::ALL
                .iter()
                .any(|name| prometheus(name) == *family)
                || names::ALL.contains(&family.as_str()),
            "{family} is in neither table"
        );
    }
    for histogram in histograms {
        assert!(
            scrape
                .series
                .contains_key(&format!("{}_bucket", prometheus(histogram))),
            "{histogram} is exported with buckets: {:?}",
            scrape.series.keys()
        );
    }
    check(
        "dashboards/pool-opentelemetry.json",
        OPEN_TELEMETRY_DASHBOARD,
        &scrape,
    );
}

/// A scrape of one gauge, `db_client_connection_count{db_client_connection_state="used"}`.
fn one_gauge() -> Scrape {
    Scrape::default().with_series(
        "db_client_connection_count",
        &[("db_client_connection_state", "used")],
    )
}

/// A dashboard of one query.
fn dashboard(expr: &str) -> String {
    serde_json::json!({
        "panels": [{"targets": [{"expr": expr}]}],
        "templating": {"list": []},
    })
    .to_string()
}

#[test]
#[should_panic(expected = "uses `db_client_connection_cont`, which the library does not export")]
fn a_misspelt_name_is_caught() {
    let query = dashboard("sum(db_client_connection_cont)");
    check("a dashboard", &query, &one_gauge());
}

#[test]
#[should_panic(expected = "on `state`, a label it does not carry")]
fn a_label_of_the_other_scheme_is_caught() {
    let query = dashboard(r#"sum(db_client_connection_count{state="used"})"#);
    check("a dashboard", &query, &one_gauge());
}

#[test]
#[should_panic(expected = "a value the library never gives it")]
fn a_label_value_of_the_other_scheme_is_caught() {
    let query =
        dashboard(r#"sum(db_client_connection_count{db_client_connection_state="in_use"})"#);
    check("a dashboard", &query, &one_gauge());
}

#[test]
#[should_panic(expected = "groups by `pool`, which none of its metrics carries")]
fn a_grouping_label_of_the_other_scheme_is_caught() {
    let query = dashboard("sum by (pool) (db_client_connection_count)");
    check("a dashboard", &query, &one_gauge());
}
