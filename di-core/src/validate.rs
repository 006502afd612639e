//! Build-time validation of declared dependencies.

use crate::descriptor::Descriptor;
use crate::error::ValidationError;
use crate::options::ProviderOptions;

/// Every problem in the declared dependency graph, in registration order.
pub(crate) fn validate(_descriptors: &[Descriptor], _options: ProviderOptions) -> Vec<ValidationError> {
    Vec::new()
}
