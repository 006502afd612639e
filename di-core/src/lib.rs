#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings, rust_2018_idioms), allow(dead_code, unused_variables))))]

mod collection;
mod descriptor;
mod dispose;
mod inject;
mod key;
mod lifetime;
mod options;
mod provider;
mod resolve;
mod scope;
mod validate;

pub mod error;

#[doc(inline)]
pub use self::collection::{IntoArc, Registration, ServiceCollection};
#[doc(inline)]
pub use self::dispose::{AsyncDispose, Dispose};
#[doc(inline)]
pub use self::error::{BuildError, DisposeError, DisposeFailure, ResolutionPath, ResolveError, ValidationError};
#[doc(inline)]
pub use self::inject::{Dependencies, FromProvider};
#[doc(inline)]
pub use self::lifetime::Lifetime;
#[doc(inline)]
pub use self::options::ProviderOptions;
#[doc(inline)]
pub use self::provider::ServiceProvider;
#[doc(inline)]
pub use self::scope::{Scope, ScopeFactory};
