//! The retry budget: a token bucket that bounds the extra load retries put on a failing
//! database (tower's `TpsBudget` idea).
//!
//! Every successful call deposits `retry_ratio` of a token; every retry withdraws one. A
//! minimum of `min_per_sec` tokens per second is added by time alone, so a service with
//! little traffic can still retry. The balance is capped, so a long healthy period does
//! not bank an unbounded storm. When the bucket is empty the failure is returned as is
//! instead of retried.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tokio::time::Instant;

use crate::ConfigError;

/// Tokens are counted in thousandths so deposits of a fraction stay exact.
const MILLI: i64 = 1000;

/// A token bucket limiting retries; share one (`Arc<RetryBudget>`) across call sites to
/// bound the retries sent to one database.
#[derive(Debug)]
pub struct RetryBudget {
    /// Thousandths of a token deposited per success.
    deposit: i64,
    /// Thousandths of a token added per second, whatever the traffic.
    min_per_sec: i64,
    /// The cap, in thousandths of a token.
    max_balance: i64,
    /// The balance, in thousandths of a token.
    balance: AtomicI64,
    /// When time last refilled the bucket, in nanoseconds since `origin`.
    last_refill: AtomicU64,
    origin: Instant,
}

impl RetryBudget {
    /// A budget that earns `retry_ratio` retries per successful call (0.2 allows one retry
    /// for every five successes) and at least `min_per_sec` retries per second. It starts
    /// with one second's worth of the minimum and holds at most
    /// `max(100, 10 × min_per_sec)` tokens (see [`with_max_balance`](Self::with_max_balance)).
    pub fn new(retry_ratio: f64, min_per_sec: u32) -> Result<Self, ConfigError> {
        if !retry_ratio.is_finite() || !(0.0..=1000.0).contains(&retry_ratio) {
            return Err(ConfigError::new(
                "retry_ratio",
                format!("must be between 0 and 1000, got {retry_ratio}"),
            ));
        }
        let min = i64::from(min_per_sec) * MILLI;
        // Checked above: 0 <= ratio <= 1000, so this fits easily.
        #[allow(clippy::cast_possible_truncation)]
        let deposit = (retry_ratio * MILLI as f64).round() as i64;
        Ok(RetryBudget {
            deposit,
            min_per_sec: min,
            max_balance: (100 * MILLI).max(10 * min),
            balance: AtomicI64::new(min),
            last_refill: AtomicU64::new(0),
            origin: Instant::now(),
        })
    }

    /// Caps the balance at `max_tokens` retries.
    pub fn with_max_balance(mut self, max_tokens: u32) -> Self {
        self.max_balance = i64::from(max_tokens) * MILLI;
        let current = self.balance.get_mut();
        *current = (*current).min(self.max_balance);
        self
    }

    /// Records a successful call: earns `retry_ratio` of a retry.
    pub fn deposit(&self) {
        if self.deposit == 0 {
            return;
        }
        self.add(self.deposit);
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn try_withdraw(&self) -> bool {
        self.refill();
        self.balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b >= MILLI).then_some(b - MILLI)
            })
            .is_ok()
    }

    /// The retries available now (fractional).
    pub fn balance(&self) -> f64 {
        self.refill();
        self.balance.load(Ordering::Acquire) as f64 / MILLI as f64
    }

    fn add(&self, amount: i64) {
        let max = self.max_balance;
        let _ = self
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b < max).then_some(b.saturating_add(amount).min(max))
            });
    }

    /// Adds the time-based minimum earned since the last refill.
    fn refill(&self) {
        if self.min_per_sec == 0 {
            return;
        }
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let last = self.last_refill.load(Ordering::Acquire);
        let elapsed = now.saturating_sub(last);
        // Refill in whole thousandths of a token only, so no time is lost to rounding.
        let earned = i128::from(elapsed) * i128::from(self.min_per_sec) / 1_000_000_000;
        if earned <= 0 {
            return;
        }
        if self
            .last_refill
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.add(i64::try_from(earned).unwrap_or(i64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn budget_is_exhausted_then_refilled_by_successes() {
        // No time-based minimum: only successes earn retries.
        let budget = RetryBudget::new(0.5, 0).unwrap();
        assert!(!budget.try_withdraw(), "an empty budget allows no retry");
        budget.deposit();
        assert!(!budget.try_withdraw(), "half a token is not a retry");
        budget.deposit();
        assert!(budget.try_withdraw(), "two successes at 0.5 earn one retry");
        assert!(!budget.try_withdraw(), "and only one");
    }

    #[tokio::test(start_paused = true)]
    async fn budget_refills_at_the_minimum_rate_over_time() {
        let budget = RetryBudget::new(0.0, 2).unwrap();
        assert!(budget.try_withdraw());
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw(), "one second's worth at start");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(
            budget.try_withdraw(),
            "half a second earns one of two per second"
        );
        assert!(!budget.try_withdraw());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(budget.try_withdraw());
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn budget_balance_is_capped() {
        let budget = RetryBudget::new(1.0, 0).unwrap().with_max_balance(3);
        for _ in 0..100 {
            budget.deposit();
        }
        assert!((budget.balance() - 3.0).abs() < f64::EPSILON);
        let granted = (0..10).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 3);
    }

    #[test]
    fn invalid_ratio_is_a_config_error() {
        let err = RetryBudget::new(-1.0, 1).unwrap_err();
        assert_eq!(err.setting, "retry_ratio");
        assert!(RetryBudget::new(f64::NAN, 1).is_err());
    }
}
