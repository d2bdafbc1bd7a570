//! `bench-plots`: BENCHMARKS.md's pictures, drawn from what the benches themselves wrote.
//!
//! ```text
//! cargo run -p bench-plots -- adaptive target/adaptive_limit.json docs/plots/adaptive_limit.png
//! cargo run -p bench-plots -- tfb target/tfb.json docs/plots/tfb.png
//! ```
//!
//! The inputs are the benches' machine-readable output, never figures typed into a
//! table: `ADAPTIVE_JSON=PATH` on `cargo bench -p pool-sqlx --bench adaptive_limit`, and
//! `tfb bench --json PATH` (through `tfb/run.sh`). Each plot's caption names its input
//! file's run (rounds, seconds, cores) so a picture can be traced to the command.
//!
//! PNGs are drawn by plotters into a buffer with DejaVu Sans embedded in the binary, so
//! the same picture comes out on any machine, with no system font or library.

mod adaptive;
mod canvas;
mod tfb;

use std::{path::Path, process::ExitCode};

const USAGE: &str = "usage: bench-plots adaptive|tfb INPUT.json OUTPUT.png";

fn run(args: &[String]) -> Result<(), String> {
    let [kind, input, output] = args else {
        return Err(USAGE.to_owned());
    };
    let text = std::fs::read_to_string(input).map_err(|error| format!("read {input}: {error}"))?;
    let output = Path::new(output);
    match kind.as_str() {
        "adaptive" => adaptive::plot(&parse(input, &text)?, output),
        "tfb" => tfb::plot(&parse(input, &text)?, output),
        _ => Err(format!("no plot `{kind}`; {USAGE}")),
    }
}

/// `text` (the file `input`) as the bench record `T`.
fn parse<T: serde::de::DeserializeOwned>(input: &str, text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|error| format!("{input} is not the bench's JSON: {error}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-plots: {error}");
            ExitCode::FAILURE
        }
    }
}
