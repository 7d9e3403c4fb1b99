//! The one error policy: [`AppError`] at every boundary, mapped to a GraphQL error with
//! `extensions.code` in one place.
//!
//! Expected failures a client can act on carry their message to the client. Anything unexpected
//! (`Internal`) is logged with its whole cause chain and shown only as a generic message; the HTTP
//! handler adds the request id so the two can be matched up.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts any `Display`
//! type into an error *without* a code, so `?` on an `AppError` must go through the conversion
//! below instead.

use std::sync::Arc;

use async_graphql::ErrorExtensions as _;

use crate::domain::rejection::Rejection;

/// Every failure a use case or resolver can report. Cheap to clone (loaders share errors).
#[derive(Debug, Clone)]
pub enum AppError {
    /// The input is malformed or out of range: a bad id, cursor, page size or value.
    BadUserInput(String),
    /// The thing asked for does not exist (or the caller may not know it exists).
    NotFound(String),
    /// Expected business failures the client can correct; mutations return them as
    /// `userErrors`, anywhere else they are `BAD_USER_INPUT`.
    Rejected(Vec<Rejection>),
    /// The operation needs a signed-in caller (or the session token sent is not valid).
    Unauthenticated(String),
    /// The caller is known but may not do this.
    Forbidden,
    /// Too many attempts; retry after this many seconds.
    RateLimited {
        /// Seconds until the next attempt may succeed.
        retry_after_secs: u64,
    },
    /// The database is down or every connection is busy; the client may retry.
    ServiceUnavailable(Arc<anyhow::Error>),
    /// A bug or an unexpected failure; details go to the log only.
    Internal(Arc<anyhow::Error>),
}

/// Whether `error` is a database unique-key violation (a concurrent request claimed the same
/// key first).
pub fn is_unique_violation(error: &AppError) -> bool {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    matches!(error, AppError::Internal(cause) if matches!(
        cause.downcast_ref::<DieselError>(),
        Some(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
    ))
}

/// The `extensions.code` values Bazaar sends.
pub mod codes {
    /// The request's input is malformed or out of range.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// The requested object does not exist.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// A signed-in caller is needed, or the session token is invalid, expired or revoked.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// The caller may not do this.
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// Too many attempts; `extensions.retryAfter` says in how many seconds to retry.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// The database is unavailable; retry later.
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    /// An unexpected failure; the log has the cause under the request id.
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
}

impl AppError {
    /// Shorthand for [`AppError::BadUserInput`].
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadUserInput(message.into())
    }

    /// One rejection.
    pub fn rejected(rejection: Rejection) -> Self {
        Self::Rejected(vec![rejection])
    }

    /// The same error, with the field paths of its rejections under `prefix` (an argument name).
    pub fn under(self, prefix: &str) -> Self {
        match self {
            Self::Rejected(rejections) => Self::Rejected(
                rejections
                    .into_iter()
                    .map(|r| {
                        if r.field.is_empty() {
                            r
                        } else {
                            r.under(prefix)
                        }
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    /// Shorthand for [`AppError::Internal`] from any error.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(Arc::new(error.into()))
    }

    /// The `extensions.code` this error is sent with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput(_) | Self::Rejected(_) => codes::BAD_USER_INPUT,
            Self::NotFound(_) => codes::NOT_FOUND,
            Self::Unauthenticated(_) => codes::UNAUTHENTICATED,
            Self::Forbidden => codes::FORBIDDEN,
            Self::RateLimited { .. } => codes::RATE_LIMITED,
            Self::ServiceUnavailable(_) => codes::SERVICE_UNAVAILABLE,
            Self::Internal(_) => codes::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            Self::BadUserInput(message)
            | Self::NotFound(message)
            | Self::Unauthenticated(message) => message.clone(),
            Self::Rejected(rejections) => rejections
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            Self::Forbidden => "you are not allowed to do this".to_owned(),
            Self::RateLimited { retry_after_secs } => {
                format!("too many attempts; retry in {retry_after_secs} s")
            }
            Self::ServiceUnavailable(_) => {
                "the service is temporarily unavailable, please retry".to_owned()
            }
            Self::Internal(_) => "internal server error".to_owned(),
        }
    }

    /// The full description, with the cause chain, for logs and the command line.
    pub fn detail(&self) -> String {
        match self {
            Self::ServiceUnavailable(cause) | Self::Internal(cause) => format!("{cause:#}"),
            other => other.public_message(),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => Self::NotFound("not found".into()),
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::SerializationFailure,
                _,
            ) => Self::ServiceUnavailable(Arc::new(error.into())),
            // SQLite's busy timeout ran out: another writer held the lock too long; or
            // PostgreSQL ended this transaction to break a deadlock (two writers waiting for
            // each other's rows): nothing was written, and trying again will pass.
            Error::DatabaseError(_, ref info)
                if info.message().contains("database is locked")
                    || info.message().contains("deadlock detected") =>
            {
                Self::ServiceUnavailable(Arc::new(error.into()))
            }
            other => Self::internal(other),
        }
    }
}

impl From<r2d2::Error> for AppError {
    fn from(error: r2d2::Error) -> Self {
        Self::ServiceUnavailable(Arc::new(error.into()))
    }
}

/// A stored value that does not open (damaged, or sealed under a key the server lacks): the
/// server's fault, logged with its reason and answered without it.
impl From<crate::domain::sealing::SealingError> for AppError {
    fn from(error: crate::domain::sealing::SealingError) -> Self {
        Self::internal(error)
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        if let AppError::Internal(_) | AppError::ServiceUnavailable(_) = error {
            tracing::error!(error = %error.detail(), code = error.code(), "request failed");
        }
        let code = error.code();
        async_graphql::Error::new(error.public_message()).extend_with(|_, ext| {
            ext.set("code", code);
            match error {
                AppError::RateLimited { retry_after_secs } => {
                    ext.set("retryAfter", retry_after_secs)
                }
                AppError::ServiceUnavailable(_) => ext.set("retryAfter", 1),
                _ => {}
            }
        })
    }
}

impl From<AppError> for anyhow::Error {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Internal(cause) | AppError::ServiceUnavailable(cause) => {
                anyhow::anyhow!("{cause:#}")
            }
            other => anyhow::Error::msg(other.public_message()),
        }
    }
}

/// Result of a use case or database call.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::AppError;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> AppError {
        Error::DatabaseError(kind, Box::new(message.to_owned())).into()
    }

    #[test]
    fn waits_that_end_in_a_refusal_are_unavailability_not_faults() {
        for (kind, message) in [
            (DatabaseErrorKind::Unknown, "deadlock detected"),
            (DatabaseErrorKind::Unknown, "database is locked"),
            (
                DatabaseErrorKind::SerializationFailure,
                "could not serialize access",
            ),
        ] {
            assert!(
                matches!(
                    database_error(kind, message),
                    AppError::ServiceUnavailable(_)
                ),
                "{message}"
            );
        }
        assert!(matches!(
            database_error(DatabaseErrorKind::Unknown, "syntax error at or near"),
            AppError::Internal(_)
        ));
    }
}
