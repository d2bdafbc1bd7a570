//! `#[resilient]`: the body becomes one attempt, run in a loop driven by the call site's
//! cached policy.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::{Expr, ExprPath, FnArg, Local, Pat, Signature, Stmt, Type, spanned::Spanned};

use super::{
    args::{Breaker, ResilientArgs},
    bindings,
};

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
            "fixed" => quote!(Fixed),
            "decorrelated" => quote!(Decorrelated),
            _ => quote!(Exponential),
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
            "none" => quote!(None),
            "equal" => quote!(Equal),
            _ => quote!(Full),
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

fn breaker_reference(path: &syn::Path) -> TokenStream {
    let mut tokens = quote!(&);
    path.to_tokens(&mut tokens);
    tokens
}

/// The body of the wrapped function: the attempt loop around `attempt` (statements that
/// see the arguments under their own names and evaluate to `output`).
pub(crate) fn attempt_loop(
    args: &ResilientArgs,
    krate: &TokenStream,
    sig: &mut Signature,
    output: &Type,
    attempt: TokenStream,
) -> TokenStream {
    let site = call_site(args, krate, sig);
    let attempt = crate::body::typed_async(output, attempt);
    // Spanned on the error type, so `E: Classify + From<Rejected>` is reported there.
    let error_span = crate::target::error_type(output).map_or_else(|| output.span(), Spanned::span);
    let run = match &args.retry_if {
        Some(predicate) => {
            quote_spanned!(error_span=> __pool_attempts.run_if(__pool_attempt, #predicate).await)
        }
        None => quote_spanned!(error_span=> __pool_attempts.run(__pool_attempt).await),
    };
    if !args.may_retry() {
        // One attempt: arguments are moved into it, nothing is cloned.
        return quote! {
            #site
            let mut __pool_attempts = __POOL_SITE.get().begin();
            let __pool_attempt = #attempt;
            match #run {
                ::core::ops::ControlFlow::Break(__pool_result) => __pool_result,
                ::core::ops::ControlFlow::Continue(()) => ::core::result::Result::Err(
                    ::core::convert::From::from(#krate::Rejected::BudgetExhausted),
                ),
            }
        };
    }
    let lets = bindings::per_attempt(sig, krate);
    quote! {
        #site
        let mut __pool_attempts = __POOL_SITE.get().begin();
        loop {
            #lets
            let __pool_attempt = #attempt;
            match #run {
                ::core::ops::ControlFlow::Break(__pool_result) => break __pool_result,
                ::core::ops::ControlFlow::Continue(()) => {}
            }
        }
    }
}

/// In a body `#[async_trait]` produced, `let mut __self = self;` moves a `&mut self` into
/// the first attempt; make it a re-borrow so every attempt gets one.
pub(crate) fn reborrow_async_trait_self(sig: &Signature, stmts: &mut [Stmt]) {
    let unique_self = sig.inputs.iter().any(|input| {
        matches!(input, FnArg::Receiver(receiver)
            if receiver.reference.is_some() && receiver.mutability.is_some())
    });
    if !unique_self {
        return;
    }
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
            *init.expr = syn::parse_quote!(&mut *self);
        }
    }
}
