//! The plan: one admitted webhook, its checked body and what the Qase API said of the defect
//! become every message to publish, one per configured topic.
//!
//! The only code that assembles messages: the handler and `qase-backfill` publish what the
//! plan says and the fuzz target checks it. Pure: the words are `crate::summary`'s, the
//! messages and their AWS limits `crate::message`'s; nothing here knows of HTTP, SNS or the
//! Qase API.

use std::borrow::Cow;

use crate::filter::FilterPolicy;
use crate::message::{ATTR_SEVERITY, DeliverableBody, Outbound};
use crate::qase::{DefectDetails, Webhook};
use crate::summary;

/// The topics the function publishes to, each as `T`: an ARN in the configuration, a
/// publisher in the handler. The events topic is always there; the others when configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Topics<T> {
    /// Every webhook, byte for byte: the system of record, whose answer decides the response.
    pub events: T,
    /// Whether the events topic is FIFO: its message then carries group and deduplication ids.
    pub fifo_events: bool,
    /// The notifications and chat topics, when configured.
    pub companions: Companions<T>,
    /// What may reach the chat topic, when not everything: its channel's own subscription
    /// cannot have a filter policy, so the plan applies it (`crate::filter`).
    pub chat_filter: Option<FilterPolicy>,
}

/// What belongs to the topics besides the events topic: the text people read (email) and the
/// chat message (Slack, Microsoft Teams, through Amazon Q Developer). Each is optional: a
/// topic, its message in a plan, its answer to a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companions<T> {
    /// The notifications topic's.
    pub notification: Option<T>,
    /// The chat topic's.
    pub chat: Option<T>,
}

/// The names of the companion topics in answers and logs (`notification_id`, `chat_error`...).
pub const NOTIFICATION: &str = "notification";
/// See [`NOTIFICATION`].
pub const CHAT: &str = "chat";

impl<T> Default for Companions<T> {
    fn default() -> Self {
        Self {
            notification: None,
            chat: None,
        }
    }
}

impl<T> Companions<T> {
    /// Each one present, by name: the notification's first.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &T)> {
        [(NOTIFICATION, &self.notification), (CHAT, &self.chat)]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value.as_ref()?)))
    }
}

/// Every message one webhook becomes. All carry the same attributes and subject, so that one
/// filter policy selects the same events on every topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'a> {
    /// The events topic's: the body byte for byte.
    pub events: Outbound<'a>,
    /// The notification and the chat message, for the topics configured (the chat message
    /// only when the chat filter selects the event).
    pub companions: Companions<Outbound<'static>>,
}

/// The plan for `webhook`, whose checked body is `body`, on `topics`. `details` is what the
/// Qase API said of the defect, when enrichment added something.
pub fn plan<'a, T>(
    webhook: &Webhook,
    body: DeliverableBody<'a>,
    details: Option<&DefectDetails>,
    topics: &Topics<T>,
) -> Plan<'a> {
    let events = Outbound::event(webhook, body, topics.fifo_events, details);
    let severity = events.attribute(ATTR_SEVERITY);
    let chat_selects =
        (topics.chat_filter.as_ref()).is_none_or(|policy| policy.matches(&events.attributes));
    let facts = summary::Facts::new(webhook, details, severity);
    let subject = facts.subject();
    let notification = (topics.companions.notification.as_ref()).map(|_| facts.text());
    let chat = (topics.companions.chat.as_ref())
        .filter(|_| chat_selects)
        .map(|_| facts.chat());
    // The companions carry the event's subject and attributes (so that a filter policy
    // selects the same events on every topic) and are never FIFO: SNS delivers FIFO topics
    // to SQS only, not to email or chat. `crate::summary`'s cuts keep them far under
    // `MAX_PUBLISH_BYTES`.
    let companion = |message: String| Outbound {
        message: Cow::Owned(message),
        subject: subject.clone(),
        attributes: events.attributes.clone(),
        fifo: None,
    };
    let companions = Companions {
        notification: notification.map(companion),
        chat: chat.map(companion),
    };
    Plan {
        events: Outbound { subject, ..events },
        companions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ATTR_EVENT_NAME;

    const BODY: &str = r#"{"event_name":"defect.created","payload":{"id":42,"title":"Login button does nothing","severity":"critical"},"project_code":"DEMO"}"#;

    /// Topics of `()`: the plan reads only which are configured.
    fn topics(fifo_events: bool, notification: bool, chat: bool) -> Topics<()> {
        Topics {
            events: (),
            fifo_events,
            companions: Companions {
                notification: notification.then_some(()),
                chat: chat.then_some(()),
            },
            chat_filter: None,
        }
    }

    fn plan_for(topics: &Topics<()>) -> Plan<'static> {
        let webhook = Webhook::parse(BODY).unwrap();
        plan(
            &webhook,
            DeliverableBody::new(&webhook, BODY).unwrap(),
            None,
            topics,
        )
    }

    fn names(plan: &Plan<'_>) -> Vec<&'static str> {
        plan.companions.iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn one_message_per_configured_topic() {
        let only = plan_for(&topics(false, false, false));
        assert!(names(&only).is_empty());
        let both = plan_for(&topics(true, true, false));
        assert_eq!(names(&both), [NOTIFICATION]);
        let (event, note) = (&both.events, both.companions.notification.as_ref().unwrap());
        assert_eq!(event.message, BODY, "machines get the body byte for byte");
        assert_eq!(
            note.message,
            "Qase project DEMO: defect.created\n\
             Defect #42: Login button does nothing\n\
             Severity: critical\n\
             Open in Qase: https://app.qase.io/defect/DEMO/42\n"
        );
        assert_eq!(
            event.subject,
            "[DEMO] defect.created #42: Login button does nothing"
        );
        assert_eq!(
            (&note.subject, &note.attributes),
            (&event.subject, &event.attributes)
        );
        assert_eq!(event.attribute(ATTR_EVENT_NAME), Some("defect.created"));
        assert!(event.fifo.is_some());
        assert_eq!(note.fifo, None, "the notifications topic is never FIFO");
    }

    #[test]
    fn the_chat_message_goes_out_when_the_filter_policy_selects_the_event() {
        let chat_topics = |filter: Option<&str>| Topics {
            chat_filter: filter.map(|f| FilterPolicy::parse(f).unwrap()),
            ..topics(false, false, true)
        };
        let all = plan_for(&Topics {
            fifo_events: true,
            ..chat_topics(None)
        });
        assert_eq!(names(&all), [CHAT]);
        let message = &all.companions.chat.as_ref().unwrap();
        let chat: serde_json::Value = serde_json::from_str(&message.message).unwrap();
        assert_eq!(chat["metadata"]["threadId"], "qase-DEMO-defect-42");
        assert_eq!(message.attributes, all.events.attributes);
        assert_eq!(message.fifo, None, "the chat topic is never FIFO");

        let selects = plan_for(&chat_topics(Some(r#"{"event_name":["defect.created"]}"#)));
        assert_eq!(names(&selects), [CHAT]);
        let other = plan_for(&chat_topics(Some(r#"{"event_name":["defect.resolved"]}"#)));
        assert!(names(&other).is_empty());
    }

    #[test]
    fn the_attribute_the_email_and_the_chat_message_show_one_severity() {
        let severity_in = |plan: &Plan<'_>| {
            let chat = &plan.companions.chat.as_ref().unwrap().message;
            let chat: serde_json::Value = serde_json::from_str(chat).unwrap();
            let email = &plan.companions.notification.as_ref().unwrap().message;
            (
                plan.events.attribute(ATTR_SEVERITY).map(str::to_owned),
                (email.lines())
                    .find_map(|l| l.strip_prefix("Severity: "))
                    .map(str::to_owned),
                (chat["content"]["description"].as_str().unwrap().lines())
                    .find_map(|l| l.strip_prefix("Severity: "))
                    .map(str::to_owned),
            )
        };
        let looked_up = DefectDetails {
            severity: Some("critical".into()),
            ..DefectDetails::default()
        };
        let all = topics(false, true, true);
        // The payload's severity first, whatever the event; else the Qase API's.
        for (body, details, shown) in [
            (
                r#"{"event_name":"defect.resolved","payload":{"id":4,"severity":"major"},"project_code":"DEMO"}"#,
                Some(&looked_up),
                "major",
            ),
            (
                r#"{"event_name":"defect.resolved","payload":{"id":4},"project_code":"DEMO"}"#,
                Some(&looked_up),
                "critical",
            ),
            (
                r#"{"event_name":"defect.created","payload":{"id":4,"severity":"minor"},"project_code":"DEMO"}"#,
                None,
                "minor",
            ),
        ] {
            let webhook = Webhook::parse(body).unwrap();
            let body = DeliverableBody::new(&webhook, body).unwrap();
            let plan = plan(&webhook, body, details, &all);
            let shown = Some(shown.to_owned());
            assert_eq!(severity_in(&plan), (shown.clone(), shown.clone(), shown));
        }
    }
}
