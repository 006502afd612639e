//! Against a real PostgreSQL server (`DATABASE_URL`): an async singleton connection shared by a
//! scoped repository, a timed service that inserts one row per tick from its own scope, and the
//! connection's async dispose hook closing it when the host ends. Without `DATABASE_URL` the test
//! says it is skipped and passes: that case only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use di_core::{Injectable, Lifetime, ServiceProvider, Source};
use di_hosting::{BackgroundWorkExt, CancellationToken, FailurePolicy, Host, TimedOptions, TimedTask};
use tokio::sync::{Notify, RwLock};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

/// Ticks to wait for before stopping the host.
const TICKS: usize = 5;
/// The timed service's period.
const PERIOD: Duration = Duration::from_millis(50);
/// Bounds every wait on the server or the host, so a broken setup fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(10);

/// What the services saw, shared as a singleton instance.
#[derive(Debug, Default)]
struct Journal {
    /// (tick, scope) for each row a repository inserted, in order.
    inserted: Mutex<Vec<(i64, i64)>>,
    /// Scope ids whose repository was disposed, in order.
    disposed: Mutex<Vec<i64>>,
    /// What the connection's async dispose hook recorded.
    closing: Mutex<Vec<String>>,
    next_scope: AtomicU64,
    next_tick: AtomicU64,
    /// Woken after every insert.
    progress: Notify,
}

impl Journal {
    fn inserted(&self) -> Vec<(i64, i64)> {
        self.inserted.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn disposed(&self) -> Vec<i64> {
        self.disposed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn closing(&self) -> Vec<String> {
        self.closing.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits until at least `count` rows were inserted.
    async fn wait_for_rows(&self, count: usize) {
        loop {
            let notified = self.progress.notified();
            if self.inserted.lock().unwrap_or_else(PoisonError::into_inner).len() >= count {
                return;
            }
            notified.await;
        }
    }
}

/// The table this run writes to, unique per run.
#[derive(Debug)]
struct Table(String);

/// The singleton connection. The client sits behind a lock so the dispose hook can take it and
/// drop it, which ends the connection task gracefully.
#[derive(Debug)]
struct Database {
    client: RwLock<Option<Client>>,
    connection: Mutex<Option<JoinHandle<Result<(), tokio_postgres::Error>>>>,
    journal: Arc<Journal>,
}

impl Database {
    async fn connect(url: &str, journal: Arc<Journal>) -> anyhow::Result<Self> {
        let (client, connection) = tokio::time::timeout(LIMIT, tokio_postgres::connect(url, NoTls)).await??;
        let connection = tokio::spawn(connection);
        Ok(Self { client: RwLock::new(Some(client)), connection: Mutex::new(Some(connection)), journal })
    }

    async fn execute(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> anyhow::Result<u64> {
        let client = self.client.read().await;
        let client = client.as_ref().ok_or_else(|| anyhow::anyhow!("the connection is closed"))?;
        Ok(tokio::time::timeout(LIMIT, client.execute(sql, params)).await??)
    }

    /// Drops the client and waits for the connection task to end; records the outcome.
    async fn close(&self) -> anyhow::Result<()> {
        drop(self.client.write().await.take());
        let task = self.connection.lock().unwrap_or_else(PoisonError::into_inner).take();
        let outcome = match task {
            None => "already closed".to_owned(),
            Some(task) => match tokio::time::timeout(LIMIT, task).await {
                Ok(Ok(Ok(()))) => "closed".to_owned(),
                Ok(Ok(Err(error))) => format!("connection error: {error}"),
                Ok(Err(join)) => format!("connection task failed: {join}"),
                Err(_) => "connection task did not end".to_owned(),
            },
        };
        self.journal.closing.lock().unwrap_or_else(PoisonError::into_inner).push(outcome);
        Ok(())
    }
}

/// Scoped: one per tick, with the scope's id; writes through the shared connection.
#[derive(Debug)]
struct TickRepository {
    database: Arc<Database>,
    table: Arc<Table>,
    journal: Arc<Journal>,
    scope: i64,
}

impl TickRepository {
    async fn insert(&self, tick: i64) -> anyhow::Result<()> {
        let sql = format!("INSERT INTO {} (tick, scope) VALUES ($1, $2)", self.table.0);
        self.database.execute(&sql, &[&tick, &self.scope]).await?;
        self.journal.inserted.lock().unwrap_or_else(PoisonError::into_inner).push((tick, self.scope));
        self.journal.progress.notify_waiters();
        Ok(())
    }
}

/// The timed handler. The timed service resolves it with a synchronous `get`, so it cannot
/// depend on the async repository directly: it resolves it from its own scope in `tick`.
#[derive(Injectable)]
struct InsertTick {
    scope: Arc<ServiceProvider>,
    journal: Arc<Journal>,
}

#[async_trait]
impl TimedTask for InsertTick {
    async fn tick(&self, _cancel: CancellationToken) -> anyhow::Result<()> {
        let tick = i64::try_from(self.journal.next_tick.fetch_add(1, Ordering::SeqCst) + 1)?;
        self.scope.get_async::<TickRepository>().await?.insert(tick).await
    }
}

/// Runs the host against `table` until `TICKS` rows were inserted, then stops it.
async fn run_host(url: String, table: String, journal: &Arc<Journal>) -> anyhow::Result<u8> {
    let mut builder = Host::builder().shutdown_timeout(Duration::from_secs(2));
    let services = builder.services();
    services.add(Lifetime::Singleton, Source::<Journal>::instance(Arc::clone(journal)));
    services.add(Lifetime::Singleton, Source::instance(Table(table)));
    services
        .add(
            Lifetime::Singleton,
            Source::<Database>::from_async_fn(move |sp| {
                let url = url.clone();
                async move { Ok::<_, di_core::BoxError>(Arc::new(Database::connect(&url, sp.get::<Journal>()?).await?)) }
            }),
        )
        .on_dispose_async(|database: Arc<Database>| async move { Ok(database.close().await?) });
    services
        .add(
            Lifetime::Scoped,
            Source::<TickRepository>::from_async_fn(|sp| async move {
                let journal = sp.get::<Journal>()?;
                let scope = i64::try_from(journal.next_scope.fetch_add(1, Ordering::SeqCst) + 1)?;
                let (database, table) = (sp.get_async::<Database>().await?, sp.get::<Table>()?);
                Ok::<_, di_core::BoxError>(Arc::new(TickRepository { database, table, journal, scope }))
            }),
        )
        .on_dispose(|repository| {
            repository.journal.disposed.lock().unwrap_or_else(PoisonError::into_inner).push(repository.scope);
            Ok(())
        });
    services.add(Lifetime::Scoped, Source::<InsertTick>::injected());
    // StopHost: a failing insert ends the run at once instead of waiting for rows that never come.
    services.add_timed_service::<InsertTick>(
        TimedOptions::every(PERIOD).on_failure(FailurePolicy::StopHost).name("postgres_scoped::InsertTick"),
    )?;
    let host = builder.build()?;
    let report = tokio::time::timeout(LIMIT, host.run_until(journal.wait_for_rows(TICKS)))
        .await
        .map_err(|_| anyhow::anyhow!("the host did not insert {TICKS} rows and stop within {LIMIT:?}"))??;
    Ok(report.exit_code())
}

/// Runs the host and reads the table back: (exit code, rows as (tick, scope) ordered by id).
async fn scenario(
    url: &str,
    admin: &Client,
    table: &str,
    journal: &Arc<Journal>,
) -> anyhow::Result<(u8, Vec<(i64, i64)>)> {
    let exit_code = run_host(url.to_owned(), table.to_owned(), journal).await?;
    let rows = tokio::time::timeout(LIMIT, admin.query(&format!("SELECT tick, scope FROM {table} ORDER BY id"), &[]))
        .await??;
    Ok((exit_code, rows.iter().map(|row| (row.get(0), row.get(1))).collect()))
}

#[tokio::test]
async fn a_scope_per_tick_inserts_through_an_async_singleton_connection_that_the_host_closes() -> anyhow::Result<()> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("skipped: DATABASE_URL is not set (CI sets it; e.g. postgres://postgres@127.0.0.1:5432/test)");
        return Ok(());
    };
    let (admin, connection) = tokio::time::timeout(LIMIT, tokio_postgres::connect(&url, NoTls)).await??;
    let admin_connection = tokio::spawn(connection);
    let unique = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let table = format!("di_tests_ticks_{}_{unique}", std::process::id());
    let create =
        format!("CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, tick BIGINT NOT NULL, scope BIGINT NOT NULL)");
    tokio::time::timeout(LIMIT, admin.batch_execute(&create)).await??;

    let journal = Arc::new(Journal::default());
    let outcome = scenario(&url, &admin, &table, &journal).await;
    // Drop the table whatever happened, then judge.
    let dropped = tokio::time::timeout(LIMIT, admin.batch_execute(&format!("DROP TABLE {table}"))).await;
    drop(admin);
    let _ = tokio::time::timeout(LIMIT, admin_connection).await;
    let (exit_code, rows) = outcome?;
    dropped??;

    assert_eq!(exit_code, 0, "expected the run to stop cleanly with exit code 0");
    let inserted = journal.inserted();
    assert!(inserted.len() >= TICKS, "expected at least {TICKS} ticks before the stop, got {inserted:?}");
    assert_eq!(rows, inserted, "expected the table to hold exactly the rows the ticks inserted, in insert order");
    let ticks: Vec<i64> = rows.iter().map(|&(tick, _)| tick).collect();
    let expected: Vec<i64> = (1..=i64::try_from(rows.len())?).collect();
    assert_eq!(ticks, expected, "expected rows for ticks 1, 2, ... in order");
    let scopes: Vec<i64> = rows.iter().map(|&(_, scope)| scope).collect();
    assert_eq!(scopes, expected, "expected each tick's row written from its own fresh scope (ids 1, 2, ...)");
    assert_eq!(journal.disposed(), scopes, "expected every tick's scoped repository disposed, in tick order");
    assert_eq!(
        journal.closing(),
        ["closed"],
        "expected the host's disposal to run the connection's async dispose hook once, closing it cleanly"
    );
    Ok(())
}
