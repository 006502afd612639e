//! A factory's or a disposal hook's error is kept whole: the source of `ResolveError::Factory`
//! and `DisposeFailure::Failed` is the error user code returned, of whatever type, so callers can
//! `downcast_ref` it; and its text is printed once, by the source, not repeated in the message.

use std::error::Error as _;
use std::fmt;
use std::io::{self, ErrorKind};
use std::sync::Arc;

use di_core::{BoxError, DisposeFailure, Lifetime, ResolveError, ServiceCollection, Source};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug)]
struct Db;
#[derive(Debug)]
struct Repo;

/// An error type of the application's own, written without `thiserror`.
#[derive(Debug, PartialEq, Eq)]
struct QuotaExceeded {
    limit: u32,
}

impl fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "quota of {} connections exceeded", self.limit)
    }
}

impl std::error::Error for QuotaExceeded {}

const REFUSED: &str = "db.internal:5432 refused the connection";

fn refused() -> io::Error {
    io::Error::new(ErrorKind::ConnectionRefused, REFUSED)
}

/// What a factory calls, with its own error type: `?` converts it into the factory's `BoxError`.
fn connect() -> io::Result<Db> {
    Err(refused())
}

fn reserve(limit: u32) -> Result<Repo, QuotaExceeded> {
    Err(QuotaExceeded { limit })
}

/// The factory error of `err`, checked to be a `ResolveError::Factory` for `service`.
fn factory_source<'e>(err: &'e ResolveError, service: &str) -> &'e BoxError {
    let ResolveError::Factory { service: failed, source, .. } = err else {
        panic!("expected ResolveError::Factory, got {err:?}");
    };
    assert_eq!(*failed, service, "the failing service is named");
    source
}

/// The message names the failing service but not the cause, which is printed once, by `source()`.
fn assert_cause_printed_once(err: &dyn std::error::Error, cause: &str) {
    let message = err.to_string();
    assert!(!message.contains(cause), "the message does not repeat its cause: {message}");
    let source = err.source().expect("the cause is the source");
    assert_eq!(source.to_string(), cause, "the source is the cause, unchanged");
}

#[test]
fn sync_factory_io_error_downcasts_from_the_source() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Db>(|_| Ok(Arc::new(connect()?)));
    let provider = services.build()?;

    let err = provider.get::<Db>().expect_err("the factory fails");
    let source = factory_source(&err, std::any::type_name::<Db>());
    let io = source.downcast_ref::<io::Error>().expect("the source is the factory's own `io::Error`");
    assert_eq!(io.kind(), ErrorKind::ConnectionRefused);
    let through_trait = err.source().and_then(|s| s.downcast_ref::<io::Error>()).expect("`source()` downcasts too");
    assert_eq!(through_trait.kind(), ErrorKind::ConnectionRefused);
    assert_cause_printed_once(&err, REFUSED);
    Ok(())
}

#[test]
fn sync_factory_custom_error_downcasts_from_the_source() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Db>(|_| Err(QuotaExceeded { limit: 20 }.into()));
    let provider = services.build()?;
    let scope = provider.create_scope()?;

    let err = scope.provider().get::<Db>().expect_err("the factory fails");
    let source = factory_source(&err, std::any::type_name::<Db>());
    assert_eq!(source.downcast_ref::<QuotaExceeded>(), Some(&QuotaExceeded { limit: 20 }));
    assert!(source.downcast_ref::<io::Error>().is_none(), "it is the custom type, not another");
    assert_cause_printed_once(&err, "quota of 20 connections exceeded");
    Ok(())
}

#[tokio::test]
async fn async_factory_errors_downcast_from_the_source() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::<Db>::from_async_fn(|_| async { Err(refused()) }));
    services.add(
        Lifetime::Transient,
        Source::<Repo>::from_async_fn(|_| async {
            tokio::task::yield_now().await;
            Ok::<_, BoxError>(Arc::new(reserve(3)?))
        }),
    );
    let provider = services.build()?;

    let err = provider.get_async::<Db>().await.expect_err("the async factory fails");
    let source = factory_source(&err, std::any::type_name::<Db>());
    assert_eq!(source.downcast_ref::<io::Error>().map(io::Error::kind), Some(ErrorKind::ConnectionRefused));
    assert_cause_printed_once(&err, REFUSED);

    let err = provider.get_async::<Repo>().await.expect_err("the async factory fails");
    let source = factory_source(&err, std::any::type_name::<Repo>());
    assert_eq!(source.downcast_ref::<QuotaExceeded>(), Some(&QuotaExceeded { limit: 3 }));
    assert_cause_printed_once(&err, "quota of 3 connections exceeded");
    Ok(())
}

#[test]
fn nested_factory_error_passes_through_the_outer_factory_unchanged() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Db>(|_| Ok(Arc::new(connect()?)));
    services.add_transient::<Repo>(|sp| {
        sp.get::<Db>()?;
        Ok(Arc::new(Repo))
    });
    let provider = services.build()?;

    let err = provider.get::<Repo>().expect_err("the dependency's factory fails");
    let ResolveError::Factory { path, .. } = &err else { panic!("expected Factory, got {err:?}") };
    assert_eq!(path.services(), [std::any::type_name::<Repo>()], "the path leads from the outer service");
    let source = factory_source(&err, std::any::type_name::<Db>());
    let io = source.downcast_ref::<io::Error>().expect("not wrapped in the outer factory's error");
    assert_eq!(io.kind(), ErrorKind::ConnectionRefused);
    assert_cause_printed_once(&err, REFUSED);
    Ok(())
}

#[tokio::test]
async fn nested_async_factory_error_passes_through_the_outer_factory_unchanged() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::<Db>::from_async_fn(|_| async { Err(QuotaExceeded { limit: 1 }) }));
    services.add(
        Lifetime::Transient,
        Source::<Repo>::from_async_fn(|sp| async move {
            sp.get_async::<Db>().await?;
            Ok::<_, BoxError>(Arc::new(Repo))
        }),
    );
    let provider = services.build()?;

    let err = provider.get_async::<Repo>().await.expect_err("the dependency's factory fails");
    let ResolveError::Factory { path, .. } = &err else { panic!("expected Factory, got {err:?}") };
    assert_eq!(path.services(), [std::any::type_name::<Repo>()]);
    let source = factory_source(&err, std::any::type_name::<Db>());
    assert_eq!(source.downcast_ref::<QuotaExceeded>(), Some(&QuotaExceeded { limit: 1 }));
    Ok(())
}

#[test]
fn dispose_hook_errors_downcast_from_the_failure_source() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_singleton::<Db>(|_| Ok(Arc::new(Db))).on_dispose(|_| Ok(connect().map(drop)?));
    services.add_singleton::<Repo>(|_| Ok(Arc::new(Repo))).on_dispose(|_| Err(QuotaExceeded { limit: 9 }.into()));
    let provider = services.build()?;
    provider.get::<Db>()?;
    provider.get::<Repo>()?;

    let err = provider.dispose_sync().expect_err("both hooks fail");
    let [repo, db] = err.failures() else { panic!("two failures, newest first: {err:?}") };
    let DisposeFailure::Failed { service, source } = repo else { panic!("expected Failed, got {repo:?}") };
    assert_eq!(*service, std::any::type_name::<Repo>());
    assert_eq!(source.downcast_ref::<QuotaExceeded>(), Some(&QuotaExceeded { limit: 9 }));
    assert_cause_printed_once(repo, "quota of 9 connections exceeded");
    let DisposeFailure::Failed { service, source } = db else { panic!("expected Failed, got {db:?}") };
    assert_eq!(*service, std::any::type_name::<Db>());
    assert_eq!(source.downcast_ref::<io::Error>().map(io::Error::kind), Some(ErrorKind::ConnectionRefused));
    assert_cause_printed_once(db, REFUSED);

    // `DisposeError` has no `source()`: it lists each failure with its cause, once.
    let listed = err.to_string();
    assert_eq!(listed.matches(REFUSED).count(), 1, "{listed}");
    assert_eq!(listed.matches("quota of 9 connections exceeded").count(), 1, "{listed}");
    Ok(())
}

#[tokio::test]
async fn async_dispose_hook_error_downcasts_from_the_failure_source() -> TestResult {
    let mut services = ServiceCollection::new();
    services.add_scoped::<Db>(|_| Ok(Arc::new(Db))).on_dispose_async(|_| async { Err(refused().into()) });
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Db>()?;

    let err = scope.dispose().await.expect_err("the hook fails");
    let [failure] = err.failures() else { panic!("one failure: {err:?}") };
    let DisposeFailure::Failed { source, .. } = failure else { panic!("expected Failed, got {failure:?}") };
    assert_eq!(source.downcast_ref::<io::Error>().map(io::Error::kind), Some(ErrorKind::ConnectionRefused));
    assert_cause_printed_once(failure, REFUSED);
    Ok(())
}

/// A function returning `anyhow::Result`, passed as a source: the caller downcasts to the error
/// the function wrapped (anyhow's own conversion would box its private wrapper instead).
#[cfg(feature = "anyhow")]
#[test]
fn anyhow_factory_error_downcasts_to_the_error_it_holds() -> TestResult {
    fn open_db(_: &di_core::Resolver<'_>) -> anyhow::Result<Arc<Db>> {
        Ok(Arc::new(connect()?))
    }
    fn open_repo(_: &di_core::Resolver<'_>) -> anyhow::Result<Arc<Repo>> {
        use anyhow::Context as _;
        Ok(Arc::new(reserve(2).context("reserving a connection")?))
    }
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::from_fn(open_db));
    services.add(Lifetime::Scoped, Source::from_fn(open_repo));
    let provider = services.build()?;

    let err = provider.get::<Db>().expect_err("`open_db` fails");
    let source = factory_source(&err, std::any::type_name::<Db>());
    let io = source.downcast_ref::<io::Error>().expect("the io::Error itself");
    assert_eq!(io.kind(), ErrorKind::ConnectionRefused);

    let scope = provider.create_scope()?;
    let err = scope.provider().get::<Repo>().expect_err("`open_repo` fails");
    let source = factory_source(&err, std::any::type_name::<Repo>());
    assert_eq!(source.to_string(), "reserving a connection", "the context is the outer link");
    let quota = source.source().and_then(|e| e.downcast_ref::<QuotaExceeded>());
    assert_eq!(quota, Some(&QuotaExceeded { limit: 2 }), "the cause under the context");
    Ok(())
}

#[cfg(feature = "anyhow")]
#[tokio::test]
async fn anyhow_async_factory_error_downcasts_to_the_error_it_holds() -> TestResult {
    async fn open_db(_: di_core::Resolver<'static>) -> anyhow::Result<Arc<Db>> {
        Ok(Arc::new(connect()?))
    }
    let mut services = ServiceCollection::new();
    services.add(Lifetime::Singleton, Source::from_async_fn(open_db));
    let provider = services.build()?;
    let err = tokio::time::timeout(std::time::Duration::from_secs(2), provider.get_async::<Db>())
        .await?
        .expect_err("`open_db` fails");
    let io = factory_source(&err, std::any::type_name::<Db>()).downcast_ref::<io::Error>();
    assert_eq!(io.map(io::Error::kind), Some(ErrorKind::ConnectionRefused));
    Ok(())
}

/// `Dispose` and `AsyncDispose` name their error type; an `anyhow::Error` is unwrapped too.
#[cfg(feature = "anyhow")]
#[tokio::test]
async fn dispose_trait_errors_keep_their_type() -> TestResult {
    struct Sync_;
    impl di_core::Dispose for Sync_ {
        type Error = anyhow::Error;
        fn dispose(&self) -> anyhow::Result<()> {
            Err(anyhow::Error::new(QuotaExceeded { limit: 3 }))
        }
    }
    struct Async_;
    impl di_core::AsyncDispose for Async_ {
        type Error = io::Error;
        async fn dispose_async(&self) -> io::Result<()> {
            Err(refused())
        }
    }
    let mut services = ServiceCollection::new();
    services.add_scoped::<Sync_>(|_| Ok(Arc::new(Sync_))).disposable();
    services.add_scoped::<Async_>(|_| Ok(Arc::new(Async_))).async_disposable();
    let provider = services.build()?;
    let scope = provider.create_scope()?;
    scope.provider().get::<Sync_>()?;
    scope.provider().get::<Async_>()?;
    let err =
        tokio::time::timeout(std::time::Duration::from_secs(2), scope.dispose()).await?.expect_err("both hooks fail");
    let sources: Vec<&BoxError> = err
        .failures()
        .iter()
        .map(|f| match f {
            DisposeFailure::Failed { source, .. } => source,
            other => panic!("expected Failed, got {other:?}"),
        })
        .collect();
    assert_eq!(sources.len(), 2);
    assert!(sources.iter().any(|s| s.downcast_ref::<QuotaExceeded>() == Some(&QuotaExceeded { limit: 3 })));
    assert!(
        sources
            .iter()
            .any(|s| s.downcast_ref::<io::Error>().map(io::Error::kind) == Some(ErrorKind::ConnectionRefused))
    );
    Ok(())
}
