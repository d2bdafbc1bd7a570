//! Arguments handed to each attempt: references re-borrowed, owned values cloned.
//!
//! Input: `async fn f(&self, a: &A, b: &mut B, c: C, (d, e): (D, E))`, retried.
//! Output: the same signature (patterns renamed `__pool_argN`), and at the top of each
//! attempt `let b = &mut *b; let c = RetryArgument::for_attempt(&c); let (d, e) = ..;`.
//! A receiver by value (`self`, `self: Arc<Self>`) is cloned the same way into
//! `__pool_self`, and the body's `self` renamed to it ([`rename_self`]).

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::{FnArg, Pat, PatIdent, Receiver, Signature, Type, spanned::Spanned};

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
        let arg = match input {
            FnArg::Receiver(receiver) => {
                if owned_receiver(receiver).is_some() {
                    // The outer `self` is never mutated; each attempt's copy may be.
                    let mutability = receiver.mutability.take();
                    let ty = &receiver.ty;
                    let self_token = &receiver.self_token;
                    let renamed = self_alias(receiver.self_token.span);
                    lets.extend(quote_spanned! {receiver.span()=>
                        let #mutability #renamed: #ty =
                            #krate::__private::RetryArgument::for_attempt(&#self_token);
                    });
                }
                continue;
            }
            FnArg::Typed(arg) => arg,
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
                let renamed = format_ident!("__pool_arg{}", index, span = Span::mixed_site());
                let value = source(&renamed);
                lets.extend(quote!(let #pat = #value;));
                *arg.pat = syn::parse_quote!(#renamed);
            }
        }
    }
    lets
}

/// A receiver taken by value (`self`, `mut self`, `self: Arc<Self>`), which each attempt
/// needs its own copy of.
pub(crate) fn owned_receiver(receiver: &Receiver) -> Option<&Receiver> {
    receiver.reference.is_none().then_some(receiver)
}

/// The name each attempt's copy of an owned receiver is bound to, in the macro's
/// hygiene: the body's `self`, renamed with the same hygiene, finds it, and a variable
/// of the user's called `__pool_self` does not.
fn self_alias(at: Span) -> proc_macro2::Ident {
    proc_macro2::Ident::new("__pool_self", Span::mixed_site().located_at(at))
}

// Input: the body's tokens, `self.name.clone()`, `Arc::clone(&self)`, `self::helper()`.
// Output: `__pool_self.name.clone()`, `Arc::clone(&__pool_self)`, `self::helper()`: the
// receiver as a value, not `self::` paths, and not inside a nested `impl` or `trait`,
// whose `self` is another.
/// Renames the receiver `self` in `tokens` to each attempt's copy of it.
pub(crate) fn rename_self(tokens: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut nested_item = false;
    for (index, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Ident(ident) if ident == "impl" || ident == "trait" => {
                nested_item = true;
                out.push(token.clone());
            }
            TokenTree::Ident(ident) if ident == "self" => {
                let path = matches!(tokens.get(index + 1),
                    Some(TokenTree::Punct(punct)) if punct.as_char() == ':');
                if path {
                    out.push(token.clone());
                } else {
                    out.push(TokenTree::Ident(self_alias(ident.span())));
                }
            }
            TokenTree::Group(group) if nested_item && group.delimiter() == Delimiter::Brace => {
                nested_item = false;
                out.push(token.clone());
            }
            TokenTree::Group(group) => {
                let mut renamed = Group::new(group.delimiter(), rename_self(group.stream()));
                renamed.set_span(group.span());
                out.push(TokenTree::Group(renamed));
            }
            _ => out.push(token.clone()),
        }
    }
    out.into_iter().collect()
}
