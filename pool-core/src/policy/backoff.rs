//! Backoff: how long to wait before the next attempt.

use std::time::Duration;

/// How the delay between attempts grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same delay (`base`) every time.
    Fixed,
    /// `base * factor^n` (factor 2 unless set), capped at `max_delay`.
    Exponential,
    /// AWS's decorrelated jitter: a random delay between `base` and three times the last one,
    /// capped at `max_delay`. It is random by construction, so [`Jitter`] is not applied on top.
    Decorrelated,
}

/// How much randomness is applied to each backoff delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// The computed delay, exactly.
    None,
    /// A uniformly random delay between zero and the computed delay.
    Full,
    /// Half the computed delay plus a random share of the other half.
    Equal,
}

/// A complete backoff schedule: kind, base, factor, cap and jitter.
///
/// No delay it yields ever exceeds `max_delay`, jitter included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffSchedule {
    /// How the delay grows.
    pub backoff: Backoff,
    /// The first delay.
    pub base: Duration,
    /// The growth factor of [`Backoff::Exponential`].
    pub factor: f64,
    /// The largest delay, after jitter.
    pub max_delay: Duration,
    /// The randomness applied to each delay.
    pub jitter: Jitter,
}

impl Default for BackoffSchedule {
    fn default() -> Self {
        BackoffSchedule {
            backoff: Backoff::Exponential,
            base: Duration::from_millis(100),
            factor: 2.0,
            max_delay: Duration::from_secs(5),
            jitter: Jitter::Full,
        }
    }
}

impl BackoffSchedule {
    /// The delay before retry number `retry` (0 for the first retry). `previous` is the
    /// delay slept before the previous retry (used by [`Backoff::Decorrelated`]; pass
    /// `Duration::ZERO` for the first). `rng` supplies the randomness.
    ///
    /// Crate-private so that `fastrand`, an implementation detail, stays out of the
    /// public API (a seed for reproducible jitter is a plain `u64` on the builder).
    pub(crate) fn delay(
        &self,
        retry: u32,
        previous: Duration,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        let max = self.max_delay;
        let computed = match self.backoff {
            Backoff::Fixed => self.base,
            Backoff::Exponential => {
                let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
                let secs = self.base.as_secs_f64() * self.factor.powi(exponent);
                if !secs.is_finite() || secs >= max.as_secs_f64() {
                    max
                } else {
                    Duration::from_secs_f64(secs.max(0.0))
                }
            }
            Backoff::Decorrelated => {
                let low = self.base.min(max);
                let previous = if previous.is_zero() {
                    self.base
                } else {
                    previous
                };
                let high = previous.saturating_mul(3).min(max).max(low);
                return random_between(rng, low, high).min(max);
            }
        };
        let computed = computed.min(max);
        let jittered = match self.jitter {
            Jitter::None => computed,
            Jitter::Full => random_between(rng, Duration::ZERO, computed),
            Jitter::Equal => {
                let half = computed / 2;
                half + random_between(rng, Duration::ZERO, computed - half)
            }
        };
        jittered.min(max)
    }
}

/// A uniformly random duration in `[low, high]` (nanosecond resolution).
fn random_between(rng: &mut fastrand::Rng, low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    let low_ns = u64::try_from(low.as_nanos()).unwrap_or(u64::MAX);
    let high_ns = u64::try_from(high.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.u64(low_ns..=high_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(backoff: Backoff, jitter: Jitter) -> BackoffSchedule {
        BackoffSchedule {
            backoff,
            base: Duration::from_millis(100),
            factor: 2.0,
            max_delay: Duration::from_secs(1),
            jitter,
        }
    }

    fn sequence(s: &BackoffSchedule, n: u32, seed: u64) -> Vec<Duration> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut previous = Duration::ZERO;
        (0..n)
            .map(|retry| {
                previous = s.delay(retry, previous, &mut rng);
                previous
            })
            .collect()
    }

    #[test]
    fn fixed_backoff_repeats_base() {
        let s = schedule(Backoff::Fixed, Jitter::None);
        assert_eq!(sequence(&s, 4, 1), vec![Duration::from_millis(100); 4]);
    }

    #[test]
    fn exponential_backoff_doubles_then_caps_at_max_delay() {
        let s = schedule(Backoff::Exponential, Jitter::None);
        let ms: Vec<u128> = sequence(&s, 7, 1).iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1000, 1000, 1000]);
    }

    #[test]
    fn exponential_backoff_survives_huge_retry_numbers() {
        let s = schedule(Backoff::Exponential, Jitter::None);
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            s.delay(u32::MAX, Duration::ZERO, &mut rng),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_capped_delay() {
        let s = schedule(Backoff::Exponential, Jitter::Full);
        for seed in 0..200 {
            for (retry, d) in sequence(&s, 10, seed).into_iter().enumerate() {
                let cap = Duration::from_millis(100 * (1 << retry.min(4))).min(s.max_delay);
                assert!(d <= cap, "retry {retry}: {d:?} > {cap:?}");
            }
        }
    }

    #[test]
    fn equal_jitter_keeps_at_least_half_and_never_exceeds_max_delay() {
        let s = schedule(Backoff::Exponential, Jitter::Equal);
        for seed in 0..200 {
            for (retry, d) in sequence(&s, 10, seed).into_iter().enumerate() {
                let cap = Duration::from_millis(100 * (1 << retry.min(4))).min(s.max_delay);
                assert!(d >= cap / 2 && d <= cap, "retry {retry}: {d:?} vs {cap:?}");
                assert!(d <= s.max_delay);
            }
        }
    }

    #[test]
    fn decorrelated_backoff_stays_between_base_and_max_delay() {
        let s = schedule(Backoff::Decorrelated, Jitter::Full);
        for seed in 0..200 {
            let seq = sequence(&s, 20, seed);
            let mut previous = s.base;
            for d in seq {
                assert!(d >= s.base && d <= s.max_delay, "{d:?}");
                assert!(d <= previous * 3, "{d:?} > 3 * {previous:?}");
                previous = d;
            }
        }
    }

    #[test]
    fn jitter_is_deterministic_for_a_seed() {
        let s = schedule(Backoff::Exponential, Jitter::Full);
        assert_eq!(sequence(&s, 8, 42), sequence(&s, 8, 42));
        assert_ne!(sequence(&s, 8, 42), sequence(&s, 8, 43));
    }

    #[test]
    fn base_above_max_delay_is_capped() {
        let mut s = schedule(Backoff::Fixed, Jitter::None);
        s.base = Duration::from_secs(10);
        assert_eq!(sequence(&s, 2, 1), vec![Duration::from_secs(1); 2]);
        s.backoff = Backoff::Decorrelated;
        assert_eq!(sequence(&s, 2, 1), vec![Duration::from_secs(1); 2]);
    }
}
