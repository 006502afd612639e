//! Stop order with background services: background services registered next to each other
//! have their `stopping` tokens cancelled together when the stop phase reaches them, and are
//! awaited together; a hosted service between them still splits them (everything registered after it has returned before its `stop`, and its `stop`
//! has returned before anything registered before it is cancelled).

mod common;

use std::time::Duration;

use common::{Log, Recorder};
use di_hosting::{BackgroundService, CancellationToken, Host, HostingServiceCollectionExt};

/// A background service that, once cancelled, waits for `until` (if any) before returning.
struct Waits {
    name: &'static str,
    log: Log,
    mine: CancellationToken,
    until: Option<CancellationToken>,
}

#[async_trait::async_trait]
impl BackgroundService for Waits {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        stopping.cancelled().await;
        self.log.push(format!("{}:cancelled", self.name));
        self.mine.cancel();
        if let Some(until) = &self.until {
            until.cancelled().await;
        }
        self.log.push(format!("{}:returned", self.name));
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.name
    }
}

/// A host of `services`, started; a shutdown timeout long enough never to be what ends a stop.
async fn started(services: impl FnOnce(&mut di_core::ServiceCollection)) -> Host {
    let host = Host::builder()
        .configure_options(|o| {
            o.suppress_status_messages = true;
            o.shutdown_timeout = Duration::from_secs(30);
        })
        .configure_services(services)
        .build()
        .expect("a valid host");
    host.start().await.expect("starts");
    host
}

#[tokio::test]
async fn adjacent_background_services_are_cancelled_together_and_awaited_together() {
    let log = Log::default();
    let a_cancelled = CancellationToken::new();
    let b_cancelled = CancellationToken::new();
    let c_cancelled = CancellationToken::new();
    let services = {
        let (log, a, b, c) = (log.clone(), a_cancelled.clone(), b_cancelled.clone(), c_cancelled.clone());
        move |s: &mut di_core::ServiceCollection| {
            let (l, mine) = (log.clone(), a.clone());
            s.add_background_service_with(move |_| {
                Ok(Waits { name: "a", log: l.clone(), mine: mine.clone(), until: None })
            });
            // `b` returns only once `a` was cancelled: under a strict one-at-a-time stop it would
            // wait for the shutdown timeout.
            let (l, mine, until) = (log.clone(), b.clone(), a.clone());
            s.add_background_service_with(move |_| {
                Ok(Waits { name: "b", log: l.clone(), mine: mine.clone(), until: Some(until.clone()) })
            });
            let hosted = Recorder::new("h", &log);
            s.add_hosted_service_with(move |_| Ok(hosted.clone()));
            let (l, mine) = (log.clone(), c.clone());
            s.add_background_service_with(move |_| {
                Ok(Waits { name: "c", log: l.clone(), mine: mine.clone(), until: None })
            });
        }
    };
    let host = started(services).await;
    let report = tokio::time::timeout(Duration::from_secs(10), host.stop()).await.expect("the stop does not hang");
    assert!(report.is_success(), "{report}");
    let events: Vec<String> = log
        .events()
        .into_iter()
        .filter(|e| e.ends_with(":cancelled") || e.ends_with(":returned") || e == "h:stop")
        .collect();
    // `c` (after `h`) has returned before `h` stops; `a` and `b` are cancelled only after `h`'s
    // stop, both before `b` returns (it waits for `a`'s cancellation).
    assert_eq!(events[..3], ["c:cancelled", "c:returned", "h:stop"], "{events:?}");
    let position =
        |event: &str| events.iter().position(|e| e == event).unwrap_or_else(|| panic!("{event} in {events:?}"));
    assert!(position("a:cancelled") > position("h:stop"), "{events:?}");
    assert!(position("b:cancelled") > position("h:stop"), "{events:?}");
    assert!(position("a:cancelled") < position("b:returned"), "cancelled together: {events:?}");
    assert!(a_cancelled.is_cancelled() && b_cancelled.is_cancelled() && c_cancelled.is_cancelled());
}

#[tokio::test]
async fn a_background_services_own_stop_in_a_started_host_cancels_it_and_waits_and_the_host_stop_then_skips_it() {
    use std::sync::Arc;

    use di_hosting::{HostedService, ServiceState};

    let log = Log::default();
    let mine = CancellationToken::new();
    let services = {
        let (log, mine) = (log.clone(), mine.clone());
        move |s: &mut di_core::ServiceCollection| {
            let (l, m) = (log.clone(), mine.clone());
            s.add_background_service_with(move |_| {
                Ok(Waits { name: "a", log: l.clone(), mine: m.clone(), until: None })
            });
            let (l, m) = (log.clone(), CancellationToken::new());
            s.add_background_service_with(move |_| {
                Ok(Waits { name: "b", log: l.clone(), mine: m.clone(), until: None })
            });
        }
    };
    let host = started(services).await;
    // The user reaches the adapters as the host does, and stops the first one by hand.
    let hosted = host.provider().resolve::<Vec<Arc<dyn HostedService>>>().expect("the hosted services");
    let stopped = tokio::time::timeout(Duration::from_secs(10), hosted[0].stop(CancellationToken::new()))
        .await
        .expect("its own stop does not hang");
    stopped.expect("stopped");
    assert!(mine.is_cancelled(), "its own stop cancelled its token");
    assert_eq!(log.matching("a:"), ["a:cancelled", "a:returned"], "and waited for `execute` to return");
    assert!(log.matching("b:").is_empty(), "the other one still runs");

    let report = tokio::time::timeout(Duration::from_secs(10), host.stop()).await.expect("the stop does not hang");
    assert!(report.is_success(), "{report}");
    assert_eq!(log.matching("a:"), ["a:cancelled", "a:returned"], "the host's stop did not run it again");
    assert_eq!(log.matching("b:"), ["b:cancelled", "b:returned"], "the host's stop stopped the other");
    let states: Vec<ServiceState> = host.status().services.into_iter().map(|s| s.state).collect();
    assert_eq!(states, [ServiceState::Stopped, ServiceState::Stopped]);
}

#[tokio::test]
async fn the_last_background_services_have_all_returned_before_a_hosted_service_registered_before_them_stops() {
    let log = Log::default();
    let services = {
        let log = log.clone();
        move |s: &mut di_core::ServiceCollection| {
            let hosted = Recorder::new("h", &log);
            s.add_hosted_service_with(move |_| Ok(hosted.clone()));
            for name in ["a", "b", "c"] {
                let l = log.clone();
                s.add_background_service_with(move |_| {
                    // Each takes a while to return once cancelled, so an early `h:stop` would show.
                    Ok(Slow { name, log: l.clone() })
                });
            }
        }
    };
    let host = started(services).await;
    let report = tokio::time::timeout(Duration::from_secs(10), host.stop()).await.expect("the stop does not hang");
    assert!(report.is_success(), "{report}");
    let events: Vec<String> = log.events().into_iter().filter(|e| e.ends_with(":returned") || e == "h:stop").collect();
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(
        events.last().map(String::as_str),
        Some("h:stop"),
        "every background service returned first: {events:?}"
    );
}

/// A background service that takes 50 ms to return once cancelled.
struct Slow {
    name: &'static str,
    log: Log,
}

#[async_trait::async_trait]
impl BackgroundService for Slow {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        stopping.cancelled().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.log.push(format!("{}:returned", self.name));
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.name
    }
}
