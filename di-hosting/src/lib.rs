#![doc = "An application host for di-core."]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod hosted_service;

#[doc(inline)]
pub use self::hosted_service::{BackgroundService, HostedService};

/// Re-exported from `tokio-util`: the token every hosted service receives.
pub use tokio_util::sync::CancellationToken;
