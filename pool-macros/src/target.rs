//! The function an attribute is put on: checked for what the attributes can wrap, and
//! split into signature and body. Also recognises a method already expanded by an
//! impl-level `#[async_trait]` (a plain `fn` returning `Box::pin(async move { .. })`),
//! the way `tracing-attributes` does.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{
    Attribute, Block, Expr, ExprAsync, ExprCall, GenericArgument, Item, PathArguments, ReturnType,
    Signature, Stmt, Type, TypeParamBound, Visibility, parse::ParseStream, spanned::Spanned,
    token::Brace,
};

/// A function one of the attributes can wrap.
pub(crate) struct Target {
    /// Outer attributes other than the one being expanded.
    pub(crate) attrs: Vec<Attribute>,
    /// Inner attributes (`#![allow(..)]`) at the top of the body: they stay inside the
    /// generated function's body, where they apply to the whole function as written.
    pub(crate) inner_attrs: Vec<Attribute>,
    /// The braces of the body as written, so the generated body keeps their span.
    pub(crate) brace: Brace,
    /// Its visibility.
    pub(crate) vis: Visibility,
    /// Its signature, as written (or as `#[async_trait]` rewrote it).
    pub(crate) sig: Signature,
    /// Its body.
    pub(crate) body: Body,
    /// The type the future resolves to: `Result<T, E>`.
    pub(crate) output: Type,
}

/// Where the work of the function is.
pub(crate) enum Body {
    /// An `async fn`'s block.
    Async(UserBlock),
    /// The `async move` block an impl-level `#[async_trait]` produced: `stmts` before it,
    /// the block itself, and the `Box::pin` call around it (kept, with its path).
    AsyncTrait {
        /// Statements before the `Box::pin(..)` expression (normally none).
        before: Vec<Stmt>,
        /// The `Box::pin` path as written.
        pin: Box<Expr>,
        /// The async block's contents.
        inner: Box<Block>,
    },
}

/// The statements of an `async fn`'s body in their braces (inner attributes apart). When
/// the body does not parse, its tokens as written: the expansion goes on around them, so
/// rustc reports the syntax error, once, and callers still see the generated signature.
pub(crate) struct UserBlock {
    /// The body's braces.
    pub(crate) brace: Brace,
    /// The statements, parsed or not.
    pub(crate) stmts: TokenStream,
}

impl ToTokens for UserBlock {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.brace
            .surround(tokens, |tokens| self.stmts.to_tokens(tokens));
    }
}

/// A function read without parsing its body.
struct RawFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    brace: Brace,
    body: TokenStream,
}

/// The body of a function, parsed: inner attributes, then statements.
struct ParsedBody {
    inner_attrs: Vec<Attribute>,
    stmts: Vec<Stmt>,
}

/// The body of a function whose statements do not parse: its inner attributes, which
/// still go to the top of the generated body, and the rest of its tokens as written.
struct UnparsedBody {
    inner_attrs: Vec<Attribute>,
    rest: TokenStream,
}

fn parse_unparsed_body(input: ParseStream<'_>) -> syn::Result<UnparsedBody> {
    Ok(UnparsedBody {
        inner_attrs: input.call(Attribute::parse_inner)?,
        rest: input.parse()?,
    })
}

fn parse_raw_fn(input: ParseStream<'_>) -> syn::Result<RawFn> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis = input.parse()?;
    let sig = input.parse()?;
    let content;
    let brace = syn::braced!(content in input);
    let body = content.parse()?;
    Ok(RawFn {
        attrs,
        vis,
        sig,
        brace,
        body,
    })
}

fn parse_body(input: ParseStream<'_>) -> syn::Result<ParsedBody> {
    Ok(ParsedBody {
        inner_attrs: input.call(Attribute::parse_inner)?,
        stmts: input.call(Block::parse_within)?,
    })
}

/// Why `item`, which is not a function with a body, cannot carry `attribute`.
fn not_a_function(item: TokenStream, attribute: &str) -> syn::Error {
    let item: Item = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => return error,
    };
    match item {
        Item::Fn(function) => not_a_fn(function.sig.fn_token.span, attribute, "this function"),
        Item::Verbatim(tokens) => match syn::parse2::<syn::TraitItemFn>(tokens.clone()) {
            Ok(decl) => syn::Error::new(
                decl.sig.span(),
                format!("`#[{attribute}]` needs a function with a body"),
            ),
            Err(_) => not_a_fn(tokens.span(), attribute, "this item"),
        },
        other => {
            let kind = item_kind(&other);
            not_a_fn(first_token_span(&other), attribute, kind)
        }
    }
}

// Input: the item under the attribute, as tokens.
// Output: its outer attributes, visibility, signature, inner attributes, the body's
// braces and statements (its raw tokens when they do not parse), and the `Result` type
// the function returns; or an error on the token that makes it unwrappable.
/// Parses and checks the item `attribute` was put on.
pub(crate) fn parse(item: TokenStream, attribute: &str) -> syn::Result<Target> {
    let function = match syn::parse::Parser::parse2(parse_raw_fn, item.clone()) {
        Ok(function) => function,
        Err(_) => return Err(not_a_function(item, attribute)),
    };
    let parsed = syn::parse::Parser::parse2(parse_body, function.body.clone()).ok();
    let unparsed = match parsed {
        Some(_) => None,
        None => syn::parse::Parser::parse2(parse_unparsed_body, function.body.clone()).ok(),
    };
    let sig = function.sig;
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            format!("`#[{attribute}]` cannot wrap a `const fn`: it awaits I/O at run time"),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        return Err(syn::Error::new(
            unsafety.span(),
            format!(
                "`#[{attribute}]` cannot wrap an `unsafe fn`: the policy would call it from safe \
                 code; make the function safe and keep the `unsafe` block inside it"
            ),
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new(
            abi.span(),
            format!("`#[{attribute}]` cannot wrap an `extern` function"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new(
            variadic.span(),
            format!("`#[{attribute}]` cannot wrap a variadic function"),
        ));
    }
    let (body, output) = if sig.asyncness.is_some() {
        let output = match &sig.output {
            ReturnType::Type(_, ty) => (**ty).clone(),
            ReturnType::Default => {
                return Err(syn::Error::new(
                    sig.paren_token.span.close(),
                    format!(
                        "`#[{attribute}]` needs a function returning `Result<T, E>`; this one \
                         returns `()`"
                    ),
                ));
            }
        };
        let stmts = match &parsed {
            Some(parsed) => {
                let stmts = &parsed.stmts;
                quote::quote!(#(#stmts)*)
            }
            None => unparsed
                .as_ref()
                .map_or_else(|| function.body.clone(), |unparsed| unparsed.rest.clone()),
        };
        let block = UserBlock {
            brace: function.brace,
            stmts,
        };
        (Body::Async(block), output)
    } else if let Some((body, output)) = parsed.as_ref().and_then(|parsed| {
        let block = Block {
            brace_token: function.brace,
            stmts: parsed.stmts.clone(),
        };
        async_trait_body(&sig, &block)
    }) {
        (body, output)
    } else {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!("`#[{attribute}]` only applies to an `async fn`"),
        ));
    };
    if !may_be_result(&output) {
        return Err(syn::Error::new(
            output.span(),
            format!(
                "`#[{attribute}]` needs a function returning `Result<T, E>` (with \
                 `E: Classify + From<Rejected>`)"
            ),
        ));
    }
    let inner_attrs = match (parsed, unparsed) {
        (Some(parsed), _) => parsed.inner_attrs,
        (None, Some(unparsed)) => unparsed.inner_attrs,
        (None, None) => Vec::new(),
    };
    Ok(Target {
        attrs: function.attrs,
        inner_attrs,
        brace: function.brace,
        vis: function.vis,
        sig,
        body,
        output,
    })
}

fn not_a_fn(span: Span, attribute: &str, kind: &str) -> syn::Error {
    syn::Error::new(
        span,
        format!("`#[{attribute}]` applies to an `async fn`, not to {kind}"),
    )
}

fn item_kind(item: &Item) -> &'static str {
    match item {
        Item::Struct(_) => "a struct",
        Item::Enum(_) => "an enum",
        Item::Union(_) => "a union",
        Item::Impl(_) => "an impl block (put it on the methods)",
        Item::Trait(_) => "a trait",
        Item::Mod(_) => "a module",
        Item::Const(_) => "a const",
        Item::Static(_) => "a static",
        Item::Type(_) => "a type alias",
        Item::Use(_) => "a `use`",
        _ => "this item",
    }
}

/// The span of the keyword that says what the item is (`struct`, `enum`, ...).
fn first_token_span(item: &Item) -> Span {
    match item {
        Item::Struct(s) => s.struct_token.span,
        Item::Enum(e) => e.enum_token.span,
        Item::Union(u) => u.union_token.span,
        Item::Impl(i) => i.impl_token.span,
        Item::Trait(t) => t.trait_token.span,
        Item::Mod(m) => m.mod_token.span,
        Item::Const(c) => c.const_token.span,
        Item::Static(s) => s.static_token.span,
        Item::Type(t) => t.type_token.span,
        other => other.span(),
    }
}

/// Whether `ty` can be a `Result`: a path (`Result<T, E>` or any alias of one); whether
/// it is one is the compiler's to check, through `ReturnsResult`.
fn may_be_result(ty: &Type) -> bool {
    match ty {
        Type::Path(_) => true,
        Type::Group(group) => may_be_result(&group.elem),
        Type::Paren(paren) => may_be_result(&paren.elem),
        _ => false,
    }
}

/// The `E` of `Result<T, E>`, when written out as that (an alias's parameters may mean
/// anything, so only a path ending in `Result` with two types counts).
pub(crate) fn error_type(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Group(group) => error_type(&group.elem),
        Type::Paren(paren) => error_type(&paren.elem),
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            if last.ident != "Result" {
                return None;
            }
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            let mut types = args.args.iter().filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            });
            let _ok = types.next()?;
            let error = types.next()?;
            types.next().is_none().then_some(error)
        }
        _ => None,
    }
}

/// Recognises `fn f(..) -> Pin<Box<dyn Future<Output = R> + Send + 'async_trait>> {
/// Box::pin(async move { .. }) }`, which is what `#[async_trait]` makes of an `async fn`.
fn async_trait_body(sig: &Signature, block: &Block) -> Option<(Body, Type)> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    let output = future_output(ty)?;
    let (last, before) = block.stmts.split_last()?;
    let Stmt::Expr(Expr::Call(ExprCall { func, args, .. }), None) = last else {
        return None;
    };
    let Expr::Path(path) = &**func else {
        return None;
    };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || args.len() != 1 {
        return None;
    }
    let Some(Expr::Async(ExprAsync {
        capture: Some(_),
        block: inner,
        ..
    })) = args.first()
    else {
        return None;
    };
    Some((
        Body::AsyncTrait {
            before: before.to_vec(),
            pin: func.clone(),
            inner: Box::new(inner.clone()),
        },
        output,
    ))
}

/// `R` in `Pin<Box<dyn Future<Output = R> + ..>>`.
fn future_output(ty: &Type) -> Option<Type> {
    match ty {
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(inner) => future_output(inner),
                _ => None,
            })
        }
        Type::TraitObject(object) => object.bounds.iter().find_map(|bound| {
            let TypeParamBound::Trait(bound) = bound else {
                return None;
            };
            let last = bound.path.segments.last()?;
            if last.ident != "Future" {
                return None;
            }
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            args.args.iter().find_map(|arg| match arg {
                GenericArgument::AssocType(assoc) if assoc.ident == "Output" => {
                    Some(assoc.ty.clone())
                }
                _ => None,
            })
        }),
        Type::Group(group) => future_output(&group.elem),
        Type::Paren(paren) => future_output(&paren.elem),
        _ => None,
    }
}

impl Target {
    /// Prints the function back with a new signature and body.
    pub(crate) fn emit(&self, sig: &Signature, body: TokenStream) -> TokenStream {
        let mut out = TokenStream::new();
        for attr in &self.attrs {
            attr.to_tokens(&mut out);
        }
        self.vis.to_tokens(&mut out);
        sig.to_tokens(&mut out);
        self.brace.surround(&mut out, |out| {
            for attr in &self.inner_attrs {
                attr.to_tokens(out);
            }
            body.to_tokens(out);
        });
        out
    }
}

/// The error, followed by the item as written (so a mistake in the attribute is not
/// followed by "cannot find function" and unused-import noise), unless the item itself
/// would add errors of its own.
pub(crate) fn on_error(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = error.into_compile_error();
    let reemit = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function.sig.variadic.is_none(),
        Ok(Item::Verbatim(_)) => false,
        Ok(_) => true,
        // A function whose body does not parse: printed back so callers still find it,
        // and rustc reports the syntax error itself.
        Err(_) => syn::parse::Parser::parse2(parse_raw_fn, item.clone())
            .is_ok_and(|function| function.sig.variadic.is_none()),
    };
    if reemit {
        out.extend(item);
    }
    out
}
