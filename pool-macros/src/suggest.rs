//! "Did you mean ...?" for misspelt keys.

/// The closest of `known` to `given`, if it is close enough to be a typo.
pub(crate) fn closest<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    known
        .iter()
        .map(|candidate| (distance(&given, candidate), *candidate))
        .filter(|(d, candidate)| *d <= (candidate.len() / 2).max(1))
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
    fn near_misses() {
        let keys = ["retries", "backoff", "timeout", "breaker", "deadline"];
        assert_eq!(closest("retry", &keys), Some("retries"));
        assert_eq!(closest("timout", &keys), Some("timeout"));
        assert_eq!(closest("breakr", &keys), Some("breaker"));
        assert_eq!(closest("colour", &keys), None);
        assert_eq!(closest("jitterbug", &keys), None);
    }
}
