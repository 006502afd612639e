#![doc = "An application host for di-core."]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod hosted_service;
mod lifetime;

#[doc(inline)]
pub use self::hosted_service::{BackgroundService, HostedService};
#[doc(inline)]
pub use self::lifetime::ApplicationLifetime;

/// Re-exported from `tokio-util`: the token every hosted service receives.
pub use tokio_util::sync::CancellationToken;
