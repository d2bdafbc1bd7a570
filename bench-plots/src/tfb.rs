//! The service bench's picture: one panel per test, in each a group of bars per `wrk`
//! connection count, one bar per stack (the median of its rounds' requests/s, a whisker
//! from the slowest round to the fastest), so the stacks' throughput stands side by side.
//!
//! Input: the JSON `tfb bench --json PATH` writes (`tfb/src/record.rs`).

use std::path::Path;

use plotters::prelude::*;
use serde::Deserialize;

use crate::canvas::{Area, Canvas, FONT, PALETTE, failed};

/// The bench's record (the fields the picture reads).
#[derive(Debug, Deserialize)]
pub(crate) struct Record {
    duration_seconds: u64,
    rounds: usize,
    stacks: Vec<String>,
    machine_cores: usize,
    runs: Vec<Run>,
}

#[derive(Debug, Deserialize)]
struct Run {
    test: String,
    connections: u32,
    service: usize,
    pipelined: bool,
    requests_per_second: f64,
}

/// A bar's series: one service, at the plain or the pipelined `/queries` path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Series {
    service: usize,
    pipelined: bool,
}

impl Record {
    /// Every value of `key` over the runs, in the order first seen.
    fn distinct<'a, T: PartialEq + Copy>(&'a self, key: impl Fn(&'a Run) -> T) -> Vec<T> {
        let mut seen = Vec::new();
        for run in &self.runs {
            let value = key(run);
            if !seen.contains(&value) {
                seen.push(value);
            }
        }
        seen
    }

    /// A series' name: the stack's, numbered where `--stacks` named it more than once.
    fn label(&self, series: Series) -> String {
        let name = self.stacks.get(series.service).map_or("?", String::as_str);
        let same = self.stacks.iter().filter(|stack| *stack == name).count();
        let nth = self.stacks[..series.service.min(self.stacks.len())]
            .iter()
            .filter(|stack| *stack == name)
            .count();
        let name = if same > 1 {
            format!("{name} #{}", nth + 1)
        } else {
            name.to_owned()
        };
        if series.pipelined {
            format!("{name} pipelined")
        } else {
            name
        }
    }
}

/// The median, smallest and largest of `values`; the median interpolated between the
/// middle two of an even count, as `tfb bench`'s own report takes it.
fn summary(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (low, high) = (*sorted.first()?, *sorted.last()?);
    let middle = sorted.len() / 2;
    let median = if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    };
    Some((median, low, high))
}

/// Requests/s as the bars' labels write it: 23.7k, 1 460.
fn rate(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1}k", value / 1_000.0)
    } else {
        format!("{value:.0}")
    }
}

/// Draws `record` to `output`.
pub(crate) fn plot(record: &Record, output: &Path) -> Result<(), String> {
    let tests = record.distinct(|run| run.test.as_str());
    if tests.is_empty() {
        return Err("the record has no runs".to_owned());
    }
    let series = record.distinct(|run| Series {
        service: run.service,
        pipelined: run.pipelined,
    });
    let columns = tests.len().min(2);
    let rows = tests.len().div_ceil(columns);
    let mut canvas = Canvas::new(700 * columns as u32, 80 + 420 * rows as u32)?;
    canvas.draw(|root| {
        let root = root
            .titled(
                &format!(
                    "TechEmpower-style service bench: requests/s, median of {} round(s) of {} s \
                     (whisker: min–max); wrk, services and PostgreSQL on the same {} cores",
                    record.rounds, record.duration_seconds, record.machine_cores
                ),
                (FONT, 20),
            )
            .map_err(failed)?;
        let (legend, panels) = root.split_vertically(40);
        draw_legend(&legend, record, &series)?;
        for (test, area) in tests.iter().zip(panels.split_evenly((rows, columns))) {
            panel(&area, record, test, &series)?;
        }
        Ok(())
    })?;
    canvas.save(output)
}

/// The stacks' colours, in one line across the top.
fn draw_legend(area: &Area<'_>, record: &Record, series: &[Series]) -> Result<(), String> {
    let mut x = 20;
    for (index, &one) in series.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        area.draw(&Rectangle::new([(x, 12), (x + 18, 30)], colour.filled()))
            .map_err(failed)?;
        let label = record.label(one);
        area.draw(&Text::new(label.clone(), (x + 24, 12), (FONT, 16)))
            .map_err(failed)?;
        x += 40 + 10 * label.len() as i32;
    }
    Ok(())
}

/// One test: a group of bars per connection count.
fn panel(area: &Area<'_>, record: &Record, test: &str, series: &[Series]) -> Result<(), String> {
    let runs: Vec<&Run> = record.runs.iter().filter(|run| run.test == test).collect();
    let connections = record.distinct(|run| run.connections);
    let connections: Vec<u32> = connections
        .into_iter()
        .filter(|&c| runs.iter().any(|run| run.connections == c))
        .collect();
    let present: Vec<Series> = series
        .iter()
        .copied()
        .filter(|s| {
            runs.iter()
                .any(|run| run.service == s.service && run.pipelined == s.pipelined)
        })
        .collect();
    let top = runs
        .iter()
        .map(|run| run.requests_per_second)
        .fold(0.0, f64::max);
    let groups = connections.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .caption(test, (FONT, 18))
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..groups, 0f64..(top * 1.18).max(1.0))
        .map_err(failed)?;
    let labels = connections.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(connections.len() * 2 + 1)
        .x_label_formatter(&|x| {
            // A label under each group's middle only.
            let index = x.floor();
            if (x - index - 0.5).abs() < 1e-6 {
                labels
                    .get(index as usize)
                    .map_or_else(String::new, |c| format!("{c} connections"))
            } else {
                String::new()
            }
        })
        .y_desc("requests/s")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(BLACK.mix(0.04))
        .draw()
        .map_err(failed)?;
    let width = 0.8 / present.len().max(1) as f64;
    for (group, &connections) in connections.iter().enumerate() {
        for (slot, &one) in present.iter().enumerate() {
            let rates: Vec<f64> = runs
                .iter()
                .filter(|run| {
                    run.connections == connections
                        && run.service == one.service
                        && run.pipelined == one.pipelined
                })
                .map(|run| run.requests_per_second)
                .collect();
            let Some((median, low, high)) = summary(&rates) else {
                continue;
            };
            let colour_index = series.iter().position(|&s| s == one).unwrap_or(0);
            let colour = PALETTE[colour_index % PALETTE.len()];
            let left = group as f64 + 0.1 + slot as f64 * width;
            let middle = left + width / 2.0;
            chart
                .draw_series([Rectangle::new(
                    [(left + width * 0.06, 0.0), (left + width * 0.94, median)],
                    colour.filled(),
                )])
                .map_err(failed)?;
            if high > low {
                chart
                    .draw_series([PathElement::new(
                        [(middle, low), (middle, high)],
                        BLACK.stroke_width(1),
                    )])
                    .map_err(failed)?;
            }
            chart
                .draw_series([Text::new(
                    rate(median),
                    (left + width * 0.06, high.max(median) + top * 0.015),
                    (FONT, 12).into_font().color(&BLACK),
                )])
                .map_err(failed)?;
        }
    }
    Ok(())
}
