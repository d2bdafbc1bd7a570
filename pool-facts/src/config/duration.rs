//! The duration grammar of URL parameters: humantime's, plus Prisma's bare number of
//! seconds. The same grammar as the macros' attribute keys (which refuse the bare
//! number), pinned by one table of cases, `tests/duration_cases.rs`, run against both
//! parsers.

use std::time::Duration;

use pool_core::ConfigError;

/// Parses a duration parameter. A bare whole number is seconds (`pool_timeout=10`, as in
/// Prisma); anything else is humantime's grammar: one or more `<number><unit>` parts
/// (`500ms`, `10s`, `5min`, `1h`, `1d`, `1m 30s`, `1.5s`). Surrounding spaces are
/// ignored; a duration longer than about 584 years (`u64::MAX` nanoseconds) is an error.
/// Every error is a [`ConfigError`] naming `parameter`.
pub fn parse_duration(parameter: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let text = value.trim();
    let too_long = || {
        ConfigError::new(
            parameter,
            format!("`{text}` is too long a duration (at most about 584 years)"),
        )
    };
    if text.is_empty() {
        return Err(ConfigError::new(
            parameter,
            "is empty; write whole seconds (`10`) or a duration such as `500ms`, `10s`, `5min`",
        ));
    }
    let duration = if text.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: u64 = text.parse().map_err(|_| too_long())?;
        Duration::from_secs(seconds)
    } else {
        humantime::parse_duration(text).map_err(|error| match error {
            humantime::DurationError::NumberOverflow => too_long(),
            other => ConfigError::new(
                parameter,
                format!(
                    "`{text}` is not a duration: {}; write whole seconds (`10`) or a \
                     duration such as `500ms`, `10s`, `5min`",
                    problem(text, other)
                ),
            ),
        })?
    };
    if duration.as_nanos() > u128::from(u64::MAX) {
        return Err(too_long());
    }
    Ok(duration)
}

/// humantime's complaint, with its byte offsets shown as the text they point at.
fn problem(text: &str, error: humantime::DurationError) -> String {
    let at = |offset: usize| text.get(offset..).unwrap_or(text);
    match error {
        humantime::DurationError::NumberExpected(offset) => {
            format!("expected a number at `{}`", at(offset))
        }
        humantime::DurationError::InvalidCharacter(offset) => {
            format!("unexpected character at `{}`", at(offset))
        }
        other => other.to_string(),
    }
}
