/// Options for [`ServiceCollection::build_with`](crate::ServiceCollection::build_with).
///
/// Both checks are on by default: mistakes surface at `build()` or at the first resolve, not in
/// production traffic.
///
/// # Examples
///
/// ```
/// use di_core::ProviderOptions;
///
/// let options = ProviderOptions::default();
/// assert!(options.validates_scopes() && options.validates_on_build());
/// let relaxed = options.validate_scopes(false);
/// assert!(!relaxed.validates_scopes());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderOptions {
    validate_scopes: bool,
    validate_on_build: bool,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self { validate_scopes: true, validate_on_build: true }
    }
}

impl ProviderOptions {
    /// When on (the default), resolving a scoped service from the root provider is
    /// [`ResolveError::ScopedFromRoot`](crate::ResolveError::ScopedFromRoot) and a singleton that
    /// resolves a scoped service is [`ResolveError::CapturedScoped`](crate::ResolveError::CapturedScoped).
    /// When off, the root acts as a scope that lives as long as the provider.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = di_core::ProviderOptions::default().validate_scopes(false);
    /// assert!(!options.validates_scopes());
    /// ```
    #[must_use]
    pub fn validate_scopes(mut self, on: bool) -> Self {
        self.validate_scopes = on;
        self
    }

    /// When on (the default), `build()` checks every registration's declared dependencies and
    /// fails with every problem it finds.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = di_core::ProviderOptions::default().validate_on_build(false);
    /// assert!(!options.validates_on_build());
    /// ```
    #[must_use]
    pub fn validate_on_build(mut self, on: bool) -> Self {
        self.validate_on_build = on;
        self
    }

    /// Whether scope validation is on.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_core::ProviderOptions::default().validates_scopes());
    /// ```
    pub fn validates_scopes(&self) -> bool {
        self.validate_scopes
    }

    /// Whether build-time validation is on.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(di_core::ProviderOptions::default().validates_on_build());
    /// ```
    pub fn validates_on_build(&self) -> bool {
        self.validate_on_build
    }
}
