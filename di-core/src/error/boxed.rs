//! Turning a user's error, of any type, into the [`BoxError`] the container carries, keeping its
//! type so callers can downcast to it.

use super::BoxError;

/// `error` as a [`BoxError`] whose concrete type is the user's own error.
///
/// `Into<BoxError>` does that for every `std::error::Error`, but not for `anyhow::Error`: anyhow's
/// conversion boxes its private wrapper, and `downcast_ref::<MyError>()` then fails on every
/// link of the chain. With the `anyhow` feature, an `anyhow::Error` is reallocated into a box
/// of the error it holds instead (its backtrace, if any, is not kept).
pub(crate) fn into_box_error<E: Into<BoxError> + 'static>(error: E) -> BoxError {
    #[cfg(feature = "anyhow")]
    {
        // `E` is a type parameter, so this is a compile-time branch once monomorphised.
        let mut slot = Some(error);
        if let Some(anyhow) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<anyhow::Error>>() {
            let anyhow = anyhow.take().expect("the slot was just filled");
            return anyhow.reallocate_into_boxed_dyn_error_without_backtrace();
        }
        let Some(error) = slot else { unreachable!("the slot is only emptied above") };
        error.into()
    }
    #[cfg(not(feature = "anyhow"))]
    {
        error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("refused")]
    struct Refused;

    #[test]
    fn a_std_error_keeps_its_type() {
        assert!(into_box_error(Refused).downcast_ref::<Refused>().is_some());
    }

    #[cfg(feature = "anyhow")]
    #[test]
    fn an_anyhow_error_is_unwrapped_to_the_error_it_holds() {
        let boxed = into_box_error(anyhow::Error::new(Refused));
        assert!(boxed.downcast_ref::<Refused>().is_some(), "got {boxed:?}");
        let with_context = into_box_error(anyhow::Error::new(Refused).context("connecting"));
        assert_eq!(with_context.to_string(), "connecting");
        let source = with_context.source().expect("the context keeps its cause");
        assert!(source.downcast_ref::<Refused>().is_some());
    }
}
