//! `#[pooled]`: the connection argument becomes a pool (or a global pool), and the body
//! runs on a connection checked out for it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{FnArg, PatType, Signature, Type, parse_quote, parse_quote_spanned, spanned::Spanned};

use super::args::PooledArgs;
use crate::{body, target};

/// A signature and body with the checkout in place.
pub(crate) struct Checkout {
    /// The signature callers see: a pool argument instead of the connection.
    pub(crate) sig: Signature,
    /// Statements that check a connection out, run the body on it and give it back,
    /// evaluating to the function's output.
    pub(crate) stmts: TokenStream,
}

/// Rewrites `sig` and wraps `user` (statements yielding `output`, which see the
/// connection argument) in a checkout.
pub(crate) fn checkout(
    args: &PooledArgs,
    krate: &TokenStream,
    sig: &Signature,
    output: &Type,
    user: TokenStream,
    timed: bool,
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
    let mut sig = sig.clone();
    let pool = quote!(__pool);

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
            quote_spanned! {path.span()=>
                let #pool = #path.get()?;
            }
        }
        None => {
            let Some(error) = target::error_type(output) else {
                return Err(syn::Error::new(
                    output.span(),
                    "`#[pooled]` needs the error type written out (`Result<T, E>`) to require \
                     `E: From<PoolError<..>>`; or name a global pool with `pool = PATH`",
                ));
            };
            let manager_trait = match args.transaction {
                Some(_) => quote!(#krate::TransactionManager),
                None => quote!(#krate::Manager),
            };
            let manager: syn::GenericParam = parse_quote!(__M: #manager_trait);
            sig.generics.params.push(manager);
            let where_clause = sig.generics.make_where_clause();
            where_clause.predicates.push(parse_quote! {
                <__M as #krate::Manager>::Connection: ::core::borrow::BorrowMut<#conn_ty>
            });
            where_clause.predicates.push(parse_quote_spanned! {output.span()=>
                #error: ::core::convert::From<#krate::PoolError<<__M as #krate::Manager>::Error>>
            });
            if let Some(span) = args.transaction {
                where_clause.predicates.push(parse_quote_spanned! {span=>
                    #error: ::core::convert::From<<__M as #krate::Manager>::Error>
                });
            }
            let arg: FnArg = parse_quote!(#pool: &#krate::Pool<__M>);
            if let Some(slot) = sig.inputs.iter_mut().nth(index) {
                *slot = arg;
            }
            TokenStream::new()
        }
    };

    let body = body::typed_async(
        output,
        quote! {
            let #conn_pat: &mut #conn_ty =
                ::core::borrow::BorrowMut::<#conn_ty>::borrow_mut(&mut *__pool_conn);
            #user
        },
    );
    let run = match args.transaction {
        None => quote! {
            let __pool_result = #body.await;
        },
        Some(span) => {
            // With a global pool the manager is concrete: check here that the error type
            // can carry its error, with a message that says so.
            let carry = match args.pool {
                Some(_) => target::error_type(output),
                None => None,
            };
            transaction(krate, span, &body, carry)
        }
    };
    // Alone, `#[pooled]` times the call for the slow-call warning; under `#[resilient]`
    // the attempt loop already does.
    let begin = if timed {
        let name = sig.ident.to_string();
        quote!(__pool_conn.begin_call(::core::concat!(::core::module_path!(), "::", #name));)
    } else {
        quote!(__pool_conn.begin_operation();)
    };
    let stmts = quote! {
        #pool_binding
        let mut __pool_conn = #pool.get().await?;
        #begin
        #run
        __pool_conn.finish(&__pool_result);
        __pool_result
    };
    Ok(Checkout { sig, stmts })
}

/// Begin; the body; commit on `Ok`, roll back on `Err`. A connection whose commit or
/// rollback failed is not finished, so it is discarded rather than reused.
fn transaction(
    krate: &TokenStream,
    span: Span,
    body: &TokenStream,
    carry: Option<&Type>,
) -> TokenStream {
    let (check, convert) = match carry {
        Some(error) => (
            quote_spanned! {span=>
                #[diagnostic::on_unimplemented(
                    message = "`#[pooled(transaction)]` needs the error type `{Self}` to carry the database error `{E}`",
                    label = "begin, commit and rollback can fail with `{E}`",
                    note = "implement `From<{E}>` for `{Self}`, or drop `transaction`"
                )]
                trait __PoolCarriesDbError<E>: ::core::marker::Sized {
                    fn __pool_from(error: E) -> Self;
                }
                impl<E, T: ::core::convert::From<E>> __PoolCarriesDbError<E> for T {
                    fn __pool_from(error: E) -> Self {
                        ::core::convert::From::from(error)
                    }
                }
            },
            quote_spanned! {span=> <#error as __PoolCarriesDbError<_>>::__pool_from },
        ),
        None => (
            TokenStream::new(),
            quote_spanned! {span=> ::core::convert::From::from },
        ),
    };
    quote! {
        #check
        if let ::core::result::Result::Err(__pool_error) =
            #krate::TransactionManager::begin(#krate::Pool::manager(__pool), &mut *__pool_conn)
                .await
        {
            return ::core::result::Result::Err(#convert(__pool_error));
        }
        let __pool_result = match #body.await {
            ::core::result::Result::Ok(__pool_value) => {
                match #krate::TransactionManager::commit(
                    #krate::Pool::manager(__pool),
                    &mut *__pool_conn,
                )
                .await
                {
                    ::core::result::Result::Ok(()) => ::core::result::Result::Ok(__pool_value),
                    ::core::result::Result::Err(__pool_error) => {
                        return ::core::result::Result::Err(#convert(__pool_error));
                    }
                }
            }
            ::core::result::Result::Err(__pool_error) => {
                match #krate::TransactionManager::rollback(
                    #krate::Pool::manager(__pool),
                    &mut *__pool_conn,
                )
                .await
                {
                    ::core::result::Result::Ok(()) => ::core::result::Result::Err(__pool_error),
                    ::core::result::Result::Err(_) => {
                        return ::core::result::Result::Err(__pool_error);
                    }
                }
            }
        };
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
