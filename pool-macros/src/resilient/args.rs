//! `#[resilient(...)]`'s arguments, read and checked against each other.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};

use crate::meta::Args;

/// Every key `#[resilient]` accepts.
const KEYS: &[&str] = &[
    "retries",
    "backoff",
    "base",
    "max_delay",
    "jitter",
    "timeout",
    "deadline",
    "slow_call",
    "breaker",
    "bulkhead",
    "idempotent",
    "retry_if",
    "metrics",
    "crate",
];

/// The most retries an attribute may ask for.
pub(crate) const MAX_RETRIES: u64 = 100;
/// The largest bulkhead an attribute may ask for.
pub(crate) const MAX_BULKHEAD: u64 = 1_000_000;

/// Where the breaker comes from.
pub(crate) enum Breaker {
    /// `breaker = "name"`: looked up once in the registry.
    Name(String),
    /// `breaker = PATH`: a `static PATH: DeclaredBreaker`.
    Path(syn::Path),
}

/// `backoff = "..."`: how the delay between attempts grows.
#[derive(Clone, Copy)]
pub(crate) enum Backoff {
    /// `"fixed"`.
    Fixed,
    /// `"exponential"`.
    Exponential,
    /// `"decorrelated"`.
    Decorrelated,
}

/// `jitter = "..."`: the randomness applied to each delay.
#[derive(Clone, Copy)]
pub(crate) enum Jitter {
    /// `"none"`.
    None,
    /// `"full"`.
    Full,
    /// `"equal"`.
    Equal,
}

/// `#[resilient(...)]`, read.
pub(crate) struct ResilientArgs {
    pub(crate) retries: Option<u32>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) base: Option<Duration>,
    pub(crate) max_delay: Option<Duration>,
    pub(crate) jitter: Option<Jitter>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) slow_call: Option<Duration>,
    pub(crate) breaker: Option<Breaker>,
    pub(crate) bulkhead: Option<usize>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) retry_if: Option<syn::Path>,
    pub(crate) metrics: Option<String>,
    pub(crate) krate: Option<syn::Path>,
}

impl ResilientArgs {
    /// Reads the arguments of `#[resilient(...)]`.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let args = Args::parse(tokens, "resilient", KEYS)?;
        let retries = args
            .get("retries")
            .map(|arg| arg.int(0, MAX_RETRIES, "number of retries"))
            .transpose()?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let backoff = args
            .get("backoff")
            .map(|arg| {
                arg.choice(&[
                    ("fixed", Backoff::Fixed),
                    ("exponential", Backoff::Exponential),
                    ("decorrelated", Backoff::Decorrelated),
                ])
            })
            .transpose()?;
        let base = args
            .get("base")
            .map(|arg| arg.duration().map(|(d, _)| d))
            .transpose()?;
        let max_delay = args
            .get("max_delay")
            .map(|arg| arg.duration().map(|(d, _)| d))
            .transpose()?;
        let jitter = args
            .get("jitter")
            .map(|arg| {
                arg.choice(&[
                    ("none", Jitter::None),
                    ("full", Jitter::Full),
                    ("equal", Jitter::Equal),
                ])
            })
            .transpose()?;
        let timeout = args
            .get("timeout")
            .map(|arg| arg.duration().map(|(d, _)| d))
            .transpose()?;
        let deadline = args
            .get("deadline")
            .map(|arg| arg.duration().map(|(d, _)| d))
            .transpose()?;
        let slow_call = args
            .get("slow_call")
            .map(|arg| arg.duration().map(|(d, _)| d))
            .transpose()?;
        let breaker = args
            .get("breaker")
            .map(|arg| match &arg.value {
                Some(syn::Expr::Path(_)) => arg.path().map(Breaker::Path),
                _ => {
                    let (name, span) = arg.string()?;
                    if name.trim().is_empty() {
                        return Err(syn::Error::new(
                            span,
                            "`breaker` needs a name: the breaker declared with \
                             `breakers().define(\"name\", ..)`",
                        ));
                    }
                    if name.trim() != name {
                        return Err(syn::Error::new(
                            span,
                            "a breaker name cannot start or end with whitespace",
                        ));
                    }
                    Ok(Breaker::Name(name))
                }
            })
            .transpose()?;
        let bulkhead = args
            .get("bulkhead")
            .map(|arg| arg.int(1, MAX_BULKHEAD, "bulkhead size"))
            .transpose()?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let idempotent = args
            .get("idempotent")
            .map(|arg| arg.boolean())
            .transpose()?;
        let retry_if = args.get("retry_if").map(|arg| arg.path()).transpose()?;
        let metrics = args
            .get("metrics")
            .map(|arg| {
                let (label, span) = arg.string()?;
                if label.trim().is_empty() {
                    return Err(syn::Error::new(span, "`metrics` needs a non-empty label"));
                }
                Ok(label)
            })
            .transpose()?;
        let krate = args.get("crate").map(|arg| arg.path()).transpose()?;

        // Contradictions, reported at the key that makes no sense.
        if retries.unwrap_or(0) == 0 {
            let why = match retries {
                Some(_) => "with `retries = 0`",
                None => "without `retries` (the default is no retry)",
            };
            for key in ["backoff", "base", "max_delay", "jitter", "retry_if"] {
                if let Some(arg) = args.get(key) {
                    return Err(syn::Error::new(
                        arg.key.span(),
                        format!(
                            "`{key}` has no effect {why}: there is no retry to delay or \
                             decide; remove `{key}` or set `retries = N`"
                        ),
                    ));
                }
            }
        }
        if let (Some(base), Some(max_delay)) = (base, max_delay)
            && base > max_delay
        {
            return Err(key_error(
                &args,
                "base",
                "`base` is longer than `max_delay`: the first delay would exceed the cap",
            ));
        }
        if let (Some(timeout), Some(deadline)) = (timeout, deadline)
            && timeout > deadline
        {
            return Err(key_error(
                &args,
                "timeout",
                "the per-attempt `timeout` is longer than the whole call's `deadline`",
            ));
        }
        Ok(ResilientArgs {
            retries,
            backoff,
            base,
            max_delay,
            jitter,
            timeout,
            deadline,
            slow_call,
            breaker,
            bulkhead,
            idempotent,
            retry_if,
            metrics,
            krate,
        })
    }

    /// Whether an attempt can be followed by another (unset means no retry, as in
    /// `Resilience::builder`).
    pub(crate) fn may_retry(&self) -> bool {
        self.retries.unwrap_or(0) > 0
    }
}

fn key_error(args: &Args, key: &str, message: &str) -> syn::Error {
    let span = args
        .get(key)
        .map_or_else(Span::call_site, |arg| arg.key.span());
    syn::Error::new(span, message)
}
