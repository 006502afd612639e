//! Background work: timed services, queued work and cron jobs. Every unit of work (a tick, a
//! queued item, a cron firing) runs in a fresh DI scope, on the host's tasks.

pub(crate) mod cron;
pub(crate) mod error;
pub(crate) mod ext;
pub(crate) mod queue;
pub(crate) mod queued;
pub(crate) mod timed;
pub(crate) mod unit;

#[cfg(test)]
mod tests;
