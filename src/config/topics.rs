//! The SNS topics to publish to, as the function and `qase-backfill` both read them.

use super::{ConfigError, TopicArn, Vars};
use crate::fanout::{Companions, Topics};
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

/// The topics to publish to, by ARN.
pub type TopicConfig = Topics<TopicArn>;

/// The events topic is required; the notifications and chat topics must be standard topics
/// (SNS delivers FIFO topics only to SQS).
pub(super) fn from_vars(vars: &Vars) -> Result<TopicConfig, ConfigError> {
    let topic = |name: &'static str| {
        let parse = |arn| TopicArn::parse(arn).map_err(|reason| ConfigError::invalid(name, reason));
        vars.get(name).map(parse).transpose()
    };
    let events = topic(ENV_TOPIC_ARN)?.ok_or(ConfigError::Missing(ENV_TOPIC_ARN))?;
    let notifications = topic(ENV_NOTIFICATION_TOPIC_ARN)?;
    if notifications.as_ref().is_some_and(TopicArn::is_fifo) {
        return Err(ConfigError::invalid(
            ENV_NOTIFICATION_TOPIC_ARN,
            "must be a standard topic: SNS cannot deliver a FIFO topic to email",
        ));
    }
    let chat = topic(ENV_CHAT_TOPIC_ARN)?;
    if chat.as_ref().is_some_and(TopicArn::is_fifo) {
        return Err(ConfigError::invalid(
            ENV_CHAT_TOPIC_ARN,
            "must be a standard topic: SNS delivers FIFO topics only to SQS",
        ));
    }
    Ok(Topics {
        chat_filter: chat_filter(vars, chat.is_some())?,
        fifo_events: events.is_fifo(),
        events,
        companions: Companions {
            notification: notifications,
            chat,
        },
    })
}

/// The chat topic's filter policy, when set (only with a chat topic).
fn chat_filter(vars: &Vars, chat_topic: bool) -> Result<Option<FilterPolicy>, ConfigError> {
    let Some(policy) = vars.get(ENV_CHAT_FILTER_POLICY) else {
        return Ok(None);
    };
    if !chat_topic {
        return Err(ConfigError::invalid(
            ENV_CHAT_FILTER_POLICY,
            "is set without CHAT_TOPIC_ARN",
        ));
    }
    FilterPolicy::parse(policy)
        .map(Some)
        .map_err(|source| ConfigError::FilterPolicy {
            name: ENV_CHAT_FILTER_POLICY,
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{ARN, SECRET, config};
    use super::*;
    use crate::config::ENV_SECRET;

    #[test]
    fn a_fifo_arn_switches_on_fifo_publishing() {
        let arn = "arn:aws:sns:us-east-1:123456789012:qase-defects.fifo";
        let c = config(&[(ENV_TOPIC_ARN, arn), (ENV_SECRET, SECRET)]).unwrap();
        assert!(c.topics.events.is_fifo());
    }
    #[test]
    fn reads_an_optional_standard_notification_topic() {
        let none = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)]).unwrap();
        assert_eq!(none.topics.companions.notification, None);
        let people = "arn:aws:sns:eu-west-1:123456789012:qase-notifications";
        let some = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_NOTIFICATION_TOPIC_ARN, people),
            (ENV_SECRET, SECRET),
        ])
        .unwrap();
        assert_eq!(
            some.topics.companions.notification.unwrap().as_str(),
            people
        );

        for (arn, why) in [
            (
                "arn:aws:sns:eu-west-1:123456789012:people.fifo",
                "must be a standard topic",
            ),
            ("people", "expected arn:"),
        ] {
            let err = config(&[
                (ENV_TOPIC_ARN, ARN),
                (ENV_NOTIFICATION_TOPIC_ARN, arn),
                (ENV_SECRET, SECRET),
            ])
            .unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("NOTIFICATION_TOPIC_ARN is invalid: "),
                "{text}"
            );
            assert!(text.contains(why), "{text}");
        }
    }
    #[test]
    fn reads_an_optional_standard_chat_topic_and_its_filter_policy() {
        let chat = "arn:aws:sns:eu-west-1:123456789012:qase-chat";
        let none = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)]).unwrap();
        assert_eq!(
            (none.topics.companions.chat, none.topics.chat_filter),
            (None, None)
        );
        let policy = r#"{"event_name":["defect.created","defect.resolved"]}"#;
        let c = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (ENV_CHAT_TOPIC_ARN, chat),
            (ENV_CHAT_FILTER_POLICY, policy),
        ])
        .unwrap();
        assert_eq!(c.topics.companions.chat.unwrap().as_str(), chat);
        assert_eq!(
            c.topics.chat_filter,
            Some(crate::filter::FilterPolicy::parse(policy).unwrap())
        );

        for (vars, starts) in [
            (
                vec![(ENV_CHAT_TOPIC_ARN, "arn:aws:sns:eu-west-1:1:chat.fifo")],
                "CHAT_TOPIC_ARN is invalid: must be a standard topic",
            ),
            (
                vec![(ENV_CHAT_FILTER_POLICY, policy)],
                "CHAT_FILTER_POLICY is invalid: is set without CHAT_TOPIC_ARN",
            ),
            (
                vec![
                    (ENV_CHAT_TOPIC_ARN, chat),
                    (ENV_CHAT_FILTER_POLICY, r#"{"a":[{"cidr":"10.0.0.0/8"}]}"#),
                ],
                "CHAT_FILTER_POLICY is invalid",
            ),
        ] {
            let mut all = vec![(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)];
            all.extend(vars);
            let err = config(&all).unwrap_err();
            assert!(err.to_string().starts_with(starts), "{err}");
        }
    }
    #[test]
    fn rejects_malformed_topic_arns_naming_the_variable() {
        for arn in [
            "qase-defects",
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns::123456789012:t",
            "arn:aws:sns:eu-west-1:123456789012",
            "arn:aws:sns:eu-west-1:123456789012:t:extra",
        ] {
            let err = config(&[(ENV_TOPIC_ARN, arn), (ENV_SECRET, SECRET)]).unwrap_err();
            assert!(
                err.to_string().starts_with("TOPIC_ARN is invalid"),
                "{arn}: {err}"
            );
        }
    }
}
