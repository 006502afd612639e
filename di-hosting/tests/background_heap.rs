//! Live heap per started background service, next to tokio-util's recipe by hand (a child token
//! and a tracked task per service) in the same run. Heap bytes are counted, not timed, so the
//! comparison is deterministic enough for a test; `--nocapture` prints both figures.
//!
//! Each figure is the live heap after starting 100 services minus that after starting none,
//! divided by 100: the host's (and the runtime's) fixed costs cancel out.

use async_trait::async_trait;
use di_hosting::{BackgroundService, CancellationToken, Host, HostingServiceCollectionExt};
use tokio_util::task::TaskTracker;

const SERVICES: usize = 100;

struct Waits;

#[async_trait]
impl BackgroundService for Waits {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        stopping.cancelled().await;
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Lets every spawned task run to its first wait.
async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

/// Live heap bytes after building a host with `count` background services (when `build` is set,
/// the registrations and the container are counted too) and starting it.
fn host_bytes(rt: &tokio::runtime::Runtime, count: usize, count_build: bool) -> i64 {
    let build = || {
        Host::builder()
            .configure_options(|o| o.suppress_status_messages = true)
            .configure_services(|s| {
                for _ in 0..count {
                    s.add_background_service_with(|_| Ok(Waits));
                }
            })
            .build()
            .expect("a valid host")
    };
    let mut host = None;
    let mut built = (!count_build).then(build);
    let info = allocation_counter::measure(|| {
        let started = built.take().unwrap_or_else(build);
        rt.block_on(async {
            started.start().await.expect("starts");
            settle().await;
        });
        host = Some(started);
    });
    let host = host.expect("measured");
    let report = rt.block_on(host.stop());
    assert!(report.is_success(), "{report}");
    info.bytes_current
}

/// Live heap bytes after the same by hand: a root token and a tracker, then per service a child
/// token and a tracked task that waits for it.
fn plain_bytes(rt: &tokio::runtime::Runtime, count: usize) -> i64 {
    let mut kept = None;
    let info = allocation_counter::measure(|| {
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        rt.block_on(async {
            for _ in 0..count {
                let child = token.child_token();
                tracker.spawn(async move { child.cancelled().await });
            }
            settle().await;
        });
        kept = Some((token, tracker));
    });
    let (token, tracker) = kept.expect("measured");
    token.cancel();
    tracker.close();
    rt.block_on(tracker.wait());
    info.bytes_current
}

fn per_service(with: i64, without: i64) -> f64 {
    (with - without) as f64 / SERVICES as f64
}

#[test]
#[allow(clippy::print_stdout, reason = "the figures are the point: run with --nocapture")]
fn heap_per_started_background_service_is_at_most_twice_plain_tokio() {
    let rt = runtime();
    // Warm-up: one-time allocations (tracing callsites, the runtime's queues) are not per service.
    host_bytes(&rt, SERVICES, true);
    plain_bytes(&rt, SERVICES);

    let plain = per_service(plain_bytes(&rt, SERVICES), plain_bytes(&rt, 0));
    let started = per_service(host_bytes(&rt, SERVICES, false), host_bytes(&rt, 0, false));
    let registered = per_service(host_bytes(&rt, SERVICES, true), host_bytes(&rt, 0, true));
    println!("live heap per background service, {SERVICES} started:");
    println!("  plain tokio (child token + tracked task): {plain:>7.0} bytes");
    println!("  host, start only:                         {started:>7.0} bytes ({:.2}x)", started / plain);
    println!("  host, registration + build + start:       {registered:>7.0} bytes ({:.2}x)", registered / plain);
    assert!(plain > 0.0, "the baseline allocates per service");
    assert!(started <= 2.0 * plain, "start: {started:.0} bytes per service, plain tokio {plain:.0}");
}
