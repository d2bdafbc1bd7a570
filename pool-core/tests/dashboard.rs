//! The Grafana dashboards under `dashboards/` cannot drift from the metrics: every metric
//! name their PromQL uses is one a real pool, policy and breaker export through
//! `metrics-exporter-prometheus` (as the `service` example installs it) under the naming
//! scheme the dashboard is for, and every metric exported is shown on a panel.
//!
//! What is exported is not read from a list: a scenario runs under a local Prometheus
//! recorder (a pool's direct, waited and timed-out checkouts, a slow `#[pooled]`-style call,
//! a policy's calls, a breaker forced open and reset) and the rendered scrape is parsed,
//! so a histogram shows as its `_bucket`, `_sum` and `_count` series. The one name no
//! pool-core pool sets is `pool_host_connections` (the bindings' per-host tally), taken
//! from `pool_core::names`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use pool_core::{
    ACQUIRE_SECONDS_BUCKETS, BreakerConfig, CircuitBreaker, Pool, Rejected, Resilience, names,
};
use serde_json::Value;
use support::{TestError, TestManager};

/// The default scheme's dashboard.
const POOL_DASHBOARD: &str = include_str!("../../dashboards/pool.json");

/// What a scrape shows: every series name, and the metric families they belong to.
#[derive(Debug, Default)]
struct Scrape {
    series: BTreeSet<String>,
    families: BTreeSet<String>,
}

impl Scrape {
    /// Reads Prometheus's text format: `# TYPE family kind` lines name the families,
    /// sample lines (`name{labels} value`) the series.
    fn parse(text: &str) -> Self {
        let mut scrape = Scrape::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                if let Some(family) = rest.split_whitespace().next() {
                    scrape.families.insert(family.to_owned());
                }
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let name = line
                    .split(|c: char| c == '{' || c.is_whitespace())
                    .next()
                    .unwrap_or_default();
                scrape.series.insert(name.to_owned());
            }
        }
        scrape
    }

    /// Adds a gauge the scenario cannot set, as the exporter would write it.
    fn with_gauge(mut self, name: &str) -> Self {
        self.series.insert(name.to_owned());
        self.families.insert(name.to_owned());
        self
    }
}

/// Runs the scenario under a Prometheus recorder with `names`' histograms bucketed as
/// the README says, and returns what a scrape shows.
fn scrape(histograms: &[&str], build: fn(TestManager) -> Pool<TestManager>) -> Scrape {
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
        runtime.block_on(scenario(build));
    });
    Scrape::parse(&handle.render()).with_gauge(names::HOST_CONNECTIONS)
}

/// A pool's checkouts of every outcome, a slow call, a policy's calls and a breaker's
/// transitions.
async fn scenario(build: fn(TestManager) -> Pool<TestManager>) {
    let (manager, _state) = TestManager::new();
    let pool = build(manager);
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

/// A pool as the default scheme builds it: one connection, a short acquire timeout.
fn default_pool(manager: TestManager) -> Pool<TestManager> {
    Pool::builder(manager)
        .name("dashboard")
        .max_size(1)
        .acquire_timeout(Duration::from_millis(100))
        .build()
        .unwrap()
}

/// PromQL's words that are never metric names: keywords, and the aggregations (which may
/// stand before `by (…)` rather than their own parentheses).
const KEYWORDS: [&str; 21] = [
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "atan2",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
];

/// The clauses whose parentheses hold label names, not expressions.
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names a PromQL expression selects: every bare identifier that is not a
/// function, an aggregation, a keyword or a label, outside strings, label matchers
/// (`{…}`) and ranges (`[…]`). Grafana's `$variables` only stand inside those.
fn metric_names(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    i += 1;
                }
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let called = chars.get(next) == Some(&'(');
                if called && LABEL_LISTS.contains(&word.as_str()) {
                    // Skip the label list.
                    while i < chars.len() && chars[i] != ')' {
                        i += 1;
                    }
                } else if !called && !KEYWORDS.contains(&word.as_str()) {
                    names.push(word);
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                // A number (1, 0.99, 1e3) or a duration (5m): its letters are no name.
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The metric names a template variable's query reads: `label_values(selector, label)`
/// selects by its first argument only; `label_values(label)` selects none.
fn variable_metric_names(query: &str) -> Vec<String> {
    match query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        Some(arguments) => arguments
            .rsplit_once(',')
            .map(|(selector, _label)| metric_names(selector))
            .unwrap_or_default(),
        None => metric_names(query),
    }
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

/// `dashboard` uses only names `scrape` shows, and shows every family `scrape` has.
fn check(dashboard_file: &str, dashboard: &str, scrape: &Scrape) {
    let dashboard: Value = serde_json::from_str(dashboard)
        .unwrap_or_else(|error| panic!("{dashboard_file} is not JSON: {error}"));
    let (exprs, variables) = queries(&dashboard);
    assert!(!exprs.is_empty(), "{dashboard_file} has no queries");
    let mut used = BTreeSet::new();
    for (query, names) in exprs.iter().map(|expr| (expr, metric_names(expr))).chain(
        variables
            .iter()
            .map(|query| (query, variable_metric_names(query))),
    ) {
        assert!(
            !names.is_empty(),
            "{dashboard_file}: `{query}` selects no metric"
        );
        for name in names {
            assert!(
                scrape.series.contains(&name),
                "{dashboard_file}: `{query}` uses `{name}`, which the library does not export \
                 under this scheme; exported: {:?}",
                scrape.series
            );
            used.insert(name);
        }
    }
    for family in &scrape.families {
        let shown = used.iter().any(|name| {
            name == family
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(family))
        });
        assert!(shown, "{dashboard_file} shows no panel of `{family}`");
    }
}

#[test]
fn the_default_dashboard_uses_exactly_the_default_names() {
    let scrape = scrape(&[names::ACQUIRE_SECONDS], default_pool);
    // The scrape is the library's whole default vocabulary: a family per name.
    let mut families: Vec<&str> = scrape.families.iter().map(String::as_str).collect();
    families.sort_unstable();
    let mut all = names::ALL.to_vec();
    all.sort_unstable();
    assert_eq!(families, all, "the scenario registers every name");
    assert!(
        scrape
            .series
            .contains(&format!("{}_bucket", names::ACQUIRE_SECONDS)),
        "the acquire histogram is exported with buckets: {:?}",
        scrape.series
    );
    check("dashboards/pool.json", POOL_DASHBOARD, &scrape);
}

#[test]
fn metric_names_are_read_from_promql() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (le) (rate(a_bucket{pool=~"$pool", x="y{"}[$__rate_interval])))"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        metric_names(
            "sum(rate(a_total[5m])) by (pool) / ignoring (x) b + 1e3 and on(pool) c offset 5m"
        ),
        ["a_total", "b", "c"]
    );
    assert_eq!(metric_names("max without (le, pool) (x:rule)"), ["x:rule"]);
    assert_eq!(
        variable_metric_names("label_values(pool_limit, pool)"),
        ["pool_limit"]
    );
    assert_eq!(
        variable_metric_names("label_values(pool)"),
        Vec::<String>::new()
    );
    assert_eq!(
        variable_metric_names(r#"label_values(a{b="c"}, pool)"#),
        ["a"]
    );
}

#[test]
#[should_panic(expected = "uses `pool_waitng`, which the library does not export")]
fn a_misspelt_name_is_caught() {
    let scrape = Scrape {
        series: ["pool_waiting".to_owned()].into(),
        families: ["pool_waiting".to_owned()].into(),
    };
    let dashboard = r#"{"panels": [{"targets": [{"expr": "sum(pool_waitng{pool=~\"$pool\"})"}]}],
        "templating": {"list": [{"type": "query", "query": "label_values(pool_waiting, pool)"}]}}"#;
    check("a dashboard", dashboard, &scrape);
}
