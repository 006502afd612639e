//! Cron jobs: next-fire times of known expressions, invalid expressions, and on paused time the
//! firings, one scope per firing, no overlap and the misfire policies.

mod work_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, TimeDelta, TimeZone, Utc};
use di_core::ServiceCollection;
use di_hosting::{
    BackgroundWorkExt, CancellationToken, Clock, CronJob, CronOptions, CronSchedule, CronTimeZone, MisfirePolicy,
    ScheduleError, TokioClock,
};
use tokio::time::sleep;
use work_support::{start_all, stop_all};

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, h, m, s).unwrap() // a Friday
}

fn next_three(expression: &str, zone: CronTimeZone, after: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let schedule = CronSchedule::parse(expression, zone, "test").expect("valid expression");
    let mut out = Vec::new();
    let mut cursor = after;
    for _ in 0..3 {
        cursor = schedule.next_after(cursor).expect("a next firing");
        out.push(cursor);
    }
    out
}

#[test]
fn next_fire_times_of_known_expressions() {
    assert_eq!(
        next_three("0 */5 * * * *", CronTimeZone::Utc, at(10, 2, 0)),
        [at(10, 5, 0), at(10, 10, 0), at(10, 15, 0)],
        "every five minutes, with a seconds field"
    );
    assert_eq!(
        next_three("*/5 * * * *", CronTimeZone::Utc, at(10, 5, 0)),
        [at(10, 10, 0), at(10, 15, 0), at(10, 20, 0)],
        "five fields: no seconds field, strictly after the start"
    );
    assert_eq!(
        next_three("30 2 * * Mon", CronTimeZone::Utc, at(10, 0, 0)),
        [
            Utc.with_ymd_and_hms(2024, 3, 4, 2, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 3, 11, 2, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 3, 18, 2, 30, 0).unwrap(),
        ],
        "Mondays at 02:30"
    );
    assert_eq!(
        next_three("@daily", CronTimeZone::Utc, at(10, 0, 0))[0],
        Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap(),
        "shorthands parse"
    );
    let plus_two = FixedOffset::east_opt(2 * 3600).unwrap();
    assert_eq!(
        next_three("0 0 9 * * *", CronTimeZone::Fixed(plus_two), at(6, 0, 0))[0],
        at(7, 0, 0),
        "09:00 at UTC+2 is 07:00 UTC"
    );
}

#[test]
fn invalid_expressions_fail_with_the_parsers_message_and_the_jobs_name() {
    for expression in ["61 * * * * *", "every day", "* * *", "0 0 25 * * *"] {
        let err = CronSchedule::parse(expression, CronTimeZone::Utc, "purge").unwrap_err();
        let ScheduleError::InvalidCron { job, expression: given, reason } = &err else {
            panic!("expected InvalidCron for `{expression}`, got {err:?}");
        };
        assert_eq!((*job, given.as_str()), ("purge", expression), "the error names the job and the expression");
        assert!(!reason.is_empty(), "the parser's message is kept for `{expression}`");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("invalid cron expression `{expression}` for job `purge`: {reason}; ")),
            "message: {text}"
        );
    }
}

#[test]
fn add_cron_job_rejects_an_invalid_expression_at_registration() {
    let mut services = ServiceCollection::new();
    let err = services.add_cron_job::<Recorder>("0 */5 * *", CronOptions::default()).unwrap_err();
    assert!(
        matches!(&err, ScheduleError::InvalidCron { job: "cron_jobs::Recorder", .. }),
        "the job is named after its type by default: {err}"
    );
    assert!(services.is_empty(), "nothing was registered");
}

/// (scheduled firing, wall-clock start) of every run.
type RunLog = Arc<Mutex<Vec<(DateTime<Utc>, DateTime<Utc>)>>>;

/// Records each firing it runs for, and when it started.
struct Recorder {
    log: RunLog,
    clock: Arc<dyn Clock>,
    run_for: Duration,
}

#[async_trait]
impl CronJob for Recorder {
    async fn run(&self, firing: DateTime<Utc>, _cancel: CancellationToken) -> anyhow::Result<()> {
        self.log.lock().unwrap().push((firing, self.clock.now()));
        sleep(self.run_for).await;
        Ok(())
    }
}

const START: fn() -> DateTime<Utc> = || Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();

/// Runs a `*/10 * * * * *` job for `secs` of paused time; returns (firing, started on `clock`)
/// pairs as seconds after START, and how many scopes (job instances) were created.
async fn run_job(clock: impl Clock + Clone, options: CronOptions, run_for: u64, secs: u64) -> (Vec<(i64, i64)>, usize) {
    let job_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let log = RunLog::default();
    let created = Arc::new(AtomicUsize::new(0));
    let mut services = ServiceCollection::new();
    let (shared, count) = (Arc::clone(&log), Arc::clone(&created));
    services.add_scoped::<Recorder>(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Recorder {
            log: Arc::clone(&shared),
            clock: Arc::clone(&job_clock),
            run_for: Duration::from_secs(run_for),
        }))
    });
    services.add_cron_job::<Recorder>("*/10 * * * * *", options.clock(clock)).unwrap();
    let provider = services.build().unwrap();
    let hosted = start_all(&provider).await;
    sleep(Duration::from_secs(secs)).await;
    stop_all(&hosted, Duration::from_secs(60)).await;
    let seconds = |t: DateTime<Utc>| (t - START()).num_seconds();
    let runs = log.lock().unwrap().iter().map(|(firing, started)| (seconds(*firing), seconds(*started))).collect();
    (runs, created.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn fires_on_schedule_with_a_fresh_scope_each_time() {
    let (runs, instances) = run_job(TokioClock::starting_at(START()), CronOptions::default(), 0, 65).await;
    assert_eq!(runs, [(10, 10), (20, 20), (30, 30), (40, 40), (50, 50), (60, 60)], "every 10 s, on time");
    assert_eq!(instances, 6, "one job instance (one scope) per firing");
}

#[tokio::test(start_paused = true)]
async fn skip_drops_firings_missed_while_the_previous_run_went_on() {
    let (runs, _) = run_job(TokioClock::starting_at(START()), CronOptions::default(), 25, 65).await;
    assert_eq!(runs, [(10, 10), (40, 40)], "no overlap; the 20 and 30 firings were missed and skipped");
}

#[tokio::test(start_paused = true)]
async fn fire_once_runs_a_missed_firing_once_when_free() {
    let options = CronOptions::default().misfire(MisfirePolicy::FireOnce);
    let (runs, _) = run_job(TokioClock::starting_at(START()), options, 25, 65).await;
    assert_eq!(runs, [(10, 10), (20, 35), (40, 60)], "the missed 20 runs once at 35; 30 is folded into it");
}

#[tokio::test(start_paused = true)]
async fn overlap_is_opt_in() {
    let options = CronOptions::default().max_concurrent_runs(3);
    let (runs, _) = run_job(TokioClock::starting_at(START()), options, 25, 45).await;
    assert_eq!(runs, [(10, 10), (20, 20), (30, 30), (40, 40)], "with three slots nothing is missed");
}

/// A clock that can jump ahead, as after the machine slept.
#[derive(Debug, Clone)]
struct SleepyClock {
    inner: TokioClock,
    jump: Arc<Mutex<TimeDelta>>,
}

impl Clock for SleepyClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now() + *self.jump.lock().unwrap()
    }
}

async fn after_an_hour_asleep(policy: MisfirePolicy) -> Vec<(i64, i64)> {
    let clock = SleepyClock { inner: TokioClock::starting_at(START()), jump: Arc::default() };
    let jump = Arc::clone(&clock.jump);
    tokio::spawn(async move {
        sleep(Duration::from_secs(15)).await;
        *jump.lock().unwrap() = TimeDelta::hours(1); // the wall clock moved an hour while tokio's did not
    });
    run_job(clock, CronOptions::default().misfire(policy), 0, 35).await.0
}

#[tokio::test(start_paused = true)]
async fn after_sleeping_skip_waits_for_the_next_firing() {
    let runs = after_an_hour_asleep(MisfirePolicy::Skip).await;
    assert_eq!(runs, [(10, 10), (3630, 3630)], "the 20 s firing, found an hour late, was skipped");
}

#[tokio::test(start_paused = true)]
async fn after_sleeping_fire_once_catches_up_once() {
    let runs = after_an_hour_asleep(MisfirePolicy::FireOnce).await;
    assert_eq!(runs, [(10, 10), (20, 3620), (3630, 3630)], "one catch-up run for the missed firings");
}
