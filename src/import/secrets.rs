//! Secret-screening step for importers: defers to custody's one set of credential rules.

/// What kind of credential `value` looks like, if any.
pub(crate) fn looks_like_secret(value: &str) -> Option<&'static str> {
    crate::secrets::looks_like_secret(value)
}
