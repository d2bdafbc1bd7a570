//! The `key = value, flag, ...` list inside an attribute, read into spanned values.
//! Each attribute then takes what it knows from it (`resilient::args`, `pooled::args`).

use std::time::Duration;

use proc_macro2::Span;
use syn::{
    Expr, ExprLit, ExprUnary, Ident, Lit, Token, UnOp,
    ext::IdentExt,
    parse::{Parse, ParseStream},
    punctuated::Punctuated,
    spanned::Spanned,
};

use crate::duration;
use pool_suggest::{closest, code_distance};

/// One `key` or `key = value` of an attribute.
pub(crate) struct Arg {
    /// The key, with its span.
    pub(crate) key: Ident,
    /// The value, `None` for a bare flag.
    pub(crate) value: Option<Expr>,
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `crate` is a keyword but a valid key here.
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Arg { key, value })
    }
}

/// The arguments of an attribute, keys checked against what the attribute accepts.
pub(crate) struct Args {
    args: Vec<Arg>,
}

impl Args {
    /// Parses `tokens`, rejecting unknown keys (suggesting the nearest known one) and
    /// repeated keys (pointing at the repetition).
    pub(crate) fn parse(
        tokens: proc_macro2::TokenStream,
        attribute: &str,
        known: &[&str],
    ) -> syn::Result<Self> {
        let list =
            syn::parse::Parser::parse2(Punctuated::<Arg, Token![,]>::parse_terminated, tokens)?;
        let mut args: Vec<Arg> = Vec::with_capacity(list.len());
        let mut errors: Option<syn::Error> = None;
        let mut push = |error: syn::Error| match &mut errors {
            Some(errors) => errors.combine(error),
            None => errors = Some(error),
        };
        for arg in list {
            let name = arg.key.unraw().to_string();
            if !known.contains(&name.as_str()) {
                let mut message = format!("unknown key `{name}` in `#[{attribute}]`");
                match closest(&name, known, code_distance) {
                    Some(near) => message.push_str(&format!("; did you mean `{near}`?")),
                    None => message.push_str(&format!("; expected one of: {}", known.join(", "))),
                }
                push(syn::Error::new(arg.key.span(), message));
            } else if let Some(first) = args.iter().find(|seen| seen.key == arg.key) {
                let mut error = syn::Error::new(
                    arg.key.span(),
                    format!("duplicate key `{name}` in `#[{attribute}]`"),
                );
                error.combine(syn::Error::new(first.key.span(), "first given here"));
                push(error);
            } else {
                args.push(arg);
            }
        }
        match errors {
            Some(errors) => Err(errors),
            None => Ok(Args { args }),
        }
    }

    /// The argument called `key`, if given.
    pub(crate) fn get(&self, key: &str) -> Option<&Arg> {
        self.args.iter().find(|arg| arg.key == key)
    }
}

impl Arg {
    /// The value, or an error saying the key needs one.
    fn value(&self, what: &str) -> syn::Result<&Expr> {
        self.value.as_ref().ok_or_else(|| {
            syn::Error::new(
                self.key.span(),
                format!("`{}` needs a value: `{} = {what}`", self.key, self.key),
            )
        })
    }

    fn wrong_type(&self, expr: &Expr, what: &str) -> syn::Error {
        let found = match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(_), ..
            }) => "a string",
            Expr::Lit(ExprLit {
                lit: Lit::Int(_), ..
            }) => "an integer",
            Expr::Lit(ExprLit {
                lit: Lit::Bool(_), ..
            }) => "a boolean",
            Expr::Lit(ExprLit {
                lit: Lit::Float(_), ..
            }) => "a float",
            Expr::Path(_) => "a path",
            _ => "an expression",
        };
        syn::Error::new(
            expr.span(),
            format!("`{}` expects {what}, found {found}", self.key),
        )
    }

    /// An integer in `min..=max`.
    pub(crate) fn int(&self, min: u64, max: u64, unit: &str) -> syn::Result<u64> {
        let expr = self.value("<integer>")?;
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => {
                let value: u64 = int.base10_parse().map_err(|_| {
                    syn::Error::new(int.span(), format!("`{}` is far too large", self.key))
                })?;
                if value < min {
                    return Err(syn::Error::new(
                        int.span(),
                        format!("`{}` must be at least {min}", self.key),
                    ));
                }
                if value > max {
                    return Err(syn::Error::new(
                        int.span(),
                        format!(
                            "`{} = {value}` is not a sensible {unit}: the limit is {max}",
                            self.key
                        ),
                    ));
                }
                Ok(value)
            }
            Expr::Unary(ExprUnary {
                op: UnOp::Neg(_), ..
            }) => Err(syn::Error::new(
                expr.span(),
                format!("`{}` cannot be negative", self.key),
            )),
            _ => Err(self.wrong_type(expr, "an integer")),
        }
    }

    /// A string literal's value and span.
    pub(crate) fn string(&self) -> syn::Result<(String, Span)> {
        let expr = self.value("\"...\"")?;
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok((s.value(), s.span())),
            _ => Err(self.wrong_type(expr, "a string")),
        }
    }

    /// A boolean: a bare flag is `true`.
    pub(crate) fn boolean(&self) -> syn::Result<bool> {
        match &self.value {
            None => Ok(true),
            Some(Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            })) => Ok(b.value),
            Some(expr) => Err(self.wrong_type(expr, "`true` or `false`")),
        }
    }

    /// A path (`some::module::NAME`).
    pub(crate) fn path(&self) -> syn::Result<syn::Path> {
        let expr = self.value("path::to::item")?;
        match expr {
            Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
                Ok(path.path.clone())
            }
            _ => Err(self.wrong_type(expr, "a path")),
        }
    }

    /// A duration string, parsed now; zero is refused.
    pub(crate) fn duration(&self) -> syn::Result<(Duration, Span)> {
        let expr = self.value("\"250ms\"")?;
        let (text, span) = match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => (s.value(), s.span()),
            Expr::Lit(ExprLit {
                lit: Lit::Int(_), ..
            }) => {
                return Err(syn::Error::new(
                    expr.span(),
                    format!(
                        "`{}` expects a duration string with a unit, e.g. \"250ms\" or \"2s\"",
                        self.key
                    ),
                ));
            }
            _ => return Err(self.wrong_type(expr, "a duration string such as \"2s\"")),
        };
        let duration = duration::parse(&text)
            .map_err(|problem| syn::Error::new(span, format!("`{}`: {problem}", self.key)))?;
        if duration.is_zero() {
            return Err(syn::Error::new(
                span,
                format!("`{}` must be longer than zero", self.key),
            ));
        }
        Ok((duration, span))
    }

    /// A string from a fixed set of choices.
    pub(crate) fn choice<T: Copy>(&self, choices: &[(&str, T)]) -> syn::Result<T> {
        let (value, span) = self.string()?;
        if let Some((_, choice)) = choices.iter().find(|(name, _)| *name == value) {
            return Ok(*choice);
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let mut message = format!(
            "`{}` must be one of {}",
            self.key,
            names
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(near) = closest(&value, &names, code_distance) {
            message.push_str(&format!("; did you mean \"{near}\"?"));
        }
        Err(syn::Error::new(span, message))
    }
}
