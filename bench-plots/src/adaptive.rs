//! The adaptive-limit bench's picture: on the left, queries/s against the pool's limit —
//! the fixed sizes drawing the server's throughput curve, the adaptive pool a point at the
//! limit it chose; on the right, the adaptive pool's limit and throughput over the time it
//! ran (warm-up, then its rounds), beside the best fixed size's throughput.
//!
//! Input: the JSON `ADAPTIVE_JSON` makes `pool-sqlx/benches/adaptive_limit.rs` write.

use std::path::Path;

use plotters::prelude::*;
use serde::Deserialize;

use crate::canvas::{Area, Canvas, FONT, PALETTE, failed};

/// The bench's record (the fields the picture reads).
#[derive(Debug, Deserialize)]
pub(crate) struct Record {
    tasks: usize,
    rounds: usize,
    round_seconds: u64,
    warm_up_seconds: u64,
    machine_cores: usize,
    pools: Vec<PoolRecord>,
}

#[derive(Debug, Deserialize)]
struct PoolRecord {
    name: String,
    adaptive: bool,
    max_size: usize,
    warm_up: RoundRecord,
    rounds: Vec<RoundRecord>,
}

#[derive(Debug, Deserialize)]
struct RoundRecord {
    queries_per_second: f64,
    samples: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
struct Sample {
    seconds: f64,
    limit: usize,
    queries: u64,
}

/// Samples this far apart make one throughput point on the timeline (10 × 50 ms).
const RATE_SPAN: usize = 10;

/// The median of `values` (the upper one of an even count, as the bench's table takes it).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The smallest and largest of `values`.
fn extent(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| {
            (low.min(v), high.max(v))
        })
}

impl PoolRecord {
    fn rates(&self) -> Vec<f64> {
        self.rounds.iter().map(|r| r.queries_per_second).collect()
    }
}

/// Draws `record` to `output`.
pub(crate) fn plot(record: &Record, output: &Path) -> Result<(), String> {
    let adaptive = record
        .pools
        .iter()
        .find(|pool| pool.adaptive)
        .ok_or("the record has no adaptive pool")?;
    let mut fixed: Vec<&PoolRecord> = record.pools.iter().filter(|pool| !pool.adaptive).collect();
    fixed.sort_by_key(|pool| pool.max_size);
    if fixed.is_empty() || record.pools.iter().any(|pool| pool.rounds.is_empty()) {
        return Err("the record needs fixed pools and at least one round of each".to_owned());
    }
    let mut canvas = Canvas::new(1400, 620)?;
    canvas.draw(|root| {
        let root = root
            .titled(
                &format!(
                    "Adaptive limit against fixed pool sizes: {} tasks, {} rounds of {} s per pool \
                     (adaptive warm-up {} s), PostgreSQL on the same {} cores",
                    record.tasks,
                    record.rounds,
                    record.round_seconds,
                    record.warm_up_seconds,
                    record.machine_cores
                ),
                (FONT, 20),
            )
            .map_err(failed)?;
        let (left, right) = root.split_horizontally(620);
        throughput_against_limit(&left, adaptive, &fixed)?;
        timeline(&right, adaptive, &fixed)
    })?;
    canvas.save(output)
}

/// Queries/s against the limit: the fixed sizes' curve and the adaptive point.
fn throughput_against_limit(
    area: &Area<'_>,
    adaptive: &PoolRecord,
    fixed: &[&PoolRecord],
) -> Result<(), String> {
    let round_limits: Vec<f64> = adaptive
        .rounds
        .iter()
        .flat_map(|round| round.samples.iter().map(|s| s.limit as f64))
        .collect();
    let limit = median(&round_limits);
    let (limit_low, limit_high) = extent(round_limits.iter().copied());
    let rate = median(&adaptive.rates());
    let (_, top) = extent(
        fixed
            .iter()
            .chain([&adaptive])
            .flat_map(|pool| pool.rates()),
    );
    let widest = fixed
        .iter()
        .map(|pool| pool.max_size)
        .max()
        .unwrap_or(1)
        .max(adaptive.max_size) as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .caption("Queries/s against the pool's limit", (FONT, 18))
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((0.8f64..widest * 1.25).log_scale(), 0f64..top * 1.15)
        .map_err(failed)?;
    chart
        .configure_mesh()
        .x_desc("connections that may be handed out at once (log scale)")
        .x_labels(12)
        .y_desc("queries/s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(failed)?;
    let fixed_colour = PALETTE[0];
    let points: Vec<(f64, f64)> = fixed
        .iter()
        .map(|pool| (pool.max_size as f64, median(&pool.rates())))
        .collect();
    chart
        .draw_series(LineSeries::new(
            points.clone(),
            fixed_colour.stroke_width(2),
        ))
        .map_err(failed)?
        .label("fixed size: median of rounds, bar: min–max")
        .legend(move |(x, y)| {
            PathElement::new([(x, y), (x + 18, y)], fixed_colour.stroke_width(2))
        });
    chart
        .draw_series(
            points
                .iter()
                .map(|&point| Circle::new(point, 5, fixed_colour.filled())),
        )
        .map_err(failed)?;
    for pool in fixed {
        let (low, high) = extent(pool.rates());
        let x = pool.max_size as f64;
        chart
            .draw_series([PathElement::new(
                [(x, low), (x, high)],
                fixed_colour.stroke_width(1),
            )])
            .map_err(failed)?;
        chart
            .draw_series([EmptyElement::at((x, median(&pool.rates())))
                + Text::new(
                    pool.name.clone(),
                    (8, 8),
                    (FONT, 13).into_font().color(&BLACK),
                )])
            .map_err(failed)?;
    }
    let adaptive_colour = PALETTE[4];
    let (rate_low, rate_high) = extent(adaptive.rates());
    chart
        .draw_series([
            PathElement::new(
                [(limit_low, rate), (limit_high, rate)],
                adaptive_colour.stroke_width(2),
            ),
            PathElement::new(
                [(limit, rate_low), (limit, rate_high)],
                adaptive_colour.stroke_width(2),
            ),
        ])
        .map_err(failed)?;
    chart
        .draw_series([TriangleMarker::new(
            (limit, rate),
            9,
            adaptive_colour.filled(),
        )])
        .map_err(failed)?
        .label(format!(
            "{}: limit median {limit:.0} [{limit_low:.0}–{limit_high:.0}], {rate:.0} q/s",
            adaptive.name
        ))
        .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 6, adaptive_colour.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(failed)
}

/// One stretch of the adaptive pool's run: its samples, shifted to start at `offset`.
struct Stretch<'a> {
    offset: f64,
    samples: &'a [Sample],
}

/// The adaptive pool's limit (left axis) and throughput (right axis) over the time it ran.
fn timeline(area: &Area<'_>, adaptive: &PoolRecord, fixed: &[&PoolRecord]) -> Result<(), String> {
    let mut stretches = Vec::new();
    let mut offset = 0.0;
    for round in std::iter::once(&adaptive.warm_up).chain(&adaptive.rounds) {
        stretches.push(Stretch {
            offset,
            samples: &round.samples,
        });
        offset += round.samples.last().map_or(0.0, |s| s.seconds) + 0.05;
    }
    let end = offset.max(1.0);
    let limits: Vec<Vec<(f64, f64)>> = stretches
        .iter()
        .map(|stretch| {
            let mut steps = Vec::new();
            for sample in stretch.samples {
                let t = stretch.offset + sample.seconds;
                if let Some(&(_, previous)) = steps.last() {
                    steps.push((t, previous));
                }
                steps.push((t, sample.limit as f64));
            }
            steps
        })
        .collect();
    let rates: Vec<Vec<(f64, f64)>> = stretches
        .iter()
        .map(|stretch| {
            stretch
                .samples
                .windows(RATE_SPAN + 1)
                .step_by(RATE_SPAN / 2)
                .filter_map(|window| {
                    let (first, last) = (window.first()?, window.last()?);
                    let span = last.seconds - first.seconds;
                    (span > 0.0).then(|| {
                        (
                            stretch.offset + (first.seconds + last.seconds) / 2.0,
                            last.queries.saturating_sub(first.queries) as f64 / span,
                        )
                    })
                })
                .collect()
        })
        .collect();
    let best = fixed
        .iter()
        .map(|pool| (median(&pool.rates()), pool))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .ok_or("no fixed pool")?;
    let (_, top_limit) = extent(limits.iter().flatten().map(|&(_, l)| l));
    // Whole limits only on the left axis, with room above for the legend.
    let limit_axis = (top_limit * 1.5).ceil().max(4.0);
    let (_, top_rate) = extent(rates.iter().flatten().map(|&(_, r)| r).chain([best.0]));
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .caption("The adaptive pool over the time it ran", (FONT, 18))
        .x_label_area_size(44)
        .y_label_area_size(56)
        .right_y_label_area_size(64)
        .build_cartesian_2d(0f64..end, 0f64..limit_axis)
        .map_err(failed)?
        .set_secondary_coord(0f64..end, 0f64..top_rate * 1.4);
    chart
        .configure_mesh()
        .x_desc("seconds the adaptive pool ran (warm-up, then its rounds; other pools ran between)")
        .y_desc("limit")
        .y_labels(limit_axis as usize + 1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(failed)?;
    chart
        .configure_secondary_axes()
        .y_desc("queries/s (0.5 s windows)")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(failed)?;
    for stretch in stretches.iter().skip(1) {
        chart
            .draw_series([PathElement::new(
                [(stretch.offset, 0.0), (stretch.offset, limit_axis)],
                BLACK.mix(0.25).stroke_width(1),
            )])
            .map_err(failed)?;
    }
    let rate_colour = PALETTE[0];
    for (index, points) in rates.into_iter().enumerate() {
        let drawn = chart
            .draw_secondary_series(LineSeries::new(
                points,
                rate_colour.mix(0.8).stroke_width(1),
            ))
            .map_err(failed)?;
        if index == 0 {
            drawn.label("queries/s (right axis)").legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 18, y)], rate_colour.stroke_width(2))
            });
        }
    }
    let best_colour = PALETTE[2];
    chart
        .draw_secondary_series(LineSeries::new(
            [(0.0, best.0), (end, best.0)],
            best_colour.stroke_width(2),
        ))
        .map_err(failed)?
        .label(format!(
            "best fixed size ({}): {:.0} q/s, median of rounds (right axis)",
            best.1.name, best.0
        ))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], best_colour.stroke_width(2)));
    let limit_colour = PALETTE[4];
    for (index, steps) in limits.into_iter().enumerate() {
        let drawn = chart
            .draw_series(LineSeries::new(steps, limit_colour.stroke_width(2)))
            .map_err(failed)?;
        if index == 0 {
            drawn
                .label("the adaptive limit (left axis)")
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], limit_colour.stroke_width(2))
                });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(failed)
}
