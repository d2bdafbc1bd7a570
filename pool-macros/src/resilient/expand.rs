//! `#[resilient]`: the body becomes one attempt, run in a loop driven by the call site's
//! cached policy.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::{Expr, ExprPath, FnArg, Local, Pat, Signature, Stmt, Type, spanned::Spanned};

use super::{
    args::{Backoff, Breaker, Jitter, ResilientArgs},
    bindings,
};

// Input: `#[resilient(retries = 3, timeout = "1s", breaker = "db")]` on `find_user`.
// Output: `static __POOL_SITE: CallSite = CallSite::new(|| Resilience::builder(
// concat!(module_path!(), "::", "find_user")).retries(3).timeout(..).breaker("db")
// .build());` and, for a named breaker, its `inventory` registration.
/// The `static` holding the call site's policy, built on first use.
pub(crate) fn call_site(args: &ResilientArgs, krate: &TokenStream, sig: &Signature) -> TokenStream {
    let name = sig.ident.to_string();
    let label = match &args.metrics {
        Some(label) => quote!(#label),
        None => quote!(::core::concat!(::core::module_path!(), "::", #name)),
    };
    let nanos = |d: std::time::Duration| {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        quote!(::core::time::Duration::from_nanos(#nanos))
    };
    let mut builder = quote!(#krate::Resilience::builder(#label));
    if let Some(retries) = args.retries {
        builder.extend(quote!(.retries(#retries)));
    }
    if let Some(backoff) = args.backoff {
        let variant = match backoff {
            Backoff::Fixed => quote!(Fixed),
            Backoff::Exponential => quote!(Exponential),
            Backoff::Decorrelated => quote!(Decorrelated),
        };
        builder.extend(quote!(.backoff(#krate::Backoff::#variant)));
    }
    if let Some(base) = args.base {
        let base = nanos(base);
        builder.extend(quote!(.base(#base)));
    }
    if let Some(max_delay) = args.max_delay {
        let max_delay = nanos(max_delay);
        builder.extend(quote!(.max_delay(#max_delay)));
    }
    if let Some(jitter) = args.jitter {
        let variant = match jitter {
            Jitter::None => quote!(None),
            Jitter::Full => quote!(Full),
            Jitter::Equal => quote!(Equal),
        };
        builder.extend(quote!(.jitter(#krate::Jitter::#variant)));
    }
    if let Some(timeout) = args.timeout {
        let timeout = nanos(timeout);
        builder.extend(quote!(.timeout(#timeout)));
    }
    if let Some(deadline) = args.deadline {
        let deadline = nanos(deadline);
        builder.extend(quote!(.deadline(#deadline)));
    }
    if let Some(slow_call) = args.slow_call {
        let slow_call = nanos(slow_call);
        builder.extend(quote!(.slow_call_threshold(#slow_call)));
    }
    let mut registration = TokenStream::new();
    match &args.breaker {
        Some(Breaker::Name(breaker)) => {
            builder.extend(quote!(.breaker(#breaker)));
            registration = quote! {
                #krate::__private::inventory::submit! {
                    #krate::__private::BreakerUse {
                        name: #breaker,
                        site: ::core::concat!(::core::module_path!(), "::", #name),
                        file: ::core::file!(),
                        line: ::core::line!(),
                    }
                }
            };
        }
        Some(Breaker::Path(path)) => {
            // The path keeps its own spans, so a missing static is reported on it.
            let reference = breaker_reference(path);
            builder.extend(quote!(.breaker_ref(#reference)));
        }
        None => {}
    }
    if let Some(bulkhead) = args.bulkhead {
        builder.extend(quote!(.bulkhead(#bulkhead)));
    }
    if let Some(idempotent) = args.idempotent {
        builder.extend(quote!(.idempotent(#idempotent)));
    }
    quote! {
        static __POOL_SITE: #krate::__private::CallSite =
            #krate::__private::CallSite::new(|| #builder.build());
        #registration
    }
}

/// `&PATH`, the `&` on the path's span, so a static of the wrong type is reported on
/// `PATH` rather than on the whole attribute.
fn breaker_reference(path: &syn::Path) -> TokenStream {
    let mut tokens = quote_spanned!(path.span()=> &);
    path.to_tokens(&mut tokens);
    tokens
}

// Input: the attempt (the body, or the checkout around it) and the signature.
// Output, retried: `let mut __pool_attempts = __POOL_SITE.get().begin(); loop { <per-
// attempt lets>; let __pool_attempt = async { <attempt> }; match __pool_attempts
// .run(__pool_attempt).await { Break(r) => break r, Continue(()) => {} } }`.
// Output, `retries = 0`: `__pool_attempts.once(async { <attempt> }).await`, arguments
// moved in. Under `#[pooled(transaction)]`, the engine's `deliver` around the result.
/// The body of the wrapped function: the attempt loop around `attempt` (statements that
/// see the arguments under their own names and evaluate to `output`; or, under
/// `#[pooled(transaction)]`, to the outcome of the transaction engine at `transaction`,
/// which judges each attempt for the policy and delivers the call's result).
pub(crate) fn attempt_loop(
    args: &ResilientArgs,
    krate: &TokenStream,
    sig: &mut Signature,
    output: &Type,
    attempt: TokenStream,
    transaction: Option<&crate::pooled::expand::Engine>,
) -> TokenStream {
    let site = call_site(args, krate, sig);
    let __pool_attempts = crate::body::local("__pool_attempts");
    let __pool_attempt = crate::body::local("__pool_attempt");
    let __pool_result = crate::body::local("__pool_result");
    let (attempt, declare, deliver) = match transaction {
        None => (
            crate::body::typed_async(&crate::body::attempt_output(output, krate), attempt),
            TokenStream::new(),
            quote!(),
        ),
        Some(engine) => (
            crate::pooled::expand::attempt_block(&engine.path, attempt),
            engine.declare.clone(),
            engine.deliver.clone(),
        ),
    };
    // Spanned on the error type, so `E: Classify + From<Rejected>` is reported there.
    // In the macro's hygiene like the locals the calls use, so the call is one expression
    // on the error type, reported once.
    let error_span = proc_macro2::Span::mixed_site()
        .located_at(crate::target::error_type(output).map_or_else(|| output.span(), Spanned::span));
    let attempts_at = crate::body::local_at("__pool_attempts", error_span);
    let attempt_at = crate::body::local_at("__pool_attempt", error_span);
    // The attempt goes through the runtime crate's error route: pool-core's takes the
    // error type as it is (`E: From<Rejected>`); a binding's wraps it so that a policy's
    // rejection reaches the error type through the binding's one error
    // (`E: From<pool_sqlx::Error>`). On the error type, where a missing conversion is told.
    let carry = match transaction {
        None => quote_spanned!(error_span=> carry),
        Some(_) => quote_spanned!(error_span=> carry_transaction),
    };
    // A statement of its own, every token on the error type (the crate's name too): the
    // call and the future it returns then ask for the conversion at one place, and rustc
    // reports it once.
    let carried = crate::pooled::expand::respan(
        quote!(let #attempt_at = #krate::__private::#carry(#attempt_at);),
        error_span,
    );
    let uncarry = quote!(#krate::__private::uncarry);
    if !args.may_retry() {
        // One attempt: arguments are moved into it, nothing is cloned.
        let once = quote_spanned!(error_span=> #attempts_at.once(#attempt_at).await);
        return quote! {
            #site
            #declare
            let mut #__pool_attempts = __POOL_SITE.get().begin();
            let #__pool_attempt = #attempt;
            #carried
            #deliver(#uncarry(#once))
        };
    }
    let run = match (&args.retry_if, transaction) {
        (Some(predicate), None) => quote_spanned! {error_span=>
            #attempts_at.run_if(#attempt_at, #krate::__private::retry_if(#predicate)).await
        },
        (Some(predicate), Some(engine)) => {
            let path = &engine.path;
            quote_spanned! {error_span=>
                #attempts_at.run_if(
                    #attempt_at,
                    #krate::__private::retry_if(#path::retry_if(#predicate)),
                ).await
            }
        }
        (None, _) => quote_spanned!(error_span=> #attempts_at.run(#attempt_at).await),
    };
    let lets = bindings::per_attempt(sig, krate);
    quote! {
        #site
        #declare
        let mut #__pool_attempts = __POOL_SITE.get().begin();
        loop {
            #lets
            let #__pool_attempt = #attempt;
            #carried
            match #run {
                ::core::ops::ControlFlow::Break(#__pool_result) => break #deliver(#uncarry(#__pool_result)),
                ::core::ops::ControlFlow::Continue(()) => {}
            }
        }
    }
}

// Input: the body `#[async_trait]` made of a method, `let mut __self = self; ..`.
// Output: `let mut __self = &mut *self;` for `&mut self` (a re-borrow per attempt), and
// `let __self = RetryArgument::for_attempt(&self);` for a receiver by value under retries
// (a copy per attempt), so no attempt moves what the next one needs.
/// Makes the `__self` binding of an `#[async_trait]` body fit for every attempt.
pub(crate) fn reborrow_async_trait_self(
    sig: &Signature,
    stmts: &mut [Stmt],
    args: &ResilientArgs,
    krate: &TokenStream,
) {
    let rebinding = sig.inputs.iter().find_map(|input| match input {
        FnArg::Receiver(receiver) if receiver.reference.is_some() => receiver
            .mutability
            .is_some()
            .then(|| -> Expr { syn::parse_quote!(&mut *self) }),
        FnArg::Receiver(receiver) if args.may_retry() => {
            Some(syn::parse_quote_spanned! {receiver.span()=>
                #krate::__private::RetryArgument::for_attempt(&self)
            })
        }
        _ => None,
    });
    let Some(rebinding) = rebinding else {
        return;
    };
    for stmt in stmts {
        let Stmt::Local(Local {
            pat: Pat::Ident(ident),
            init: Some(init),
            ..
        }) = stmt
        else {
            continue;
        };
        let is_self =
            matches!(&*init.expr, Expr::Path(ExprPath { path, .. }) if path.is_ident("self"));
        if ident.ident == "__self" && is_self {
            *init.expr = rebinding.clone();
        }
    }
}
