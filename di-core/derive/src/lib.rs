//! Derive macros for `di-core`: `#[derive(Injectable)]` for constructor injection.
//!
//! Use them through `di_core` with the `derive` feature (`di_core::Injectable`); the full guide
//! and the examples live there. The generated code names only `::di_core` paths (or the path
//! given with `#[injectable(crate = ...)]`), so a user crate needs no other dependency.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Field, Fields, Path, Token, Type, parse_macro_input};

/// Makes a struct constructible by the container: implements `di_core::FromProvider`, which
/// resolves every field from the provider and declares each as a dependency, so `build()`
/// validates the graph before anything runs.
///
/// Each field is resolved by its type, as `Resolver::resolve` does: `Arc<T>` (required),
/// `Option<Arc<T>>` (optional), `Vec<Arc<T>>` (every registration), `Arc<ServiceProvider>`;
/// `#[inject(key = EXPR)]` resolves a keyed registration; `#[inject(default)]` fills the field
/// with `Default::default()`. On the struct, `#[injectable(provides(dyn Trait, ...))]`
/// implements `di_core::Provides` so the type can be registered as each trait with
/// `Source::implemented_by`.
///
/// # Examples
///
/// See `di_core::Injectable`, where the examples run as doctests.
///
/// ```ignore
/// #[derive(di_core::Injectable)]
/// #[injectable(provides(dyn EmployeeDb))]
/// struct SqliteEmployeeDb {
///     pool: Arc<Pool>,
///     #[inject(key = "audit")]
///     audit: Arc<dyn Log>,
/// }
/// ```
#[proc_macro_derive(Injectable, attributes(inject, injectable))]
pub fn derive_injectable(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// How a field is filled.
enum Source {
    /// Resolved by its type (`di_core::Resolvable`), with an optional key.
    Inject { key: Option<Box<Expr>> },
    /// `#[inject(default)]`.
    Default,
}

/// Options on the struct: `#[injectable(provides(..), crate = path)]`.
struct StructOptions {
    provides: Vec<Type>,
    krate: Path,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span,
                "`Injectable` can only be derived for structs; implement `di_core::FromProvider` by hand for an enum",
            ));
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "`Injectable` can only be derived for structs; implement `di_core::FromProvider` by hand for a union",
            ));
        }
    };
    let options = struct_options(input)?;
    let krate = &options.krate;

    let mut errors: Option<syn::Error> = None;
    let mut inits = Vec::new();
    let mut declarations = Vec::new();
    for field in fields {
        match field_source(field) {
            Ok(source) => {
                inits.push(init(krate, field, &source));
                declarations.extend(declare(field, &source));
            }
            // Every bad field is reported, not just the first.
            Err(e) => match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            },
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }

    let construct = match fields {
        Fields::Named(_) => quote!(Self { #(#inits),* }),
        Fields::Unnamed(_) => quote!(Self( #(#inits),* )),
        Fields::Unit => quote!(Self),
    };
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let provides = options.provides.iter().map(|service| {
        quote_spanned! {service.span()=>
            #[automatically_derived]
            impl #impl_generics #krate::Provides<#service> for #name #ty_generics #where_clause {
                fn provide(self: #krate::__private::Arc<Self>) -> #krate::__private::Arc<#service> {
                    self
                }
            }
        }
    });
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::FromProvider for #name #ty_generics #where_clause {
            fn from_provider(
                __di_provider: &#krate::Resolver<'_>,
            ) -> #krate::__private::Result<Self, #krate::__private::BoxError> {
                ::core::result::Result::Ok(#construct)
            }

            fn dependencies(__di_deps: &mut #krate::Dependencies) {
                #(#declarations)*
            }
        }
        #(#provides)*
    })
}

fn struct_options(input: &DeriveInput) -> syn::Result<StructOptions> {
    let mut options = StructOptions { provides: Vec::new(), krate: syn::parse_quote!(::di_core) };
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("injectable")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("provides") {
                let content;
                syn::parenthesized!(content in meta.input);
                let types = Punctuated::<Type, Token![,]>::parse_terminated(&content)?;
                if types.is_empty() {
                    return Err(meta.error(
                        "`provides` needs at least one service type: write `#[injectable(provides(dyn MyTrait))]`",
                    ));
                }
                options.provides.extend(types);
                Ok(())
            } else if meta.path.is_ident("crate") {
                options.krate = meta.value()?.parse()?;
                Ok(())
            } else {
                Err(meta.error(
                    "unknown `injectable` option: expected `provides(dyn Trait, ...)` or `crate = path::to::di_core`",
                ))
            }
        })?;
    }
    Ok(options)
}

fn field_source(field: &Field) -> syn::Result<Source> {
    let mut key: Option<Box<Expr>> = None;
    let mut default: Option<Span> = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("inject")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("key") {
                if key.is_some() {
                    return Err(meta.error("`key` is given twice: keep one `#[inject(key = ...)]`"));
                }
                if !meta.input.peek(Token![=]) {
                    return Err(meta.error("`key` needs a value: write `#[inject(key = \"primary\")]`"));
                }
                key = Some(Box::new(meta.value()?.parse()?));
                Ok(())
            } else if meta.path.is_ident("default") {
                default = Some(meta.path.span());
                Ok(())
            } else {
                Err(meta.error(
                    "unknown `inject` option: expected `key = EXPR` (a keyed service) or `default` (fill with `Default::default()`)",
                ))
            }
        })?;
    }
    if let Some(span) = default {
        if key.is_some() {
            return Err(syn::Error::new(
                span,
                "a field is either resolved by key or filled with `Default::default()`: remove `key` or `default`",
            ));
        }
        return Ok(Source::Default);
    }
    // The field's type is checked by the `Resolvable` bound: a type that cannot be resolved
    // is reported at the field, with what to write instead.
    Ok(Source::Inject { key })
}

fn init(krate: &Path, field: &Field, source: &Source) -> TokenStream2 {
    let value = match source {
        Source::Default => {
            // Spanned on the type, so a type without `Default` is reported at the field.
            let ty = &field.ty;
            quote_spanned!(ty.span()=> <#ty as ::core::default::Default>::default())
        }
        Source::Inject { key: None } => {
            let ty = &field.ty;
            quote_spanned!(ty.span()=> #krate::Resolver::resolve::<#ty>(__di_provider)?)
        }
        Source::Inject { key: Some(key) } => {
            let ty = &field.ty;
            quote_spanned!(ty.span()=> #krate::Resolver::keyed(__di_provider, &(#key)).resolve::<#ty>()?)
        }
    };
    match &field.ident {
        Some(name) => quote!(#name: #value),
        None => value,
    }
}

fn declare(field: &Field, source: &Source) -> Option<TokenStream2> {
    let Source::Inject { key } = source else { return None };
    let ty = &field.ty;
    Some(match key {
        None => quote_spanned!(ty.span()=> __di_deps.add::<#ty>();),
        Some(key) => quote_spanned!(ty.span()=> __di_deps.add_keyed::<#ty, _>(#key);),
    })
}
