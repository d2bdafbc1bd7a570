//! One call's attempts ([`Attempts`]) and the future that runs one attempt through the
//! breaker, the bulkhead and the timeout.
//!
//! The attempt future is written by hand rather than as an `async fn`: the call's own
//! future is moved in once and polled in place, and the happy path (gates pass, the call
//! is ready or wakes up, the outcome is recorded) touches only a few fields. An `async fn`
//! here laid out every rare path's state (the bulkhead wait, the backoff sleep) beside the
//! call and moved it all between nested futures on every call.

use std::{
    convert::Infallible,
    future::Future,
    ops::ControlFlow,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use pin_project_lite::pin_project;
use tokio::{
    sync::SemaphorePermit,
    time::{Instant, Sleep},
};
use tracing::Span;

use super::{Resilience, default_slow_call_threshold, slow_call};
use crate::{
    BreakerPermit, Classify, Delivery, ErrorClass, Rejected, ResilientError,
    policy::timeout::{Limit, Timing},
    spans,
};

/// The state of one call across its attempts.
#[derive(Debug)]
pub struct Attempts<'p> {
    policy: &'p Resilience,
    attempt: u32,
    started: Option<Instant>,
    previous_delay: Duration,
    rng: Option<fastrand::Rng>,
    /// The call's span (`pool.call`), the parent of each attempt's; `None` when no
    /// subscriber wanted it.
    span: Option<Span>,
}

impl<'p> Attempts<'p> {
    #[inline]
    pub(super) fn new(policy: &'p Resilience) -> Self {
        Attempts {
            policy,
            attempt: 0,
            started: None,
            previous_delay: Duration::ZERO,
            rng: None,
            span: spans::call(policy.label),
        }
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Runs one attempt. `Break` carries the call's result; `Continue` means the
    /// attempt failed, the backoff delay has been slept, and the caller should run
    /// the next attempt.
    #[inline]
    pub fn run<T, E, Fut>(
        &mut self,
        attempt: Fut,
    ) -> impl Future<Output = ControlFlow<Result<T, E>>>
    where
        E: ResilientError,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_if(attempt, |_: &E| true)
    }

    /// Like [`run`](Self::run), with a user predicate that must also agree before a
    /// failure is retried.
    #[inline]
    pub fn run_if<T, E, Fut, P>(
        &mut self,
        attempt: Fut,
        retry_if: P,
    ) -> impl Future<Output = ControlFlow<Result<T, E>>>
    where
        E: ResilientError,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> bool,
    {
        self.attempt(attempt, retry_if)
    }

    /// Runs the only attempt of a call that has one (a policy without retries, where
    /// `#[resilient]` moves the arguments into the attempt) and returns the call's result.
    /// A failure is recorded as the last attempt's: there is no next attempt to ask for.
    #[inline]
    pub fn once<T, E, Fut>(&mut self, attempt: Fut) -> impl Future<Output = Result<T, E>>
    where
        E: ResilientError,
        Fut: Future<Output = Result<T, E>>,
    {
        let attempt = self.attempt::<_, _, _, _, Infallible>(attempt, |_: &E| false);
        async move {
            let ControlFlow::Break(result) = attempt.await;
            result
        }
    }

    #[inline(always)]
    fn attempt<T, E, Fut, P, N>(&mut self, attempt: Fut, retry_if: P) -> Attempt<'_, 'p, Fut, P, N>
    where
        E: ResilientError,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> bool,
        N: Next,
    {
        Attempt {
            attempts: self,
            retry_if,
            call: Some(attempt),
            timer: None,
            stage: Stage::Gates,
            bulkhead_wait: None,
            permit: None,
            place: None,
            deadline_at: None,
            limit: Limit::new(None, None),
            span: None,
        }
    }

    /// Counts a new attempt and asks the total deadline whether it may start; returns the
    /// deadline's instant and the time now (read only when there is a deadline).
    #[allow(
        clippy::type_complexity,
        reason = "two instants, named at the call site"
    )]
    #[inline]
    fn start_attempt(&mut self) -> Result<(Option<Instant>, Option<Instant>), Rejected> {
        self.attempt += 1;
        // Total deadline: counted from the start of the first attempt. The only clock read
        // before the attempt runs, and only when a deadline is set.
        let Some(deadline) = self.policy.deadline else {
            return Ok((None, None));
        };
        let now = Instant::now();
        let started = *self.started.get_or_insert(now);
        match started.checked_add(deadline) {
            Some(at) if now >= at => Err(Rejected::DeadlineExceeded { after: deadline }),
            at => Ok((at, Some(now))),
        }
    }

    /// Records how an attempt that ran ended, and decides: `Break` ends the call with its
    /// result, `Continue` carries the delay to sleep before the next attempt.
    #[inline(always)]
    fn settle<T, E, P, N: Next>(
        &mut self,
        output: Option<Result<T, E>>,
        timing: Timing,
        permit: Option<BreakerPermit<'_>>,
        retry_if: &P,
        deadline_at: Option<Instant>,
        attempt_span: Option<&Span>,
    ) -> ControlFlow<Result<T, E>, (Duration, N)>
    where
        E: ResilientError,
        P: Fn(&E) -> bool,
    {
        let policy = self.policy;
        let elapsed = timing.elapsed;
        let result = match output {
            Some(result) => result,
            None => {
                let rejected = match (timing.by_deadline, policy.deadline, policy.timeout) {
                    (true, Some(after), _) => Rejected::DeadlineExceeded { after },
                    (_, _, Some(after)) => Rejected::Timeout { after },
                    (_, _, None) => Rejected::Timeout { after: elapsed },
                };
                policy.metrics.rejection(&rejected).increment(1);
                Err(E::from(rejected))
            }
        };

        // Zero means the attempt never waited: not slow, whatever the threshold.
        if !elapsed.is_zero() {
            let slow_threshold = policy
                .slow_call_threshold
                .unwrap_or_else(default_slow_call_threshold);
            if elapsed > slow_threshold {
                slow_call(policy, elapsed, slow_threshold);
            }
        }

        match result {
            Ok(value) => {
                if let Some(permit) = permit {
                    permit.success(elapsed);
                }
                if let Some(budget) = &policy.budget {
                    budget.deposit();
                }
                policy.metrics.ok.increment(1);
                spans::call_ok(self.span.as_ref(), attempt_span, self.attempt);
                ControlFlow::Break(Ok(value))
            }
            Err(error) => {
                match self.failed(&error, elapsed, permit, retry_if, deadline_at, attempt_span) {
                    Some(next) => ControlFlow::Continue(next),
                    None => ControlFlow::Break(Err(error)),
                }
            }
        }
    }

    /// Records a failed attempt; returns the delay before the next one, or `None` when the
    /// failure ends the call.
    fn failed<E, P, N: Next>(
        &mut self,
        error: &E,
        elapsed: Duration,
        permit: Option<BreakerPermit<'_>>,
        retry_if: &P,
        deadline_at: Option<Instant>,
        attempt_span: Option<&Span>,
    ) -> Option<(Duration, N)>
    where
        E: Classify,
        P: Fn(&E) -> bool,
    {
        let policy = self.policy;
        let class = error.class();
        if let Some(permit) = permit {
            if class == ErrorClass::Permanent {
                permit.ignore();
            } else {
                permit.failure(elapsed);
            }
        }
        let Some((delay, next)) = self.retry_delay(error, retry_if, deadline_at) else {
            policy.metrics.error.increment(1);
            spans::attempt_failed(self.span.as_ref(), attempt_span, error, self.attempt, true);
            return None;
        };
        spans::attempt_failed(self.span.as_ref(), attempt_span, error, self.attempt, false);
        policy.metrics.retries.increment(1);
        tracing::info!(
            target: "pool_core::retry",
            function = policy.label,
            attempt = self.attempt,
            class = class.as_str(),
            delay = ?delay,
            "attempt failed; retrying"
        );
        Some((delay, next))
    }

    /// The delay before the next attempt, or `None` if the failure must not be retried.
    fn retry_delay<E: Classify, P: Fn(&E) -> bool, N: Next>(
        &mut self,
        error: &E,
        retry_if: &P,
        deadline_at: Option<Instant>,
    ) -> Option<(Duration, N)> {
        let next = N::next()?;
        let policy = self.policy;
        if self.attempt >= policy.max_attempts || error.class() == ErrorClass::Permanent {
            return None;
        }
        if error.delivery() == Delivery::Unknown && !policy.idempotent {
            return None;
        }
        if !retry_if(error) {
            return None;
        }
        let rng = self.rng.get_or_insert_with(|| match policy.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        });
        let delay = policy
            .schedule
            .delay(self.attempt - 1, self.previous_delay, rng);
        if let Some(at) = deadline_at
            && Instant::now() + delay >= at
        {
            return None;
        }
        if let Some(budget) = &policy.budget
            && !budget.try_withdraw()
        {
            policy
                .metrics
                .rejection(&Rejected::BudgetExhausted)
                .increment(1);
            tracing::warn!(
                target: "pool_core::retry",
                function = policy.label,
                "retry budget exhausted; not retrying"
            );
            return None;
        }
        self.previous_delay = delay;
        Some((delay, next))
    }

    #[cold]
    fn reject<T, E: From<Rejected>, N>(
        &self,
        rejected: Rejected,
        attempt_span: Option<&Span>,
    ) -> ControlFlow<Result<T, E>, N> {
        spans::rejected(self.span.as_ref(), attempt_span, &rejected, self.attempt);
        let metrics = &self.policy.metrics;
        metrics.rejection(&rejected).increment(1);
        metrics.rejected.increment(1);
        tracing::debug!(
            target: "pool_core::retry",
            function = self.policy.label,
            reason = rejected.reason(),
            "call rejected"
        );
        ControlFlow::Break(Err(E::from(rejected)))
    }
}

/// A bulkhead wait in progress (boxed: it exists only while the bulkhead is full).
type BulkheadWait<'p> =
    Pin<Box<dyn Future<Output = Result<SemaphorePermit<'p>, Rejected>> + Send + 'p>>;

/// What lets a failed attempt be followed by another: `()` in the attempt loop
/// ([`Attempts::run`]); nothing (`Infallible`, which has no value) for the only attempt of
/// [`Attempts::once`], whose output therefore cannot say "run the next attempt".
trait Next: Copy {
    /// The token that starts the next attempt, if there can be one.
    fn next() -> Option<Self>;
}

impl Next for () {
    #[inline(always)]
    fn next() -> Option<()> {
        Some(())
    }
}

impl Next for Infallible {
    #[inline(always)]
    fn next() -> Option<Infallible> {
        None
    }
}

/// Where an [`Attempt`] is.
#[derive(Clone, Copy)]
enum Stage<N> {
    /// Not started: the deadline, the breaker and the bulkhead are asked on the first poll.
    Gates,
    /// Waiting for a bulkhead place (it was full, and the policy allows a wait).
    Bulkhead,
    /// The call runs, under the timer once it has been pending.
    Calling,
    /// The call failed and will be retried: the timer holds the backoff delay.
    BackingOff(N),
    /// The output has been returned.
    Done,
}

pin_project! {
    /// One attempt: gates, call, outcome, and the backoff sleep when it is retried.
    struct Attempt<'s, 'p, Fut, P, N> {
        attempts: &'s mut Attempts<'p>,
        retry_if: P,
        // The call, dropped (in place) as soon as it ends or is cut by the timer, so a
        // connection it holds goes back before any backoff sleep.
        #[pin]
        call: Option<Fut>,
        // The attempt's timeout while `Calling`, then the backoff delay while `BackingOff`.
        #[pin]
        timer: Option<Sleep>,
        stage: Stage<N>,
        // Set only while `Bulkhead`.
        bulkhead_wait: Option<BulkheadWait<'p>>,
        permit: Option<BreakerPermit<'p>>,
        place: Option<SemaphorePermit<'p>>,
        deadline_at: Option<Instant>,
        limit: Limit,
        // This attempt's span (`pool.attempt`), opened at its gates and entered while the
        // call is polled, so the checkout and the transaction inside are its children;
        // `None` when no subscriber wanted it.
        span: Option<Span>,
    }
}

impl<'p, Fut, P, T, E, N> Future for Attempt<'_, 'p, Fut, P, N>
where
    Fut: Future<Output = Result<T, E>>,
    E: ResilientError,
    P: Fn(&E) -> bool,
    N: Next,
{
    type Output = ControlFlow<Result<T, E>, N>;

    // Always inlined: each instantiation (one per `#[resilient]` function) is polled from
    // exactly one place, and returning the output through memory costs more than the call.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let policy: &'p Resilience = this.attempts.policy;
        // Ends the attempt before its call ran: the call is dropped unpolled.
        macro_rules! reject {
            ($rejected:expr) => {{
                let rejected = $rejected;
                this.call.set(None);
                *this.permit = None;
                *this.stage = Stage::Done;
                return Poll::Ready(this.attempts.reject(rejected, this.span.as_ref()));
            }};
        }
        loop {
            match *this.stage {
                Stage::Gates => {
                    *this.span = spans::attempt(
                        this.attempts.span.as_ref(),
                        this.attempts.attempt + 1,
                        this.attempts.previous_delay,
                    );
                    let (deadline_at, now) = match this.attempts.start_attempt() {
                        Ok(times) => times,
                        Err(rejected) => reject!(rejected),
                    };
                    *this.deadline_at = deadline_at;
                    match policy.resolve_breaker() {
                        Ok(None) => {}
                        Ok(Some(breaker)) => {
                            spans::breaker_state(this.span.as_ref(), breaker);
                            match breaker.try_acquire() {
                                Ok(permit) => *this.permit = Some(permit),
                                Err(rejected) => reject!(rejected),
                            }
                        }
                        Err(rejected) => reject!(rejected),
                    }
                    *this.limit = Limit::new(policy.timeout, deadline_at);
                    *this.stage = Stage::Calling;
                    if let Some(bulkhead) = &policy.bulkhead {
                        match bulkhead.try_acquire() {
                            Some(place) => *this.place = Some(place),
                            None => {
                                let limit = deadline_at
                                    .zip(now)
                                    .map(|(at, now)| at.saturating_duration_since(now));
                                let wait = bulkhead.wait_for(limit);
                                if wait.is_zero() {
                                    reject!(bulkhead.rejection());
                                }
                                *this.bulkhead_wait = Some(Box::pin(bulkhead.wait(wait)));
                                *this.stage = Stage::Bulkhead;
                            }
                        }
                    }
                }
                Stage::Bulkhead => {
                    let waited = match (this.bulkhead_wait.as_mut(), &policy.bulkhead) {
                        (Some(wait), _) => ready!(wait.as_mut().poll(cx)),
                        // Not reached: the wait is set whenever the stage is.
                        (None, Some(bulkhead)) => Err(bulkhead.rejection()),
                        (None, None) => {
                            *this.stage = Stage::Calling;
                            continue;
                        }
                    };
                    *this.bulkhead_wait = None;
                    match waited {
                        Ok(place) => {
                            *this.place = Some(place);
                            *this.stage = Stage::Calling;
                        }
                        Err(rejected) => reject!(rejected),
                    }
                }
                Stage::Calling => {
                    let _entered = this.span.as_ref().map(Span::enter);
                    let Some(call) = this.call.as_mut().as_pin_mut() else {
                        // Not reached: the call is only taken when leaving `Calling`.
                        *this.stage = Stage::Done;
                        continue;
                    };
                    let output = match call.poll(cx) {
                        Poll::Ready(output) => Some(output),
                        Poll::Pending => {
                            ready!(this.limit.poll_expired(this.timer.as_mut(), cx));
                            None
                        }
                    };
                    if output.is_some() {
                        this.call.set(None);
                    } else {
                        // Cut by the timer: the server is slow or stalled, so the
                        // connection inside goes, rather than wait to be recovered.
                        crate::pool::cut_by_timeout(|| this.call.set(None));
                    }
                    this.timer.set(None);
                    *this.place = None;
                    let timing = this.limit.timing();
                    let permit = this.permit.take();
                    match this.attempts.settle(
                        output,
                        timing,
                        permit,
                        this.retry_if,
                        *this.deadline_at,
                        this.span.as_ref(),
                    ) {
                        ControlFlow::Break(result) => {
                            *this.stage = Stage::Done;
                            return Poll::Ready(ControlFlow::Break(result));
                        }
                        ControlFlow::Continue((delay, next)) => {
                            this.timer.set(Some(tokio::time::sleep(delay)));
                            *this.stage = Stage::BackingOff(next);
                        }
                    }
                }
                Stage::BackingOff(next) => {
                    if let Some(sleep) = this.timer.as_mut().as_pin_mut() {
                        ready!(sleep.poll(cx));
                    }
                    this.timer.set(None);
                    *this.stage = Stage::Done;
                    return Poll::Ready(ControlFlow::Continue(next));
                }
                Stage::Done => {
                    #[allow(
                        clippy::panic,
                        reason = "polling a finished future is a caller bug, as for an async fn"
                    )]
                    {
                        panic!("an attempt was polled after it completed")
                    }
                }
            }
        }
    }
}
