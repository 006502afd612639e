//! `HostBuilder`: services and options, built into a `Host`.

use std::sync::Arc;
use std::time::Duration;

use di_core::{Lifetime, ProviderOptions, ServiceCollection, Source};

use crate::background::{BackgroundFailures, HostContext};
use crate::error::HostError;
use crate::host::{Host, Parts};
use crate::lifetime::ApplicationLifetime;
use crate::options::{FailurePolicy, HostOptions};
use crate::status::StatusBoard;
use crate::tasks::HostTasks;

/// Configures and builds a [`Host`]: services on a [`ServiceCollection`], and [`HostOptions`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use di_core::{Lifetime, Source};
/// use di_hosting::Host;
///
/// let host = Host::builder()
///     .shutdown_timeout(Duration::from_secs(10))
///     .configure_services(|services| {
///         services.add(Lifetime::Singleton, Source::instance(String::from("config")));
///     })
///     .build()?;
/// assert_eq!(*host.provider().get::<String>()?, "config");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct HostBuilder {
    services: ServiceCollection,
    options: HostOptions,
    provider_options: ProviderOptions,
}

// ===== impl HostBuilder =====

impl HostBuilder {
    /// A builder with no services and default options.
    ///
    /// # Examples
    ///
    /// ```
    /// let host = di_hosting::HostBuilder::new().build()?;
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The services the host's container will be built from.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, Source};
    /// let mut builder = di_hosting::HostBuilder::new();
    /// builder.services().add(Lifetime::Singleton, Source::instance(7u8));
    /// assert_eq!(*builder.build()?.provider().get::<u8>()?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn services(&mut self) -> &mut ServiceCollection {
        &mut self.services
    }

    /// Adds services, chaining.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::{Lifetime, Source};
    /// use di_hosting::{HostBuilder, HostingServiceCollectionExt};
    /// # struct Cache;
    /// # #[async_trait::async_trait]
    /// # impl di_hosting::HostedService for Cache {
    /// #     async fn start(&self, _: di_hosting::CancellationToken) -> anyhow::Result<()> { Ok(()) }
    /// #     async fn stop(&self, _: di_hosting::CancellationToken) -> anyhow::Result<()> { Ok(()) }
    /// # }
    /// let host = HostBuilder::new()
    ///     .configure_services(|s| {
    ///         s.add(Lifetime::Singleton, Source::instance(1u8));
    ///         s.add_hosted_service_with(|_| Ok(Cache));
    ///     })
    ///     .build()?;
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    #[must_use]
    pub fn configure_services(mut self, configure: impl FnOnce(&mut ServiceCollection)) -> Self {
        configure(&mut self.services);
        self
    }

    /// Replaces the options.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{HostBuilder, HostOptions};
    /// let host = HostBuilder::new().options(HostOptions::default()).build()?;
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    #[must_use]
    pub fn options(mut self, options: HostOptions) -> Self {
        self.options = options;
        self
    }

    /// Changes the options in place.
    ///
    /// # Examples
    ///
    /// ```
    /// let host = di_hosting::HostBuilder::new()
    ///     .configure_options(|o| o.services_start_concurrently = true)
    ///     .build()?;
    /// assert!(host.options().services_start_concurrently);
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    #[must_use]
    pub fn configure_options(mut self, configure: impl FnOnce(&mut HostOptions)) -> Self {
        configure(&mut self.options);
        self
    }

    /// Sets [`HostOptions::shutdown_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let host = di_hosting::HostBuilder::new().shutdown_timeout(Duration::from_secs(1)).build()?;
    /// assert_eq!(host.options().shutdown_timeout, Duration::from_secs(1));
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.options.shutdown_timeout = timeout;
        self
    }

    /// Sets [`HostOptions::startup_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let host = di_hosting::HostBuilder::new().startup_timeout(Duration::from_secs(30)).build()?;
    /// assert_eq!(host.options().startup_timeout, Some(Duration::from_secs(30)));
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    #[must_use]
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.options.startup_timeout = Some(timeout);
        self
    }

    /// Sets [`HostOptions::background_service_failure`].
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{FailurePolicy, HostBuilder};
    /// let host = HostBuilder::new().background_service_failure(FailurePolicy::Ignore).build()?;
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    #[must_use]
    pub fn background_service_failure(mut self, policy: FailurePolicy) -> Self {
        self.options.background_service_failure = policy;
        self
    }

    /// Options for the container (scope validation, validation on build).
    ///
    /// # Examples
    ///
    /// ```
    /// use di_core::ProviderOptions;
    /// let host = di_hosting::HostBuilder::new().provider_options(ProviderOptions::default()).build()?;
    /// # Ok::<(), di_hosting::HostError>(())
    /// ```
    #[must_use]
    pub fn provider_options(mut self, options: ProviderOptions) -> Self {
        self.provider_options = options;
        self
    }

    /// Builds the container and the host. Registers `ApplicationLifetime` and [`HostOptions`]
    /// as singletons first, so services can depend on them.
    ///
    /// # Errors
    ///
    /// [`HostError::Build`] when the container fails validation.
    ///
    /// # Examples
    ///
    /// ```
    /// use di_hosting::{ApplicationLifetime, HostBuilder};
    /// let host = HostBuilder::new().build()?;
    /// assert!(host.provider().get::<ApplicationLifetime>().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Host, HostError> {
        let Self { mut services, options, provider_options } = self;
        let lifetime = Arc::new(ApplicationLifetime::new());
        let failures = Arc::new(BackgroundFailures::default());
        services.add(Lifetime::Singleton, Source::<ApplicationLifetime>::instance(lifetime.clone()));
        services.add(Lifetime::Singleton, Source::<HostOptions>::instance(options.clone()));
        services.add(Lifetime::Singleton, Source::<BackgroundFailures>::instance(failures.clone()));
        // Every task the host and its services spawn runs on this one tracker, under its token.
        let tasks = Arc::new(HostTasks::default());
        let status = Arc::new(StatusBoard::new(tasks.root()));
        services.add(Lifetime::Singleton, Source::<HostTasks>::instance(tasks.clone()));
        services.add(Lifetime::Singleton, Source::<StatusBoard>::instance(status.clone()));
        // What every background service needs from the host, shared by them all.
        let context = HostContext::in_host(
            lifetime.clone(),
            options.background_service_failure,
            failures.clone(),
            tasks.clone(),
            status.clone(),
        );
        services.add(Lifetime::Singleton, Source::<HostContext>::instance(context));
        let provider = services.build_with(provider_options)?;
        Ok(Host::new(Parts { provider, lifetime, options, failures, tasks, status }))
    }
}
