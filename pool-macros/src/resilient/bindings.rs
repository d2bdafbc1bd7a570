//! Arguments handed to each attempt: references re-borrowed, owned values cloned.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{FnArg, Pat, PatIdent, Signature, Type, spanned::Spanned};

/// How an argument reaches an attempt.
enum Passing {
    /// `&T`: copied.
    Shared,
    /// `&mut T`: re-borrowed.
    Unique,
    /// By value: cloned through `RetryArgument`.
    Owned,
}

fn passing(ty: &Type) -> Passing {
    match ty {
        Type::Reference(reference) if reference.mutability.is_some() => Passing::Unique,
        Type::Reference(_) => Passing::Shared,
        Type::Group(group) => passing(&group.elem),
        Type::Paren(paren) => passing(&paren.elem),
        _ => Passing::Owned,
    }
}

/// Rewrites `sig` so its arguments can be handed out again for each attempt, and returns
/// the `let`s that bind them, under their own names, at the start of an attempt.
pub(crate) fn per_attempt(sig: &mut Signature, krate: &TokenStream) -> TokenStream {
    let mut lets = TokenStream::new();
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(arg) = input else {
            continue;
        };
        let how = passing(&arg.ty);
        let span = arg.span();
        let source = |from: &dyn quote::ToTokens| match how {
            Passing::Shared => quote!(#from),
            Passing::Unique => quote!(&mut *#from),
            Passing::Owned => quote_spanned! {span=>
                #krate::__private::RetryArgument::for_attempt(&#from)
            },
        };
        match &mut *arg.pat {
            Pat::Wild(_) => {}
            Pat::Ident(PatIdent {
                by_ref: None,
                subpat: None,
                mutability,
                ident,
                ..
            }) => {
                // The outer binding is never mutated; each attempt's copy may be.
                let inner_mut = mutability.take();
                if matches!(how, Passing::Shared) && inner_mut.is_none() {
                    continue;
                }
                let value = source(ident);
                lets.extend(quote!(let #inner_mut #ident = #value;));
            }
            pat => {
                let renamed = format_ident!("__pool_arg{}", index);
                let value = source(&renamed);
                lets.extend(quote!(let #pat = #value;));
                *arg.pat = syn::parse_quote!(#renamed);
            }
        }
    }
    lets
}
