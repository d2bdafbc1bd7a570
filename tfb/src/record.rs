//! `tfb bench --json PATH`: every `wrk` run of the bench, as it was measured, in one JSON
//! file beside the printed report — what a plot is made from (`bench-plots tfb`), so a
//! picture never rests on figures copied by hand out of a table.
//!
//! The file is one object: `duration_seconds`, `rounds`, `connections`, `stacks` (the
//! names, in `--stacks` order), `machine_cores`, and `runs`, one entry per `wrk` run:
//! `test` (the cell's test), `path` (the path loaded: the pipelined test loads two),
//! `connections`, `service` (its index in `stacks`: a stack named twice is two services),
//! `stack`, `pipelined`, `round`, `requests_per_second`, `p99_ms`, `failed` (non-2xx
//! answers) and `socket_errors`.

use std::path::Path;

use serde::Serialize;

/// One bench run's figures, written by [`Record::write`].
#[derive(Debug, Serialize)]
pub(crate) struct Record {
    /// How long each `wrk` run lasted.
    pub(crate) duration_seconds: u64,
    /// Rounds per (test, connections) cell.
    pub(crate) rounds: usize,
    /// The `wrk -c` values.
    pub(crate) connections: Vec<u32>,
    /// The stacks compared, in `--stacks` order.
    pub(crate) stacks: Vec<&'static str>,
    /// The cores wrk, the services and PostgreSQL shared.
    pub(crate) machine_cores: usize,
    /// Every `wrk` run, in the order it ran.
    pub(crate) runs: Vec<Sample>,
}

/// One `wrk` run of one stack at one path.
#[derive(Debug, Serialize)]
pub(crate) struct Sample {
    /// The cell's test (`/db`, `/queries?q=20`, …, `/queries-pipelined?q=20`).
    pub(crate) test: &'static str,
    /// The path loaded: the test's, or either `/queries` path in the pipelined test.
    pub(crate) path: &'static str,
    /// `wrk -c`.
    pub(crate) connections: u32,
    /// The service's index in [`Record::stacks`].
    pub(crate) service: usize,
    /// The stack's name.
    pub(crate) stack: &'static str,
    /// Whether the path was the pipelined `/queries`.
    pub(crate) pipelined: bool,
    /// Which round of its cell, from 0.
    pub(crate) round: usize,
    /// wrk's `Requests/sec`.
    pub(crate) requests_per_second: f64,
    /// wrk's 99th percentile latency, in milliseconds.
    pub(crate) p99_ms: f64,
    /// Non-2xx answers.
    pub(crate) failed: u64,
    /// wrk's socket errors.
    pub(crate) socket_errors: u64,
}

impl Record {
    /// Writes the record to `path` as pretty JSON.
    pub(crate) fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|error| format!("encode the bench record: {error}"))?;
        std::fs::write(path, text + "\n")
            .map_err(|error| format!("write {}: {error}", path.display()))
    }
}
