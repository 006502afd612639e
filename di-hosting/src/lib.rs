#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings, rust_2018_idioms), allow(dead_code, unused_variables))))]

mod background;
mod builder;
mod error;
mod host;
mod hosted_service;
mod lifetime;
mod options;
mod phase;
mod registration;
mod shutdown;
mod status;
mod tasks;

#[doc(inline)]
pub use self::builder::HostBuilder;
#[doc(inline)]
pub use self::error::{HostError, Phase, ServiceFailure, StopReport};
#[doc(inline)]
pub use self::host::{Host, HostHandle};
#[doc(inline)]
pub use self::hosted_service::{BackgroundService, HostedLifecycleService, HostedService};
#[doc(inline)]
pub use self::lifetime::ApplicationLifetime;
#[doc(inline)]
pub use self::options::{FailurePolicy, HostOptions};
#[doc(inline)]
pub use self::registration::HostingServiceCollectionExt;
#[doc(inline)]
pub use self::status::{HostStatus, ServiceState, ServiceStatus};

/// Re-exported from `tokio-util`: the token every hosted service receives, so you need not
/// depend on `tokio-util` yourself.
pub use tokio_util::sync::CancellationToken;

// ===== background work: timed services, queued work, cron jobs (issue 6) =====

mod work;
// `status.rs` names the metrics by their former module path.

#[doc(inline)]
pub use self::work::cron::{
    Clock, CronJob, CronOptions, CronSchedule, CronTimeZone, MisfirePolicy, SystemClock, TokioClock,
};
#[doc(inline)]
pub use self::work::error::ScheduleError;
#[doc(inline)]
pub use self::work::ext::BackgroundWorkExt;
#[doc(inline)]
pub use self::work::queue::{BackgroundTaskQueue, BoundedTaskQueue, WorkContext, WorkItem};
#[doc(inline)]
pub use self::work::queued::{QueueOptions, QueueStopPolicy};
#[doc(inline)]
pub use self::work::timed::{MissedTickPolicy, TimedOptions, TimedTask};
#[doc(inline)]
pub use self::work::unit::WorkMetrics;
