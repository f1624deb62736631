//! The port the handler publishes through, and why a publish can fail.
//!
//! [`Publisher`] is one method: publish one [`Outbound`] message, answer its SNS message id.
//! `crate::aws::sns::SnsPublisher` is the production adapter; the tests have a recording
//! fake. [`PublishError`] says what went wrong in words an operator can act on, and whether
//! trying again may help; it carries the adapter's cause but no SDK type.

use std::future::Future;

use crate::message::Outbound;

/// Why SNS did not take a message. Whether it is worth retrying decides the HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// SNS (or KMS behind it) throttled us; retrying later will work.
    #[error("sns throttled the publish")]
    Throttled(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// SNS could not be reached in time or failed on its side; retrying may work.
    #[error("sns was unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// SNS refused the publish (permissions, missing topic, invalid parameter).
    #[error("sns rejected the publish")]
    Rejected(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// SNS answered success without a message id, so delivery cannot be confirmed.
    #[error("sns answered without a message id")]
    NoMessageId,
}

impl PublishError {
    /// Whether the same request may succeed if Qase (or anyone) sends it again.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled(_) | Self::Unavailable(_))
    }

    /// The stable, machine-readable code clients (and the log) see.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Throttled(_) => "sns_throttled",
            Self::Unavailable(_) => "sns_unavailable",
            Self::Rejected(_) | Self::NoMessageId => "sns_rejected",
        }
    }
}

/// The port: publish one message, answer its SNS message id.
pub trait Publisher {
    /// Publishes `outbound` once (the adapter may retry internally within its budget).
    fn publish(
        &self,
        outbound: &Outbound<'_>,
    ) -> impl Future<Output = Result<String, PublishError>> + Send;
}
