#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings, rust_2018_idioms), allow(dead_code, unused_variables))))]

mod collection;
mod descriptor;
mod dispose;
mod inject;
mod instance;
mod key;
mod lifetime;
mod options;
mod provider;
mod registry;
mod resolve;
mod scope;
mod sync;
mod type_table;
mod validate;

pub mod error;

#[doc(inline)]
pub use self::collection::{IntoArc, Iter, KeyedServices, Registration, ServiceCollection, ServiceInfo, Source};
#[doc(inline)]
pub use self::dispose::{AsyncDispose, Dispose};
#[doc(inline)]
pub use self::error::{
    BoxError, BuildError, DisposeError, DisposeFailure, ResolutionPath, ResolveError, ValidationError,
};
#[doc(inline)]
pub use self::inject::{Dependencies, FromProvider, Provides};
#[doc(inline)]
pub use self::key::{AnyKey, Key};
#[doc(inline)]
pub use self::lifetime::Lifetime;
#[doc(inline)]
pub use self::options::ProviderOptions;
#[doc(inline)]
pub use self::provider::ServiceProvider;
#[doc(inline)]
pub use self::resolve::{KeyedLookup, Resolvable, Resolver};
#[doc(inline)]
pub use self::scope::{Scope, ScopeFactory};

#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
#[doc = include_str!("docs/injectable.md")]
pub use di_core_derive::Injectable;

#[doc(hidden)] // used by the code `di-core-derive` generates; not public API
pub mod __private {
    pub use std::result::Result;
    pub use std::sync::Arc;

    pub use crate::error::BoxError;
}
