//! The port the handler (and `qase-backfill`) publishes through, and why a publish can fail.
//!
//! [`Publisher`] is one method: publish one [`Outbound`] message, answer its SNS message id.
//! `crate::aws::sns::SnsPublisher` is the production adapter; the tests have a recording
//! fake. [`PublishError`] says what went wrong in words an operator can act on, and whether
//! trying again may help; it carries the adapter's cause but no SDK type. A plan goes out
//! through the configured topics, a publisher each: `Topics::publish`.
//!
//! [`Parking`] is the parking queue's port (`crate::aws::sqs::SqsQueue`; see
//! `crate::parking`): it keeps what the events topic refused, and delays a delivery that
//! failed.

use std::future::Future;
use std::time::Duration;

use crate::fanout::{Companions, Plan, Topics};
use crate::message::Outbound;

/// The cause of a failed publish, as the adapter reported it.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why SNS did not take a message: what an operator must fix, and whether trying again may
/// help (which decides the HTTP status).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// SNS, or KMS behind an encrypted topic, throttled the publish; retrying later will work.
    #[error("sns throttled the publish")]
    Throttled(#[source] Cause),
    /// SNS could not be reached in time or failed on its side; retrying may work.
    #[error("sns was unavailable")]
    Unavailable(#[source] Cause),
    /// The topic's KMS key is disabled.
    #[error("the topic's KMS key is disabled")]
    KmsDisabled(#[source] Cause),
    /// The topic's KMS key does not exist.
    #[error("the topic's KMS key was not found")]
    KmsNotFound(#[source] Cause),
    /// SNS may not use the topic's KMS key (key policy, grants).
    #[error("sns may not use the topic's KMS key")]
    KmsAccessDenied(#[source] Cause),
    /// The topic's KMS key is in a state that cannot encrypt (pending deletion, import).
    #[error("the topic's KMS key is not in a usable state")]
    KmsInvalidState(#[source] Cause),
    /// The account needs a KMS subscription to use the topic's key.
    #[error("the account is not subscribed to KMS (opt-in required)")]
    KmsOptInRequired(#[source] Cause),
    /// SNS refused the publish (permissions, missing topic, invalid parameter).
    #[error("sns rejected the publish")]
    Rejected(#[source] Cause),
    /// SNS answered success without a message id, so delivery cannot be confirmed.
    #[error("sns answered without a message id")]
    NoMessageId,
}

impl PublishError {
    /// Whether the same request may succeed if Qase (or anyone) sends it again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled(_) | Self::Unavailable(_))
    }

    /// The stable, machine-readable code clients (and the log) see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Throttled(_) => "sns_throttled",
            Self::Unavailable(_) => "sns_unavailable",
            Self::KmsDisabled(_) => "kms_disabled",
            Self::KmsNotFound(_) => "kms_not_found",
            Self::KmsAccessDenied(_) => "kms_access_denied",
            Self::KmsInvalidState(_) => "kms_invalid_state",
            Self::KmsOptInRequired(_) => "kms_opt_in_required",
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

/// What SNS answered to one message: its message id, or why not.
pub type Answer = Result<String, PublishError>;

impl<P: Publisher> Topics<P> {
    /// Publishes every message of `plan` to its topic, concurrently: the events topic's answer
    /// and the companions'. A companion message for a topic that is not configured is
    /// skipped: the plan was made for other topics.
    pub async fn publish(&self, plan: &Plan<'_>) -> (Answer, Companions<Answer>) {
        // On the heap: three SDK publishes side by side are too large a future to move around
        // (clippy's large_futures): one allocation for the three.
        Box::pin(async {
            tokio::join!(
                self.events.publish(&plan.events),
                self.send_companions(plan)
            )
        })
        .await
    }

    /// Publishes `plan`'s companion messages alone, concurrently (a parked plan, once its
    /// events message is on the events topic: a companion is never sent for an event that is
    /// not).
    pub async fn publish_companions(&self, plan: &Plan<'_>) -> Companions<Answer> {
        Box::pin(self.send_companions(plan)).await
    }

    /// The companions of `plan` sent side by side, each to its topic when both are there.
    async fn send_companions(&self, plan: &Plan<'_>) -> Companions<Answer> {
        let (companions, planned) = (&self.companions, &plan.companions);
        let (notification, chat) = tokio::join!(
            send(
                companions.notification.as_ref(),
                planned.notification.as_ref()
            ),
            send(companions.chat.as_ref(), planned.chat.as_ref()),
        );
        Companions { notification, chat }
    }
}

/// `outbound` published by `publisher`, when both are there.
async fn send<P: Publisher>(
    publisher: Option<&P>,
    outbound: Option<&Outbound<'_>>,
) -> Option<Answer> {
    Some(publisher?.publish(outbound?).await)
}

/// The parking queue: keeps a parked plan until the delivery handler publishes it.
pub trait Parking {
    /// Keeps `parked` (a `crate::parking::park` document); answers its queue message id.
    fn park(&self, parked: &str) -> impl Future<Output = Result<String, Cause>> + Send;

    /// Hides the received message `receipt` for `delay`, after which it is delivered again.
    fn retry_in(
        &self,
        receipt: &str,
        delay: Duration,
    ) -> impl Future<Output = Result<(), Cause>> + Send;
}

/// The parking queue of a function that has none: no value of it exists.
#[derive(Debug, Clone, Copy)]
pub enum NoQueue {}

impl Parking for NoQueue {
    async fn park(&self, _: &str) -> Result<String, Cause> {
        match *self {}
    }

    async fn retry_in(&self, _: &str, _: Duration) -> Result<(), Cause> {
        match *self {}
    }
}
