//! Pieces of generated code both attributes use.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::{
    Type, TypeInfer,
    spanned::Spanned,
    visit_mut::{self, VisitMut},
};

/// A local of the generated code, in the macro's own hygiene (`Span::mixed_site()`): a
/// user's argument or variable of the same name neither sees it nor is shadowed by it.
pub(crate) fn local(name: &str) -> proc_macro2::Ident {
    proc_macro2::Ident::new(name, proc_macro2::Span::mixed_site())
}

/// [`local`], reported at `span`: for a local inside code spanned on the user's token a
/// diagnostic is about, so the whole expression points there, once.
pub(crate) fn local_at(name: &str, span: proc_macro2::Span) -> proc_macro2::Ident {
    proc_macro2::Ident::new(name, proc_macro2::Span::mixed_site().located_at(span))
}

// Input: `DbResult<User>` (an alias), or `Result<User, DbError>` (spelled out).
// Output: `Result<<DbResult<User> as ReturnsResult>::Ok, <.. as ReturnsResult>::Err>`, or
// the type as written. Through the trait, a return type that is no `Result` is one error
// on it (`ReturnsResult` is not implemented), and the code around the body, which then
// sees only error types, adds none.
/// The type an attempt of the body resolves to.
pub(crate) fn attempt_output(output: &Type, krate: &TokenStream) -> Type {
    if crate::target::error_type(output).is_some() {
        return output.clone();
    }
    let ok = through_returns_result(output, krate, "Ok");
    let err = through_returns_result(output, krate, "Err");
    syn::parse_quote!(::core::result::Result<#ok, #err>)
}

/// `<output as ReturnsResult>::item`, every token on the first token of `output` (the
/// name of the type): each use then reports a non-`Result` at the same place, and rustc
/// reports it once.
pub(crate) fn through_returns_result(
    output: &Type,
    krate: &TokenStream,
    item: &str,
) -> TokenStream {
    let span = type_name_span(output);
    let item = proc_macro2::Ident::new(item, span);
    respan(
        quote!(<#output as #krate::__private::ReturnsResult>::#item),
        span,
    )
}

/// `tokens`, groups included, all on `span`.
fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            proc_macro2::TokenTree::Group(group) => {
                let mut respanned =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                proc_macro2::TokenTree::Group(respanned)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// The span of the first token of `ty`: its name.
fn type_name_span(ty: &Type) -> proc_macro2::Span {
    ty.to_token_stream()
        .into_iter()
        .next()
        .map_or_else(|| ty.span(), |token| token.span())
}

/// `value`, of the function's `output`, as the [`attempt_output`] the generated code
/// handles: the same value, through `ReturnsResult` when the type is not spelled out.
fn into_attempt_output(output: &Type, krate: &TokenStream, value: TokenStream) -> TokenStream {
    if crate::target::error_type(output).is_some() {
        return value;
    }
    let into_result = through_returns_result(output, krate, "into_result");
    let span = type_name_span(output);
    quote_spanned!(span=> #into_result(#value))
}

// Input: statements ending in the call's `Result` (the attempt loop, the checkout).
// Output: `<DbResult<User> as ReturnsResult>::from_result({ .. })` when the return type is
// an alias; the statements as they are when it is spelled `Result<T, E>`.
/// The generated body's statements, giving back the function's `output`.
pub(crate) fn deliver_output(
    output: &Type,
    krate: &TokenStream,
    stmts: TokenStream,
) -> TokenStream {
    if crate::target::error_type(output).is_some() {
        return stmts;
    }
    let from_result = through_returns_result(output, krate, "from_result");
    let span = type_name_span(output);
    quote_spanned!(span=> #from_result({ #stmts }))
}

/// `output` as it can be written inside the body: `impl Trait` (allowed in a return type,
/// not in a `let`) becomes `_`.
fn nameable(output: &Type) -> Type {
    struct ImplToInfer;
    impl VisitMut for ImplToInfer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
            } else {
                visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut output = output.clone();
    ImplToInfer.visit_type_mut(&mut output);
    output
}

// Input: statements yielding `Result<User, E>`.
// Output: `async { if let Some(__pool_ret) = None::<Result<User, E>> { return __pool_ret; }
// <stmts> }`.
/// An async block whose output is fixed to `output`, so `?` and `return` inside `stmts`
/// end the block (one attempt, one checkout) and convert errors into the right type.
/// The same trick as `async-trait`: an unreachable early `return` names the type.
pub(crate) fn typed_async(output: &Type, stmts: TokenStream) -> TokenStream {
    let output = nameable(output);
    let __pool_ret = local("__pool_ret");
    quote! {
        async {
            if let ::core::option::Option::Some(#__pool_ret) =
                ::core::option::Option::None::<#output>
            {
                #[allow(unreachable_code)]
                return #__pool_ret;
            }
            #stmts
        }
    }
}

// Input: the user's block `{ #![allow(..)] .. }` and its return type.
// Output: `let __pool_ret: Result<User, E> = { .. }; __pool_ret` (through `ReturnsResult`
// for an alias), so `?` and `return` in the block end the attempt.
/// The user's block as statements yielding `output`.
pub(crate) fn user_stmts(
    output: &Type,
    krate: &TokenStream,
    block: &crate::target::UserBlock,
) -> TokenStream {
    let written = nameable(output);
    let __pool_ret = local("__pool_ret");
    let value = into_attempt_output(output, krate, quote!(#__pool_ret));
    quote! {
        let #__pool_ret: #written = #block;
        #[allow(unreachable_code)]
        #value
    }
}
