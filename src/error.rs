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

/// Every failure a use case or resolver can report. Cheap to clone (loaders share errors).
#[derive(Debug, Clone)]
pub enum AppError {
    /// The input is malformed or out of range: a bad id, cursor, page size or value.
    BadUserInput(String),
    /// The thing asked for does not exist (or the caller may not know it exists).
    NotFound(String),
    /// The database is down or every connection is busy; the client may retry.
    ServiceUnavailable(Arc<anyhow::Error>),
    /// A bug or an unexpected failure; details go to the log only.
    Internal(Arc<anyhow::Error>),
}

/// The `extensions.code` values Bazaar sends.
pub mod codes {
    /// The request's input is malformed or out of range.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// The requested object does not exist.
    pub const NOT_FOUND: &str = "NOT_FOUND";
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

    /// Shorthand for [`AppError::Internal`] from any error.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(Arc::new(error.into()))
    }

    /// The `extensions.code` this error is sent with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput(_) => codes::BAD_USER_INPUT,
            Self::NotFound(_) => codes::NOT_FOUND,
            Self::ServiceUnavailable(_) => codes::SERVICE_UNAVAILABLE,
            Self::Internal(_) => codes::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> &str {
        match self {
            Self::BadUserInput(message) | Self::NotFound(message) => message,
            Self::ServiceUnavailable(_) => "the service is temporarily unavailable, please retry",
            Self::Internal(_) => "internal server error",
        }
    }

    /// The full description, with the cause chain, for logs and the command line.
    pub fn detail(&self) -> String {
        match self {
            Self::BadUserInput(message) | Self::NotFound(message) => message.clone(),
            Self::ServiceUnavailable(cause) | Self::Internal(cause) => format!("{cause:#}"),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => Self::NotFound("not found".into()),
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Self::ServiceUnavailable(Arc::new(error.into())),
            other => Self::internal(other),
        }
    }
}

impl From<r2d2::Error> for AppError {
    fn from(error: r2d2::Error) -> Self {
        Self::ServiceUnavailable(Arc::new(error.into()))
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        if let AppError::Internal(_) | AppError::ServiceUnavailable(_) = error {
            tracing::error!(error = %error.detail(), code = error.code(), "request failed");
        }
        let code = error.code();
        async_graphql::Error::new(error.public_message())
            .extend_with(|_, ext| ext.set("code", code))
    }
}

impl From<AppError> for anyhow::Error {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Internal(cause) | AppError::ServiceUnavailable(cause) => {
                anyhow::anyhow!("{cause:#}")
            }
            AppError::BadUserInput(message) | AppError::NotFound(message) => {
                anyhow::Error::msg(message)
            }
        }
    }
}

/// Result of a use case or database call.
pub type AppResult<T> = Result<T, AppError>;
