//! Humantime-like durations checked at compile time: `"250ms"`, `"2s"`, `"1m30s"`.

use std::time::Duration;

/// The units accepted, with their length in nanoseconds.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Parses a duration made of one or more `<integer><unit>` parts (spaces allowed between
/// parts), units being `ns`, `us`, `ms`, `s`, `m`, `h`, `d`.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty duration; write e.g. \"250ms\", \"2s\" or \"1m\"".into());
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration: expected a number at `{rest}`; write e.g. \"250ms\", \"2s\" or \"1m\""
            ));
        }
        let number: u128 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is too long a duration"))?;
        rest = &rest[digits..];
        let unit_len = rest.len() - rest.trim_start_matches(|c: char| c.is_alphabetic()).len();
        let unit = &rest[..unit_len];
        let Some((_, nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                format!("`{text}` has a number without a unit; add one of ns, us, ms, s, m, h, d")
            } else {
                format!("`{unit}` is not a duration unit; use one of ns, us, ms, s, m, h, d")
            });
        };
        total = number
            .checked_mul(*nanos)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
        rest = rest[unit_len..].trim_start();
    }
    let nanos = u64::try_from(total).map_err(|_| format!("`{text}` is too long a duration"))?;
    Ok(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_humantime_forms() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h2m3s"), Ok(Duration::from_secs(3723)));
        assert_eq!(parse("500us"), Ok(Duration::from_micros(500)));
    }

    #[test]
    fn rejects_nonsense() {
        assert!(parse("").is_err());
        assert!(parse("2").is_err());
        assert!(parse("2 seconds").is_err());
        assert!(parse("fast").is_err());
        assert!(parse("1.5s").is_err());
        assert!(parse("999999999999999999999h").is_err());
    }
}
