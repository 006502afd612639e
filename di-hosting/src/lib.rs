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

// ===== background work: timed services, queued work, cron jobs (issue 6) =====

mod cron;
mod queue;
mod schedule_error;
mod timed;
mod unit_of_work;
mod work_ext;

#[doc(inline)]
pub use self::cron::{Clock, CronJob, CronOptions, CronSchedule, CronTimeZone, MisfirePolicy, SystemClock, TokioClock};
#[doc(inline)]
pub use self::queue::{BackgroundTaskQueue, BoundedTaskQueue, QueueOptions, WorkContext, WorkItem};
#[doc(inline)]
pub use self::schedule_error::ScheduleError;
#[doc(inline)]
pub use self::timed::{MissedTickPolicy, TimedOptions, TimedTask};
#[doc(inline)]
pub use self::unit_of_work::{FailurePolicy, WorkMetrics};
#[doc(inline)]
pub use self::work_ext::BackgroundWorkExt;
