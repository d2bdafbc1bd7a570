//! Rate-limited connect warnings: a pool that cannot reach its database retries every
//! few seconds, and a warning per attempt would bury everything else in the log. The
//! first of a run of identical failures is logged, then at most one every
//! [`REPEAT_EVERY`], carrying how many identical ones were held back since.

use std::{sync::Mutex, time::Duration};

use tokio::time::Instant;

use super::inner::lock;

/// The shortest time between two logged warnings with the same text.
pub(super) const REPEAT_EVERY: Duration = Duration::from_secs(10);

/// The last warning logged by one pool.
#[derive(Debug, Default)]
pub(super) struct ConnectWarnings {
    last: Mutex<Option<Logged>>,
}

#[derive(Debug)]
struct Logged {
    text: String,
    at: Instant,
    /// Identical failures not logged since.
    held_back: u64,
}

impl ConnectWarnings {
    /// Whether to log a warning saying `text` now: `Some(held back)` to log it (with the
    /// count of identical ones not logged since the last), `None` to hold it back.
    pub(super) fn admit(&self, text: &str) -> Option<u64> {
        let now = Instant::now();
        let mut last = lock(&self.last);
        if let Some(logged) = last.as_mut().filter(|logged| logged.text == text) {
            if now.duration_since(logged.at) < REPEAT_EVERY {
                logged.held_back += 1;
                return None;
            }
            logged.at = now;
            return Some(std::mem::take(&mut logged.held_back));
        }
        *last = Some(Logged {
            text: text.to_owned(),
            at: now,
            held_back: 0,
        });
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn identical_warnings_pass_once_per_interval_with_the_count_held_back() {
        let warnings = ConnectWarnings::default();
        assert_eq!(warnings.admit("refused"), Some(0));
        assert_eq!(warnings.admit("refused"), None);
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(warnings.admit("refused"), None);
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(warnings.admit("refused"), Some(2));
        assert_eq!(warnings.admit("refused"), None);
        // Another text is logged at once and starts its own run.
        assert_eq!(warnings.admit("timed out"), Some(0));
        assert_eq!(warnings.admit("refused"), Some(0));
    }
}
