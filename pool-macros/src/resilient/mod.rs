//! `#[resilient]`: arguments, per-attempt bindings, then the attempt loop. A `#[pooled]`
//! below it is expanded here too, inside the attempt, so each attempt checks out its own
//! connection.

pub(crate) mod args;
mod bindings;
pub(crate) mod expand;

use proc_macro2::TokenStream;
use quote::quote;

use crate::{body, krate, pooled, target};

// Input: `#[resilient(..)] [#[pooled(..)]] async fn f(..) -> R { body }`.
// Output: `async fn f(..) -> R { static __POOL_SITE ..; <attempt loop around the body,
// or around the checkout when `#[pooled]` was below> }`, or an error on the offending
// token.
/// Expands `#[resilient(args)]` on `item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = args::ResilientArgs::parse(args)?;
    let mut target = target::parse(item, "resilient")?;

    // A second `#[resilient]` would nest a whole policy inside each attempt (retries
    // multiplied, breakers counted twice): one per function.
    if let Some(second) = target.attrs.iter().find(|attr| is_resilient(attr)) {
        return Err(syn::Error::new_spanned(
            second,
            "a function takes one `#[resilient]`: a second one would run a whole policy inside \
             each attempt of the first (retries multiplied, breakers and bulkheads counted \
             twice); put every key in one attribute",
        ));
    }

    if args.may_retry()
        && let Some(error) = unique_borrow_returned(&target.sig, &target.output)
    {
        return Err(error);
    }

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
    // One runtime crate for both attributes: named on either, else the package's.
    let named = args.krate.as_ref().or_else(|| {
        pooled_args
            .as_ref()
            .and_then(|pooled| pooled.krate.as_ref())
    });
    let runtime = krate::resolve(named, &target.sig)?;
    let krate = runtime.path.clone();

    match &mut target.body {
        target::Body::Async(block) => {
            // Each attempt gets its own copy of a receiver taken by value (`bindings`).
            let owned_self = target.sig.inputs.iter().any(|input| {
                matches!(input, syn::FnArg::Receiver(receiver)
                    if bindings::owned_receiver(receiver).is_some())
            });
            if owned_self && args.may_retry() {
                block.stmts = bindings::rename_self(std::mem::take(&mut block.stmts));
            }
            let user = body::user_stmts(&target.output, &krate, block);
            let (mut sig, attempt, transaction) = match &pooled_args {
                Some(pooled_args) => {
                    let checkout = pooled::expand::checkout(
                        pooled_args,
                        &krate,
                        &target.sig,
                        &target.output,
                        user,
                        pooled::expand::Timing::ByAttempts,
                    )?;
                    (checkout.sig, checkout.stmts, checkout.transaction)
                }
                None => (target.sig.clone(), user, None),
            };
            let body = expand::attempt_loop(
                &args,
                &krate,
                &mut sig,
                &target.output,
                attempt,
                transaction.as_ref(),
            );
            let body = body::deliver_output(&target.output, &krate, body);
            Ok(runtime.finish(target.emit(&sig, quote!(#pooled_use #body))))
        }
        target::Body::AsyncTrait { before, pin, inner } => {
            if pooled_args.is_some() {
                return Err(syn::Error::new(
                    target.sig.fn_token.span,
                    "`#[pooled]` does not support `#[async_trait]` methods yet: put it on a \
                     free `async fn` and call that from the method",
                ));
            }
            expand::reborrow_async_trait_self(&target.sig, &mut inner.stmts, &args, &krate);
            let stmts = &inner.stmts;
            let mut sig = target.sig.clone();
            let body = expand::attempt_loop(
                &args,
                &krate,
                &mut sig,
                &target.output,
                quote!(#(#stmts)*),
                None,
            );
            let body = quote! {
                #(#before)*
                #pin(async move { #body })
            };
            Ok(runtime.finish(target.emit(&sig, body)))
        }
    }
}

/// Whether `attr` is `#[resilient]` (by any path).
fn is_resilient(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|last| last.ident == "resilient")
}

// Input: `async fn first(items: &mut Vec<u32>) -> Result<&mut u32, E>`, retried.
// Output: an error on the returned `&mut`. Each attempt re-borrows `items`; a result
// borrowed from it keeps that borrow alive past the attempt, so the next attempt cannot
// take it again. The borrow checker says so about a loop the user never wrote.
/// A `&mut` in the return type of a function that also takes a `&mut` (or `&mut self`):
/// what a retried function cannot do.
fn unique_borrow_returned(sig: &syn::Signature, output: &syn::Type) -> Option<syn::Error> {
    use syn::visit_mut::VisitMut;

    struct UniqueBorrow(Option<proc_macro2::Span>);
    impl VisitMut for UniqueBorrow {
        fn visit_type_reference_mut(&mut self, reference: &mut syn::TypeReference) {
            let is_static = reference
                .lifetime
                .as_ref()
                .is_some_and(|lifetime| lifetime.ident == "static");
            if let (Some(mutability), None, false) = (reference.mutability, self.0, is_static) {
                self.0 = Some(
                    reference
                        .and_token
                        .span
                        .join(mutability.span)
                        .unwrap_or(reference.and_token.span),
                );
            }
            syn::visit_mut::visit_type_reference_mut(self, reference);
        }
        // A `&mut` in a function type's arguments (`fn(&mut T)`, `dyn FnMut(&mut T)`)
        // borrows nothing from the caller.
        fn visit_type_bare_fn_mut(&mut self, _: &mut syn::TypeBareFn) {}
        fn visit_parenthesized_generic_arguments_mut(
            &mut self,
            _: &mut syn::ParenthesizedGenericArguments,
        ) {
        }
    }
    let mut returned = UniqueBorrow(None);
    returned.visit_type_mut(&mut output.clone());
    let span = returned.0?;
    let takes_unique = sig.inputs.iter().any(|input| match input {
        syn::FnArg::Receiver(receiver) => {
            receiver.reference.is_some() && receiver.mutability.is_some()
        }
        syn::FnArg::Typed(arg) => {
            matches!(&*arg.ty, syn::Type::Reference(reference) if reference.mutability.is_some())
        }
    });
    takes_unique.then(|| {
        syn::Error::new(
            span,
            "a `#[resilient]` function that retries cannot return a `&mut` borrowed from its \
             `&mut` arguments: each attempt borrows them again, and a result borrowed from one \
             attempt would keep them borrowed for the next; return an owned value (or an \
             index, a key), or set `retries = 0`",
        )
    })
}
