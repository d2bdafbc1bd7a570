//! `#[pooled]`: the connection argument becomes a pool (or a global pool), and the body
//! runs on a connection checked out for it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{FnArg, PatType, Signature, Type, parse_quote, parse_quote_spanned, spanned::Spanned};

use super::args::PooledArgs;
use crate::{body, target};

/// Who measures the call for the slow-call warning.
#[derive(Clone, Copy)]
pub(crate) enum Timing {
    /// `#[pooled]` alone: the checkout times the call.
    ByCheckout,
    /// Under `#[resilient]`: the attempt loop already times it.
    ByAttempts,
}

/// A signature and body with the checkout in place.
pub(crate) struct Checkout {
    /// The signature callers see: a pool argument instead of the connection.
    pub(crate) sig: Signature,
    /// Statements that check a connection out, run the body on it and give it back,
    /// evaluating to the function's output; in transaction mode, to the transaction
    /// engine's outcome of the attempt (`Result<T, transaction::Failed<E>>`), which
    /// [`Checkout::transaction`] says how to hand over.
    pub(crate) stmts: TokenStream,
    /// In transaction mode, how the caller wraps the attempt.
    pub(crate) transaction: Option<Engine>,
}

/// The transaction engine's paths, as the code around a transactional attempt uses them.
pub(crate) struct Engine {
    /// The engine's module.
    pub(crate) path: TokenStream,
    /// Declares `__pool_tx`, one per call, before any attempt. Spanned on the
    /// `transaction` key: `Transaction::new` is where the engine asks the error type to
    /// carry the database error, so that is where a user is told it does not.
    pub(crate) declare: TokenStream,
    /// The function that turns the last attempt's outcome into the caller's result.
    pub(crate) deliver: TokenStream,
}

impl Checkout {
    /// The function's body when nothing else drives attempts: in transaction mode, one
    /// attempt, its outcome delivered by the engine.
    pub(crate) fn alone(self) -> TokenStream {
        let Some(engine) = &self.transaction else {
            return self.stmts;
        };
        let attempt = attempt_block(&engine.path, self.stmts);
        let Engine {
            declare, deliver, ..
        } = engine;
        quote! {
            #declare
            #deliver(#attempt.await)
        }
    }
}

// Input: the statements of one transactional attempt.
// Output: `async { if let Some(r) = None::<Result<_, transaction::Failed<_>>> { return r; }
// <stmts> }`: an async block whose `?` converts into the engine's outcome.
/// An async block running one transactional attempt: its output is the engine's
/// `Result<_, Failed<_>>`, named so `?` inside converts into it.
pub(crate) fn attempt_block(engine: &TokenStream, stmts: TokenStream) -> TokenStream {
    let __pool_ret = body::local("__pool_ret");
    quote! {
        async {
            if let ::core::option::Option::Some(#__pool_ret) = ::core::option::Option::None::<
                ::core::result::Result<_, #engine::Failed<_>>,
            > {
                #[allow(unreachable_code)]
                return #__pool_ret;
            }
            #stmts
        }
    }
}

// Input: `async fn find_user(conn: &mut PgConnection, id: i64) -> Result<User, E>`.
// Output: `async fn find_user(__pool: &Pool<<PgConnection as PooledConnection>::Manager>,
// id: i64) -> Result<User, E>` (or, with
// `pool = DB`, no pool argument and `let __pool = IsGlobalPool::installed(&DB)?;`), whose
// statements are `let mut __pool_conn = __pool.get().await?; <begin>; let __pool_result =
// async { let conn: &mut PgConnection = connection_argument(__pool, &mut *__pool_conn);
// <body> }.await; __pool_conn.finish(&__pool_result); __pool_result`; in transaction
// mode, `__pool_tx.begin(..)` and `__pool_tx.end(..)` around the body instead.
/// Rewrites `sig` and wraps `user` (statements yielding `output`, which see the
/// connection argument) in a checkout.
pub(crate) fn checkout(
    args: &PooledArgs,
    krate: &TokenStream,
    sig: &Signature,
    output: &Type,
    user: TokenStream,
    timing: Timing,
) -> syn::Result<Checkout> {
    let (index, conn) = connection_argument(sig)?;
    let conn_pat = &conn.pat;
    let conn_ty = match &*conn.ty {
        Type::Reference(reference) => &reference.elem,
        _ => {
            return Err(syn::Error::new(
                conn.ty.span(),
                "expected `&mut Connection`",
            ));
        }
    };
    if let Some(pool) = names_a_pool(conn_ty) {
        return Err(syn::Error::new(
            pool.span(),
            format!(
                "the first argument of a `#[pooled]` function is the connection its body runs \
                 on (e.g. `conn: &mut PgConnection`), not a `{pool}`: the generated function \
                 takes the `&{pool}` in its place and checks the connection out of it"
            ),
        ));
    }
    let mut sig = sig.clone();
    let pool = body::local("__pool");
    let __pool_conn = body::local("__pool_conn");
    let __pool_result = body::local("__pool_result");
    let __pool_tx = body::local("__pool_tx");

    // The error type as written, or named through the return type (an alias such as
    // `DbResult<T>`), which the compiler then checks is a `Result`.
    let error = match target::error_type(output) {
        Some(error) => quote!(#error),
        None => body::through_returns_result(output, krate, "Err"),
    };
    // A failed checkout ends in the error type through the runtime crate's error route
    // (`checkout_error`; in a transaction, the engine's `Failed` through `checkout_failed`),
    // spanned on the error type. The manager is known here (from the connection's type or
    // the global pool), so an error type that cannot carry the failure is reported at the
    // definition, once.
    let error_span = target::error_type(output).map_or_else(|| output.span(), Spanned::span);
    let into_error = {
        // A closure, not the function as a value: one obligation, on the error type (and
        // so a closure clippy would call redundant: the `let` it is in allows it).
        let failure = body::local_at("__pool_failure", error_span);
        let route = match args.transaction {
            None => quote_spanned!(error_span=> checkout_error),
            Some(_) => quote_spanned!(error_span=> checkout_failed),
        };
        quote_spanned! {error_span=>
            .map_err(|#failure| #krate::__private::#route::<#error, _>(#failure))
        }
    };

    let pool_binding = match &args.pool {
        Some(path) => {
            // Remove the connection argument: the pool is a static.
            sig.inputs = sig
                .inputs
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, arg)| arg.clone())
                .collect();
            // Through a trait, so a path that is not a `GlobalPool` is told so, on the path.
            quote_spanned! {path.span()=>
                let #pool = #krate::__private::IsGlobalPool::installed(&#path);
            }
        }
        None => {
            // The pool's manager follows from the connection's type, through the runtime
            // crate's mapping: a pool of another backend is one type mismatch at the call,
            // and an error type that cannot carry a failed checkout is one error at the
            // definition (the manager, so its error, is known here). Spanned on the
            // connection's type, where a type no pool hands out is reported.
            let manager = quote_spanned! {conn_ty.span()=>
                <#conn_ty as #krate::__private::PooledConnection>::Manager
            };
            let (arg, binding): (FnArg, TokenStream) = match args.read {
                None => (
                    parse_quote_spanned!(conn_ty.span()=> #pool: &#krate::Pool<#manager>),
                    TokenStream::new(),
                ),
                Some(span) => {
                    // `read`: the argument is whatever reads (a set of replicas, a pool);
                    // each attempt asks it for the pool to check out from.
                    let source: syn::GenericParam = parse_quote_spanned! {span=>
                        __R: #krate::ReadSource<Manager = #manager> + ?::core::marker::Sized
                    };
                    sig.generics.params.push(source);
                    (
                        parse_quote!(#pool: &__R),
                        quote!(let #pool = #krate::ReadSource::read_pool(#pool);),
                    )
                }
            };
            if let Some(slot) = sig.inputs.iter_mut().nth(index) {
                *slot = arg;
            }
            binding
        }
    };

    // Through `ConnectionFor`, spanned on the connection's type: with a `GlobalPool` the
    // manager is known here, and a connection of another backend is reported on it.
    let conn_at = body::local_at("__pool_conn", conn_ty.span());
    let as_argument = quote_spanned! {conn_ty.span()=>
        #krate::__private::connection_argument::<_, #conn_ty>(&mut #conn_at)
    };
    let body = body::typed_async(
        &body::attempt_output(output, krate),
        quote! {
            let #conn_pat: &mut #conn_ty = #as_argument;
            #user
        },
    );
    // Alone, `#[pooled]` times the call for the slow-call warning; under `#[resilient]`
    // the attempt loop already does.
    let begin = match timing {
        Timing::ByCheckout => {
            let name = sig.ident.to_string();
            quote!(#__pool_conn.begin_call(::core::concat!(::core::module_path!(), "::", #name));)
        }
        Timing::ByAttempts => quote!(#__pool_conn.begin_operation();),
    };
    // The checkout. From a global pool, "not initialised" and a failed checkout end in
    // the error type by the same one conversion, reported once when it is missing.
    let pool_error = body::local("__pool_error");
    let checkout = match &args.pool {
        None => quote!(#pool.get().await #into_error?),
        Some(_) => quote! {
            match #pool {
                ::core::result::Result::Ok(#pool) => #pool.get().await,
                ::core::result::Result::Err(#pool_error) => ::core::result::Result::Err(#pool_error),
            } #into_error?
        },
    };
    let (stmts, transaction) = match args.transaction {
        None => (
            quote! {
                #pool_binding
                #[allow(clippy::redundant_closure)]
                let mut #__pool_conn = #checkout;
                #begin
                let #__pool_result = #body.await;
                #__pool_conn.finish(&#__pool_result);
                #__pool_result
            },
            None,
        ),
        Some(span) => {
            // Every step is the engine's: begin, then the body, then end (commit or
            // rollback, and what the failure means). Spanned on `transaction`, so an error
            // type that cannot carry the database error is reported there.
            let path = quote!(#krate::transaction);
            let engine = Engine {
                declare: respan(quote!(let #__pool_tx = #path::Transaction::new();), span),
                deliver: quote!(#__pool_tx.deliver),
                path,
            };
            let stmts = quote_spanned! {span=>
                #pool_binding
                #[allow(clippy::redundant_closure)]
                let mut #__pool_conn = #checkout;
                #begin
                let mut #__pool_conn = #__pool_tx.begin(#__pool_conn).await?;
                let #__pool_result = #body.await;
                #__pool_tx.end(#__pool_conn, #__pool_result).await
            };
            (stmts, Some(engine))
        }
    };
    Ok(Checkout {
        sig,
        stmts,
        transaction,
    })
}

/// `tokens` (a statement without groups) with every token on `span`, so an error about the
/// whole statement points there.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            // Located at `span`, resolved as before: generated locals keep their hygiene.
            token.set_span(token.span().located_at(span));
            token
        })
        .collect()
}

/// The last segment of `ty` when it names a pool (`Pool<M>`, `GlobalPool<M>`), which a
/// user may put where the connection goes.
fn names_a_pool(ty: &Type) -> Option<&syn::Ident> {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .map(|last| &last.ident)
            .filter(|ident| *ident == "Pool" || *ident == "GlobalPool"),
        Type::Group(group) => names_a_pool(&group.elem),
        Type::Paren(paren) => names_a_pool(&paren.elem),
        _ => None,
    }
}

/// The position (in `sig.inputs`) and declaration of the connection argument.
fn connection_argument(sig: &Signature) -> syn::Result<(usize, &PatType)> {
    let typed: Vec<(usize, &PatType)> = sig
        .inputs
        .iter()
        .enumerate()
        .filter_map(|(i, arg)| match arg {
            FnArg::Typed(typed) => Some((i, typed)),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let is_mut_ref = |ty: &Type| matches!(ty, Type::Reference(r) if r.mutability.is_some());
    let Some(&(index, first)) = typed.first() else {
        return Err(syn::Error::new(
            sig.paren_token.span.join(),
            "`#[pooled]` needs the connection as the function's first argument, e.g. \
             `conn: &mut PgConnection`; the caller passes a `&Pool` in its place",
        ));
    };
    if is_mut_ref(&first.ty) {
        return Ok((index, first));
    }
    if let Some((_, later)) = typed.iter().skip(1).find(|(_, arg)| is_mut_ref(&arg.ty)) {
        return Err(syn::Error::new(
            later.span(),
            "the connection must be the first argument of a `#[pooled]` function (after \
             `self`, if any)",
        ));
    }
    Err(syn::Error::new(
        first.ty.span(),
        "the first argument of a `#[pooled]` function is the connection and must be \
         `&mut Connection`",
    ))
}
