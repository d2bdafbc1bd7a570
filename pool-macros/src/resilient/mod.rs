//! `#[resilient]`: arguments, per-attempt bindings, then the attempt loop. A `#[pooled]`
//! below it is expanded here too, inside the attempt, so each attempt checks out its own
//! connection.

pub(crate) mod args;
mod bindings;
pub(crate) mod expand;

use proc_macro2::TokenStream;
use quote::quote;

use crate::{body, krate, pooled, target};

/// Expands `#[resilient(args)]` on `item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = args::ResilientArgs::parse(args)?;
    let mut target = target::parse(item, "resilient")?;
    let krate = krate::resolve(args.krate.as_ref())?;

    // A `#[pooled]` further down: take it over.
    let pooled_attr = target
        .attrs
        .iter()
        .position(pooled::is_pooled)
        .map(|index| target.attrs.remove(index));
    // Keeps the user's `use ...::pooled` counted as used, though rustc never sees the
    // attribute.
    let pooled_use = pooled_attr.as_ref().map(|attr| {
        let path = attr.path();
        quote!(#[allow(unused_imports)] use #path as _;)
    });
    let pooled_args = pooled_attr
        .map(|attr| match attr.meta {
            syn::Meta::Path(_) => pooled::args::PooledArgs::parse(TokenStream::new()),
            syn::Meta::List(list) => pooled::args::PooledArgs::parse(list.tokens),
            syn::Meta::NameValue(nv) => Err(syn::Error::new_spanned(
                nv,
                "write `#[pooled]` or `#[pooled(...)]`",
            )),
        })
        .transpose()?;

    match &mut target.body {
        target::Body::Async(block) => {
            let user = body::user_stmts(&target.output, block);
            let (mut sig, attempt) = match &pooled_args {
                Some(pooled_args) => {
                    let checkout = pooled::expand::checkout(
                        pooled_args,
                        &krate,
                        &target.sig,
                        &target.output,
                        user,
                        false,
                    )?;
                    (checkout.sig, checkout.stmts)
                }
                None => (target.sig.clone(), user),
            };
            let body = expand::attempt_loop(&args, &krate, &mut sig, &target.output, attempt);
            Ok(target.emit(&sig, quote!(#pooled_use #body)))
        }
        target::Body::AsyncTrait { before, pin, inner } => {
            if pooled_args.is_some() {
                return Err(syn::Error::new(
                    target.sig.fn_token.span,
                    "`#[pooled]` does not support `#[async_trait]` methods yet: put it on a \
                     free `async fn` and call that from the method",
                ));
            }
            expand::reborrow_async_trait_self(&target.sig, &mut inner.stmts);
            let stmts = &inner.stmts;
            let mut sig = target.sig.clone();
            let body =
                expand::attempt_loop(&args, &krate, &mut sig, &target.output, quote!(#(#stmts)*));
            let body = quote! {
                #(#before)*
                #pin(async move { #body })
            };
            Ok(target.emit(&sig, body))
        }
    }
}
