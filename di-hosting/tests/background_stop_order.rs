//! Stop order with background services: background services registered next to each other
//! have their `stopping` tokens cancelled together when the stop phase reaches them, and are
//! awaited one by one in reverse registration order; a hosted service between them still
//! splits them (everything registered after it has returned before its `stop`, and its `stop`
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

#[tokio::test]
async fn adjacent_background_services_are_cancelled_together_and_awaited_in_reverse() {
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
    let host = Host::builder()
        .configure_options(|o| {
            o.suppress_status_messages = true;
            o.shutdown_timeout = Duration::from_secs(30);
        })
        .configure_services(services)
        .build()
        .expect("a valid host");
    host.start().await.expect("starts");
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
