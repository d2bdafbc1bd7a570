//! "Did you mean …?" for misspelt names: one rule for what counts as a typo, used by
//! `#[resilient]`/`#[pooled]` keys at compile time and by the bindings' URL parameters
//! and `POOL_PRESET` at run time, so the three doors suggest alike.

/// How far a name may be from a known one and still read as a typo of it, for names
/// that arrive through code: at most half the known name's length (at least 1), so that
/// `retry` suggests `retries`.
pub fn code_distance(known: &str) -> usize {
    (known.chars().count() / 2).max(1)
}

/// How far a name may be from a known one and still read as a typo of it, for names
/// that arrive through configuration (URL parameters, environment values): at most 2.
/// Tighter than [`code_distance`] because a URL may carry parameters meant for other
/// software; only a near miss of one of ours (`connection_limt`) is an error.
pub fn config_distance(_known: &str) -> usize {
    2
}

/// The closest of `known` to `given` (compared without regard to ASCII case), if it is
/// within `allowed(candidate)` edits of it; on a tie, the first in `known`.
pub fn closest<'a>(
    given: &str,
    known: &[&'a str],
    allowed: impl Fn(&str) -> usize,
) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    known
        .iter()
        .map(|candidate| (distance(&given, candidate), *candidate))
        .filter(|(d, candidate)| *d <= allowed(candidate))
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let insertion = current[j] + 1;
            let deletion = previous[j + 1] + 1;
            current.push(substitution.min(insertion).min(deletion));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_in_code() {
        let keys = ["retries", "backoff", "timeout", "breaker", "deadline"];
        assert_eq!(closest("retry", &keys, code_distance), Some("retries"));
        assert_eq!(closest("timout", &keys, code_distance), Some("timeout"));
        assert_eq!(closest("breakr", &keys, code_distance), Some("breaker"));
        assert_eq!(closest("colour", &keys, code_distance), None);
        assert_eq!(closest("jitterbug", &keys, code_distance), None);
    }

    #[test]
    fn near_misses_in_configuration() {
        let names = ["connection_limit", "pool_timeout", "connect_timeout"];
        assert_eq!(
            closest("connection_limt", &names, config_distance),
            Some("connection_limit")
        );
        assert_eq!(
            closest("Connection_Limit", &names, config_distance),
            Some("connection_limit")
        );
        assert_eq!(
            closest("pool_timeot", &names, config_distance),
            Some("pool_timeout")
        );
        // Someone else's parameter, not a slip of ours.
        assert_eq!(closest("socket_timeout", &names, config_distance), None);
        assert_eq!(closest("schema", &names, config_distance), None);
    }
}
