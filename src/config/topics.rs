//! The SNS topics to publish to, as the function and `qase-backfill` both read them.

use super::{ConfigError, TopicArn, Vars};
use crate::filter::FilterPolicy;

/// The SNS topic to publish to (required).
pub const ENV_TOPIC_ARN: &str = "TOPIC_ARN";
/// The SNS topic for people: the short text of each event (optional; a standard topic).
pub const ENV_NOTIFICATION_TOPIC_ARN: &str = "NOTIFICATION_TOPIC_ARN";
/// The SNS topic for chat channels: Amazon Q Developer's custom notification of each event
/// (optional; a standard topic).
pub const ENV_CHAT_TOPIC_ARN: &str = "CHAT_TOPIC_ARN";
/// An SNS filter policy (on message attributes) of what reaches the chat topic (optional;
/// unset: every event). Evaluated by the function: a channel's own subscription cannot have
/// one.
pub const ENV_CHAT_FILTER_POLICY: &str = "CHAT_FILTER_POLICY";

/// The topics to publish to.
#[derive(Debug, Clone)]
pub struct TopicConfig {
    /// The events topic: every webhook, byte for byte.
    pub events: TopicArn,
    /// The notifications topic, when configured: the text people read.
    pub notifications: Option<TopicArn>,
    /// The chat topic, when configured: Amazon Q Developer's custom notifications.
    pub chat: Option<TopicArn>,
    /// What may reach the chat topic, when not every event.
    pub chat_filter: Option<FilterPolicy>,
}

impl TopicConfig {
    /// The events topic is required; the notifications and chat topics must be standard
    /// topics (SNS delivers FIFO topics only to SQS).
    pub(super) fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let topic = |name: &'static str| {
            let parse =
                |arn| TopicArn::parse(arn).map_err(|reason| ConfigError::Invalid { name, reason });
            vars.get(name).map(parse).transpose()
        };
        let events = topic(ENV_TOPIC_ARN)?.ok_or(ConfigError::Missing(ENV_TOPIC_ARN))?;
        let notifications = topic(ENV_NOTIFICATION_TOPIC_ARN)?;
        if notifications.as_ref().is_some_and(TopicArn::is_fifo) {
            return Err(ConfigError::Invalid {
                name: ENV_NOTIFICATION_TOPIC_ARN,
                reason: "must be a standard topic: SNS cannot deliver a FIFO topic to email",
            });
        }
        let chat = topic(ENV_CHAT_TOPIC_ARN)?;
        if chat.as_ref().is_some_and(TopicArn::is_fifo) {
            return Err(ConfigError::Invalid {
                name: ENV_CHAT_TOPIC_ARN,
                reason: "must be a standard topic: SNS delivers FIFO topics only to SQS",
            });
        }
        Ok(Self {
            chat_filter: chat_filter(vars, chat.is_some())?,
            events,
            notifications,
            chat,
        })
    }
}

/// The chat topic's filter policy, when set (only with a chat topic).
fn chat_filter(vars: &Vars, chat_topic: bool) -> Result<Option<FilterPolicy>, ConfigError> {
    let Some(policy) = vars.get(ENV_CHAT_FILTER_POLICY) else {
        return Ok(None);
    };
    if !chat_topic {
        return Err(ConfigError::Invalid {
            name: ENV_CHAT_FILTER_POLICY,
            reason: "is set without CHAT_TOPIC_ARN",
        });
    }
    FilterPolicy::parse(policy)
        .map(Some)
        .map_err(|source| ConfigError::FilterPolicy {
            name: ENV_CHAT_FILTER_POLICY,
            source,
        })
}
