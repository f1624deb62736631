//! The port the handler (and `qase-backfill`) publishes through, and why a publish can fail.
//!
//! [`Publisher`] is one method: publish one [`Outbound`] message, answer its SNS message id.
//! `crate::aws::sns::SnsPublisher` is the production adapter; the tests have a recording
//! fake. [`PublishError`] says what went wrong in words an operator can act on, and whether
//! trying again may help; it carries the adapter's cause but no SDK type. [`Destinations`]
//! are the configured topics, one publisher each: a plan goes out through
//! [`Destinations::publish`].

use std::future::Future;

use futures_util::future::join_all;

use crate::fanout::{Planned, Topic, Topics};
use crate::filter::FilterPolicy;
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

/// What one topic answered to its message of a plan.
#[derive(Debug)]
pub struct Delivery {
    /// The topic.
    pub topic: Topic,
    /// Its message id, or why not.
    pub answer: Result<String, PublishError>,
}

/// The configured topics, a publisher each, and how the plan is made for them.
#[derive(Debug)]
pub struct Destinations<P> {
    /// The events topic: every webhook, byte for byte; its answer decides the response.
    pub events: P,
    /// Whether the events topic is FIFO (its messages carry group and deduplication ids).
    pub fifo_events: bool,
    /// The notifications topic, when configured: the text people read.
    pub notifications: Option<P>,
    /// The chat topic, when configured: Amazon Q Developer's custom notification.
    pub chat: Option<P>,
    /// What may reach the chat topic, when not every event (`CHAT_FILTER_POLICY`).
    pub chat_filter: Option<FilterPolicy>,
}

impl<P> Destinations<P> {
    /// The events topic alone, a standard one.
    pub fn new(events: P) -> Self {
        Self {
            events,
            fifo_events: false,
            notifications: None,
            chat: None,
            chat_filter: None,
        }
    }

    /// What the plan is made for.
    #[must_use]
    pub fn topics(&self) -> Topics<'_> {
        Topics {
            fifo_events: self.fifo_events,
            notifications: self.notifications.is_some(),
            chat: self.chat.is_some(),
            chat_filter: self.chat_filter.as_ref(),
        }
    }

    /// The publisher of `topic`, when it is configured.
    fn publisher(&self, topic: Topic) -> Option<&P> {
        match topic {
            Topic::Events => Some(&self.events),
            Topic::Notifications => self.notifications.as_ref(),
            Topic::Chat => self.chat.as_ref(),
        }
    }
}

impl<P: Publisher> Destinations<P> {
    /// Publishes every message of `plan` to its topic, concurrently; answers each topic's
    /// answer in the plan's order (the events topic's first). A message for a topic that is
    /// not configured is skipped: the plan was made for other destinations.
    pub async fn publish(&self, plan: &[Planned<'_>]) -> Vec<Delivery> {
        let sends = plan.iter().filter_map(|planned| {
            let publisher = self.publisher(planned.topic)?;
            Some(async move {
                Delivery {
                    topic: planned.topic,
                    answer: publisher.publish(&planned.outbound).await,
                }
            })
        });
        join_all(sends).await
    }
}
