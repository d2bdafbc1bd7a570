//! pool-sqlx's error route for the code `#[resilient]` and `#[pooled]` generate. Not
//! public API: no stability promised.
//!
//! The attributes name every conversion through `#krate::__private`, and this module
//! shadows pool-core's items of the same names (the rest it re-exports): with pool-sqlx,
//! a function's error type needs one conversion, `From<pool_sqlx::Error>`, for every
//! door (a failed checkout, a policy's rejection, a transaction's errors), and keeps the
//! class and delivery of what it wraps by delegating [`Classify`] to it.

use std::{future::Future, marker::PhantomData};

use pool_core::{Classify, Delivery, ErrorClass, PoolError, Rejected, transaction::Failed};

use crate::{Error, SqlxError};

pub use pool_core::__private::*;

/// The error type of a `#[resilient]`/`#[pooled]` function on pool-sqlx.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of this function: it needs `From<pool_sqlx::Error>` and `Classify`",
    label = "a failed checkout, a policy's rejection and the database's errors end in this type",
    note = "return `pool_sqlx::Error`, or give your error a variant holding it (`#[from] pool_sqlx::Error`) and implement `Classify` by delegating `class` and `delivery` to it (README: \"Your own error type\")"
)]
pub trait CarriesError: Classify + From<Error> {}

// Reported as the trait above, in its words, not as the bounds inside.
#[diagnostic::do_not_recommend]
impl<E: Classify + From<Error>> CarriesError for E {}

/// The error type of a `#[pooled]` function whose pool is `B`'s: a failed checkout ends
/// in it through `pool_sqlx::Error`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of this `#[pooled]` function: it has no `From<pool_sqlx::Error>`",
    label = "a failed checkout (pool closed, timed out, connection refused) ends in this error",
    note = "return `pool_sqlx::Error`, or add a variant holding it (`#[from] pool_sqlx::Error`)"
)]
pub trait FromPoolError<B>: Sized {
    /// The failed checkout as this error.
    fn from_pool_error(error: PoolError<B>) -> Self;
}

// Reported as the trait above, in its words, not as the bound inside.
#[diagnostic::do_not_recommend]
impl<E: From<Error>> FromPoolError<SqlxError> for E {
    #[inline]
    fn from_pool_error(error: PoolError<SqlxError>) -> Self {
        E::from(Error::Pool(error))
    }
}

/// A failed checkout as the error type `E`, through `pool_sqlx::Error`.
#[inline(always)]
pub fn checkout_error<E: FromPoolError<B>, B>(error: PoolError<B>) -> E {
    E::from_pool_error(error)
}

/// A failed checkout as a transactional attempt's outcome: nothing was sent.
#[inline(always)]
pub fn checkout_failed<E: FromPoolError<B>, B>(error: PoolError<B>) -> Failed<E> {
    Failed::checkout(checkout_error(error))
}

/// An attempt's error as the attempt loop holds it: the function's own error `X`,
/// which takes a policy's rejection through `pool_sqlx::Error`. `K` says whether `X` is
/// the error type itself ([`Plain`]) or a transactional attempt's [`Failed`]
/// ([`InTransaction`]), which records how the rejection cut the attempt.
#[derive(Debug)]
pub struct Via<X, K> {
    error: X,
    kind: PhantomData<fn() -> K>,
}

/// [`Via`] of a function's error type.
#[derive(Debug)]
pub enum Plain {}

/// [`Via`] of a transactional attempt's [`Failed`] outcome.
#[derive(Debug)]
pub enum InTransaction {}

impl<X, K> Via<X, K> {
    #[inline(always)]
    fn new(error: X) -> Self {
        Via {
            error,
            kind: PhantomData,
        }
    }
}

impl<X: Classify, K> Classify for Via<X, K> {
    #[inline]
    fn class(&self) -> ErrorClass {
        self.error.class()
    }

    #[inline]
    fn delivery(&self) -> Delivery {
        self.error.delivery()
    }
}

impl<E: From<Error>> From<Rejected> for Via<E, Plain> {
    #[cold]
    fn from(rejected: Rejected) -> Self {
        Via::new(E::from(Error::Rejected(rejected)))
    }
}

impl<E: From<Error>> From<Rejected> for Via<Failed<E>, InTransaction> {
    #[cold]
    fn from(rejected: Rejected) -> Self {
        Via::new(Failed::rejected(rejected, |rejected| {
            E::from(Error::Rejected(rejected))
        }))
    }
}

/// An attempt as the attempt loop runs it: its error wrapped in [`Via`].
#[inline(always)]
pub async fn carry<T, E, F>(attempt: F) -> Result<T, Via<E, Plain>>
where
    E: CarriesError,
    F: Future<Output = Result<T, E>>,
{
    attempt.await.map_err(Via::new)
}

/// A transactional attempt as the attempt loop runs it.
#[inline(always)]
pub async fn carry_transaction<T, E, F>(attempt: F) -> Result<T, Via<Failed<E>, InTransaction>>
where
    E: CarriesError,
    F: Future<Output = Result<T, Failed<E>>>,
{
    attempt.await.map_err(Via::new)
}

/// The call's result back from the attempt loop.
#[inline(always)]
pub fn uncarry<T, X, K>(result: Result<T, Via<X, K>>) -> Result<T, X> {
    result.map_err(|via| via.error)
}

/// A `retry_if` predicate as the attempt loop asks it.
#[inline(always)]
pub fn retry_if<X, K>(predicate: impl Fn(&X) -> bool) -> impl Fn(&Via<X, K>) -> bool {
    move |via| predicate(&via.error)
}
