//! A host with one background worker that, on every tick, creates a scope, resolves a scoped
//! `dyn ScopedProcessor` and records the tick in an embedded SQLite database.
//!
//! Run with:
//!
//! ```not_rust
//! cargo run -p samples --example worker_host
//! ```
//!
//! Stop it with Ctrl-C (or `kill -TERM <pid>`): the worker finishes its tick and the host exits
//! within the 5 s shutdown timeout, with exit code 0. A second Ctrl-C stops waiting at once.
//! `WORKER_TICK_MS` sets the tick (default 1000 ms); `WORKER_WORK_MS` simulates slow work in each
//! tick that ignores cancellation (default 0: with 10000, Ctrl-C waits for the 5 s timeout and a
//! second Ctrl-C abandons the worker at once); `WORKER_DB` a database file (default: an in-memory
//! database shared by every scope); `RUST_LOG` the log filter (default `info`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use di_core::{BoxError, Dependencies, FromProvider, Lifetime, Provides, Resolver, ServiceProvider, Source};
use di_hosting::{BackgroundService, CancellationToken, Host, HostingServiceCollectionExt, StopReport};
use rusqlite::{Connection, params};

/// Settings read once at start-up.
#[derive(Debug)]
struct WorkerSettings {
    tick: Duration,
    work: Duration,
    database: Option<String>,
}

impl WorkerSettings {
    fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            tick: samples::env_millis("WORKER_TICK_MS", 1000)?,
            work: samples::env_millis("WORKER_WORK_MS", 0)?,
            database: std::env::var("WORKER_DB").ok(),
        })
    }
}

/// The "pool": one connection behind a mutex, a singleton shared by every scope. The lock is
/// never held across an `.await`.
#[derive(Debug)]
struct Database {
    connection: Mutex<Connection>,
}

impl Database {
    fn open(path: Option<&str>) -> anyhow::Result<Self> {
        let connection = match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS ticks (
                 id    INTEGER PRIMARY KEY,
                 tick  INTEGER NOT NULL,
                 scope INTEGER NOT NULL,
                 at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
             )",
        )?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> anyhow::Result<T> {
        Ok(f(&self.connection.lock().unwrap_or_else(PoisonError::into_inner))?)
    }

    fn rows(&self) -> anyhow::Result<u64> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM ticks", [], |row| row.get(0)))
    }
}

/// One unit of work. Scoped: a new one in every scope.
#[async_trait]
trait ScopedProcessor: Send + Sync {
    /// Records `tick`; returns how many rows the table now holds.
    async fn process(&self, tick: u64) -> anyhow::Result<u64>;
}

/// Counts scopes, so each row says which scope wrote it.
#[derive(Debug, Default)]
struct ScopeCounter(AtomicU64);

/// The repository: writes one row per tick.
#[derive(Debug)]
struct TickRepository {
    database: Arc<Database>,
    scope: u64,
}

impl FromProvider for TickRepository {
    fn from_provider(sp: &Resolver<'_>) -> Result<Self, BoxError> {
        let scope = sp.get::<ScopeCounter>()?.0.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Self { database: sp.get()?, scope })
    }
    fn dependencies(deps: &mut Dependencies) {
        deps.add::<Arc<Database>>().add::<Arc<ScopeCounter>>();
    }
}

impl Provides<dyn ScopedProcessor> for TickRepository {
    fn provide(self: Arc<Self>) -> Arc<dyn ScopedProcessor> {
        self
    }
}

#[async_trait]
impl ScopedProcessor for TickRepository {
    async fn process(&self, tick: u64) -> anyhow::Result<u64> {
        self.database
            .with(|c| c.execute("INSERT INTO ticks (tick, scope) VALUES (?1, ?2)", params![tick, self.scope]))?;
        self.database.rows()
    }
}

/// The background service: one scope per tick.
#[derive(Debug)]
struct Worker {
    provider: Arc<ServiceProvider>,
    settings: Arc<WorkerSettings>,
}

impl FromProvider for Worker {
    fn from_provider(sp: &Resolver<'_>) -> Result<Self, BoxError> {
        Ok(Self { provider: sp.get::<ServiceProvider>()?, settings: sp.get()? })
    }
    fn dependencies(deps: &mut Dependencies) {
        deps.add::<Arc<WorkerSettings>>();
    }
}

#[async_trait]
impl BackgroundService for Worker {
    async fn execute(&self, stopping: CancellationToken) -> anyhow::Result<()> {
        let mut interval = tokio::time::interval(self.settings.tick);
        let mut tick = 0_u64;
        loop {
            tokio::select! {
                () = stopping.cancelled() => break,
                _ = interval.tick() => {}
            }
            tick += 1;
            // A scope per unit of work: the processor (and anything scoped it uses) lives
            // exactly as long as this tick.
            let scope = self.provider.create_scope()?;
            let processor = scope.provider().get::<dyn ScopedProcessor>()?;
            if !self.settings.work.is_zero() {
                tracing::info!(tick, work = ?self.settings.work, "simulating slow work");
                tokio::time::sleep(self.settings.work).await;
            }
            let rows = processor.process(tick).await?;
            tracing::info!(tick, rows, "tick recorded");
            drop(processor);
            scope.dispose().await?;
        }
        tracing::info!(ticks = tick, "worker finished its last tick");
        Ok(())
    }

    fn name(&self) -> &'static str {
        "worker_host::Worker"
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<StopReport> {
    samples::init_tracing();

    let settings = WorkerSettings::from_env()?;
    let host = Host::builder()
        .shutdown_timeout(Duration::from_secs(5))
        .configure_services(|services| {
            services
                .add_singleton::<Database>(|sp| {
                    Ok(Arc::new(Database::open(sp.get::<WorkerSettings>()?.database.as_deref())?))
                })
                .depends_on::<Arc<WorkerSettings>>()
                // Instances are never disposed; a factory-made singleton is, when the host ends.
                .on_dispose(|db| {
                    tracing::info!(rows = db.rows()?, "database closed");
                    Ok(())
                });
            services.add(Lifetime::Singleton, Source::instance(settings));
            services.add(Lifetime::Singleton, Source::instance(ScopeCounter::default()));
            services.add(Lifetime::Scoped, Source::<dyn ScopedProcessor>::implemented_by::<TickRepository>());
            services.add_background_service::<Worker>();
        })
        .build()?;

    let report = host.run().await?;
    tracing::info!(exit_code = report.exit_code(), "{report}");
    Ok(report)
}
