//! The error route a binding gives the code `#[resilient]` and `#[pooled]` generate, as
//! one macro each binding expands inside its `__private` module. Not public API.
//!
//! With a binding, a function's error type needs one conversion, `From<binding::Error>`,
//! for every door (a failed checkout, a policy's rejection, a transaction's errors), and
//! keeps the class and delivery of what it wraps by delegating `Classify` to it. The
//! items shadow pool-core's of the same names, which take `From<PoolError<_>>` and
//! `From<Rejected>` directly. Only the binding's error types and the words of its
//! diagnostics differ between bindings; the code is this one copy.

/// Declares a binding's error route: `error` is its user-facing error (with
/// `From<PoolError<backend>>` and `From<Rejected>`), `backend` its manager's error; the
/// two diagnostics name them in the binding's words.
// rustfmt indents the attributes' arguments further on every run inside a macro body.
#[rustfmt::skip]
#[doc(hidden)]
#[macro_export]
macro_rules! __binding_route {
    (
        error = $error:ty,
        backend = $backend:ty,
        carries = { message = $carries_message:tt, label = $carries_label:tt, note = $carries_note:tt },
        from_pool = { message = $from_pool_message:tt, label = $from_pool_label:tt, note = $from_pool_note:tt } $(,)?
    ) => {
        /// The error type of a `#[resilient]`/`#[pooled]` function on this binding.
        #[diagnostic::on_unimplemented(
            message = $carries_message,
            label = $carries_label,
            note = $carries_note
        )]
        pub trait CarriesError: $crate::Classify + ::core::convert::From<$error> {}

        // Reported as the trait above, in its words, not as the bounds inside.
        #[diagnostic::do_not_recommend]
        impl<E: $crate::Classify + ::core::convert::From<$error>> CarriesError for E {}

        /// The error type of a `#[pooled]` function whose pool is `B`'s: a failed checkout
        /// ends in it through the binding's error.
        #[diagnostic::on_unimplemented(
            message = $from_pool_message,
            label = $from_pool_label,
            note = $from_pool_note
        )]
        pub trait FromPoolError<B>: ::core::marker::Sized {
            /// The failed checkout as this error.
            fn from_pool_error(error: $crate::PoolError<B>) -> Self;
        }

        // Reported as the trait above, in its words, not as the bound inside.
        #[diagnostic::do_not_recommend]
        impl<E: ::core::convert::From<$error>> FromPoolError<$backend> for E {
            #[inline]
            fn from_pool_error(error: $crate::PoolError<$backend>) -> Self {
                E::from(<$error as ::core::convert::From<
                    $crate::PoolError<$backend>,
                >>::from(error))
            }
        }

        /// A failed checkout as the error type `E`, through the binding's error.
        #[inline(always)]
        pub fn checkout_error<E: FromPoolError<B>, B>(error: $crate::PoolError<B>) -> E {
            E::from_pool_error(error)
        }

        /// A failed checkout as a transactional attempt's outcome: nothing was sent.
        #[inline(always)]
        pub fn checkout_failed<E: FromPoolError<B>, B>(
            error: $crate::PoolError<B>,
        ) -> $crate::transaction::Failed<E> {
            $crate::transaction::Failed::checkout(checkout_error(error))
        }

        /// An attempt's error as the attempt loop holds it: the function's own error `X`,
        /// which takes a policy's rejection through the binding's error. `K` says whether
        /// `X` is the error type itself ([`Plain`]) or a transactional attempt's `Failed`
        /// ([`InTransaction`]), which records how the rejection cut the attempt.
        #[derive(Debug)]
        pub struct Via<X, K> {
            error: X,
            kind: ::core::marker::PhantomData<fn() -> K>,
        }

        /// [`Via`] of a function's error type.
        #[derive(Debug)]
        pub enum Plain {}

        /// [`Via`] of a transactional attempt's `Failed` outcome.
        #[derive(Debug)]
        pub enum InTransaction {}

        impl<X, K> Via<X, K> {
            #[inline(always)]
            fn new(error: X) -> Self {
                Via {
                    error,
                    kind: ::core::marker::PhantomData,
                }
            }
        }

        impl<X: $crate::Classify, K> $crate::Classify for Via<X, K> {
            #[inline]
            fn class(&self) -> $crate::ErrorClass {
                self.error.class()
            }

            #[inline]
            fn delivery(&self) -> $crate::Delivery {
                self.error.delivery()
            }
        }

        impl<E: ::core::convert::From<$error>> ::core::convert::From<$crate::Rejected>
            for Via<E, Plain>
        {
            #[cold]
            fn from(rejected: $crate::Rejected) -> Self {
                Via::new(E::from(<$error as ::core::convert::From<
                    $crate::Rejected,
                >>::from(rejected)))
            }
        }

        impl<E: ::core::convert::From<$error>> ::core::convert::From<$crate::Rejected>
            for Via<$crate::transaction::Failed<E>, InTransaction>
        {
            #[cold]
            fn from(rejected: $crate::Rejected) -> Self {
                Via::new($crate::transaction::Failed::rejected(
                    rejected,
                    |rejected| {
                        E::from(<$error as ::core::convert::From<$crate::Rejected>>::from(
                            rejected,
                        ))
                    },
                ))
            }
        }

        /// An attempt as the attempt loop runs it: its error wrapped in [`Via`].
        #[inline(always)]
        pub async fn carry<T, E, F>(attempt: F) -> ::core::result::Result<T, Via<E, Plain>>
        where
            E: CarriesError,
            F: ::core::future::Future<Output = ::core::result::Result<T, E>>,
        {
            attempt.await.map_err(Via::new)
        }

        /// A transactional attempt as the attempt loop runs it.
        #[inline(always)]
        pub async fn carry_transaction<T, E, F>(
            attempt: F,
        ) -> ::core::result::Result<T, Via<$crate::transaction::Failed<E>, InTransaction>>
        where
            E: CarriesError,
            F: ::core::future::Future<
                    Output = ::core::result::Result<T, $crate::transaction::Failed<E>>,
                >,
        {
            attempt.await.map_err(Via::new)
        }

        /// The call's result back from the attempt loop.
        #[inline(always)]
        pub fn uncarry<T, X, K>(
            result: ::core::result::Result<T, Via<X, K>>,
        ) -> ::core::result::Result<T, X> {
            result.map_err(|via| via.error)
        }

        /// The binding's `transaction(pool, policy, body)` door, one copy for every
        /// binding: each attempt checks a connection out of `pool` and runs the
        /// transaction engine (`begin`, `body`, `end`) under `policy`, and the caller gets
        /// its own error type back through the same route as `#[pooled(transaction)]`'s
        /// (a policy's rejection reaches `E` through the binding's error).
        pub async fn transaction<M, T, E, F>(
            pool: &$crate::Pool<M>,
            policy: &$crate::Resilience,
            mut body: F,
        ) -> ::core::result::Result<T, E>
        where
            M: $crate::TransactionManager,
            E: CarriesError
                + FromPoolError<M::Error>
                + $crate::transaction::CarriesTransactionError<M::TransactionError>,
            F: for<'c> ::core::ops::FnMut(
                &'c mut M::Connection,
            ) -> ::core::pin::Pin<
                ::std::boxed::Box<
                    dyn ::core::future::Future<Output = ::core::result::Result<T, E>>
                        + ::core::marker::Send
                        + 'c,
                >,
            >,
        {
            let transaction: $crate::transaction::Transaction<M, E> =
                $crate::transaction::Transaction::new();
            let mut attempts = policy.begin();
            loop {
                let attempt = async {
                    let conn = pool.get().await.map_err(checkout_failed)?;
                    let mut open = transaction.begin(conn).await?;
                    let outcome = body(&mut *open).await;
                    transaction.end(open, outcome).await
                };
                let attempt = carry_transaction(attempt);
                if let ::core::ops::ControlFlow::Break(result) = attempts.run(attempt).await {
                    return transaction.deliver(uncarry(result));
                }
            }
        }

        /// A `retry_if` predicate as the attempt loop asks it.
        #[inline(always)]
        pub fn retry_if<X, K>(predicate: impl Fn(&X) -> bool) -> impl Fn(&Via<X, K>) -> bool {
            move |via| predicate(&via.error)
        }
    };
}
