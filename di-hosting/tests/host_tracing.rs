//! What the host logs: the console status lines (or nothing when suppressed), a span named after
//! each hosted service around every phase, and background failures at error level with the
//! service's name (reference rows H93, H97, H98).

mod common;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use common::{Log, Recorder, host_with};
use di_hosting::{BackgroundService, CancellationToken, Host, HostingServiceCollectionExt};
use tracing::field::{Field, Visit};
use tracing::span::Attributes;
use tracing::{Event, Id, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// Every span as `span <name> <fields>` and every event as `<LEVEL> <message> <fields>`.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.others.push(format!("{}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.others.push(format!("{}={value}", field.name()));
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        self.0.lock().expect("lock").push(format!("span {} {}", attrs.metadata().name(), fields.others.join(" ")));
    }
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = format!("{} {} {}", event.metadata().level(), fields.message, fields.others.join(" "));
        self.0.lock().expect("lock").push(line.trim_end().to_owned());
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().expect("lock").clone()
    }
    fn messages_at(&self, level: Level) -> Vec<String> {
        let prefix = format!("{level} ");
        self.lines().into_iter().filter_map(|l| l.strip_prefix(&prefix).map(str::to_owned)).collect()
    }
}

fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    (capture, tracing::subscriber::set_default(subscriber))
}

const STATUS: [&str; 3] =
    ["Application started. Press Ctrl+C to shut down.", "Application is shutting down...", "Application stopped."];

#[tokio::test]
async fn status_lines_are_logged_in_order_and_every_phase_runs_in_a_span_named_after_the_service() {
    let (capture, _guard) = capture();
    let log = Log::default();
    let host = host_with(vec![Recorder::new("app::Mailer", &log)], |o| o.suppress_status_messages = false);
    host.run_until(async {}).await.expect("runs");
    let status: Vec<_> =
        capture.messages_at(Level::INFO).into_iter().filter(|m| STATUS.contains(&m.as_str())).collect();
    assert_eq!(status, STATUS, "the console lifetime's lines, in order (H97)");
    let spans: Vec<_> = capture.lines().into_iter().filter(|l| l.starts_with("span hosted_service")).collect();
    let phases = ["starting", "start", "started", "stopping", "stop", "stopped"];
    let expected: Vec<_> =
        phases.iter().map(|p| format!("span hosted_service service=app::Mailer phase={p}")).collect();
    assert_eq!(spans, expected, "one span per phase, carrying the service name");
}

#[tokio::test]
async fn status_lines_can_be_suppressed() {
    let (capture, _guard) = capture();
    let host = host_with(vec![], |o| o.suppress_status_messages = true);
    host.run_until(async {}).await.expect("runs");
    let logged = capture.messages_at(Level::INFO);
    assert!(STATUS.iter().all(|s| !logged.iter().any(|l| l == s)), "nothing logged (H98): {logged:?}");
}

struct Failing;

#[async_trait::async_trait]
impl BackgroundService for Failing {
    async fn execute(&self, _stopping: CancellationToken) -> anyhow::Result<()> {
        anyhow::bail!("disk full")
    }
    fn name(&self) -> &'static str {
        "app::Indexer"
    }
}

#[tokio::test]
async fn a_background_failure_is_logged_at_error_level_with_the_service_name() {
    let (capture, _guard) = capture();
    let host = Host::builder()
        .configure_services(|s| {
            s.add_background_service_with(|_| Ok(Failing));
        })
        .build()
        .expect("builds");
    let report = host.run_until(std::future::pending::<()>()).await.expect("runs");
    assert_eq!(report.exit_code(), 1, "StopHost makes the run fail");
    let errors = capture.messages_at(Level::ERROR);
    assert!(
        errors.iter().any(|e| e == "background service failed service=app::Indexer error=disk full"),
        "the failure is logged with the service's name (H93): {errors:?}"
    );
    assert!(
        capture.lines().iter().any(|l| l == "span background_service service=app::Indexer"),
        "execute runs in a span named after the service"
    );
}
