//! The plan: one admitted webhook, its checked body and what the Qase API said of the defect
//! become every message to publish, one per configured topic.
//!
//! The only code that assembles messages: the handler publishes what the plan says and the
//! fuzz target checks it. Pure: the words are `crate::summary`'s, the messages and their AWS
//! limits `crate::message`'s; nothing here knows of HTTP, SNS or the Qase API.

use crate::filter::FilterPolicy;
use crate::message::{DeliverableBody, MessageError, Outbound};
use crate::qase::{DefectDetails, Webhook};
use crate::summary;

/// A topic the function publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Every webhook, byte for byte: the system of record, whose answer decides the response.
    Events,
    /// The short text people read (email).
    Notifications,
    /// The chat message (Slack, Microsoft Teams, through Amazon Q Developer).
    Chat,
}

impl Topic {
    /// The topic's name in the answer and the log (`notification_id`, `chat_error`...).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Events => "message",
            Self::Notifications => "notification",
            Self::Chat => "chat",
        }
    }
}

/// Which topics are configured, and how: what the plan is made for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Topics<'a> {
    /// The events topic is FIFO: its message carries group and deduplication ids.
    pub fifo_events: bool,
    /// A notifications topic is configured.
    pub notifications: bool,
    /// A chat topic is configured.
    pub chat: bool,
    /// What may reach the chat topic, when not everything: its channel's own subscription
    /// cannot have a filter policy, so the plan applies it (`crate::filter`).
    pub chat_filter: Option<&'a FilterPolicy>,
}

/// One message of the plan and the topic it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned<'a> {
    /// Where it goes.
    pub topic: Topic,
    /// What is published.
    pub outbound: Outbound<'a>,
}

/// Every message one webhook becomes, the events topic's first; all carry the same
/// attributes and subject, so that one filter policy selects the same events on every topic.
/// `details` is what the Qase API said of the defect, when enrichment added something.
/// Refused only when the events topic's message cannot be published (too large).
pub fn plan<'a>(
    webhook: &Webhook,
    body: DeliverableBody<'a>,
    details: Option<&DefectDetails>,
    topics: Topics<'_>,
) -> Result<Vec<Planned<'a>>, MessageError> {
    let subject = summary::subject(webhook, details);
    let event = Outbound::event(webhook, body, subject, topics.fifo_events, details)?;
    let mut others = Vec::with_capacity(2);
    if topics.notifications {
        let text = summary::text(webhook, details);
        others.push(Planned {
            topic: Topic::Notifications,
            outbound: event.companion(text),
        });
    }
    let chat_selects =
        || (topics.chat_filter).is_none_or(|policy| policy.matches(&event.attributes));
    if topics.chat && chat_selects() {
        let message = summary::chat::message(webhook, details);
        others.push(Planned {
            topic: Topic::Chat,
            outbound: event.companion(message),
        });
    }
    let mut plan = Vec::with_capacity(1 + others.len());
    plan.push(Planned {
        topic: Topic::Events,
        outbound: event,
    });
    plan.extend(others);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ATTR_EVENT_NAME;

    const BODY: &str = r#"{"event_name":"defect.created","payload":{"id":42,"title":"Login button does nothing","severity":"critical"},"project_code":"DEMO"}"#;

    fn plan_for(topics: Topics) -> Vec<Planned<'static>> {
        let webhook = Webhook::parse(BODY).unwrap();
        plan(&webhook, DeliverableBody::new(BODY).unwrap(), None, topics).unwrap()
    }

    #[test]
    fn one_message_per_configured_topic_the_events_topic_first() {
        let only = plan_for(Topics::default());
        assert_eq!(
            only.iter().map(|p| p.topic).collect::<Vec<_>>(),
            [Topic::Events]
        );
        let both = plan_for(Topics {
            fifo_events: true,
            notifications: true,
            ..Topics::default()
        });
        assert_eq!(
            both.iter().map(|p| p.topic).collect::<Vec<_>>(),
            [Topic::Events, Topic::Notifications]
        );
        let (event, note) = (&both[0].outbound, &both[1].outbound);
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
        assert!(event.fifo.is_some() && note.fifo.is_none());
    }

    #[test]
    fn the_chat_message_goes_out_when_the_filter_policy_selects_the_event() {
        let chat_topics = |filter| Topics {
            chat: true,
            chat_filter: filter,
            ..Topics::default()
        };
        let all = plan_for(chat_topics(None));
        assert_eq!(
            all.iter().map(|p| p.topic).collect::<Vec<_>>(),
            [Topic::Events, Topic::Chat]
        );
        let chat: serde_json::Value = serde_json::from_str(&all[1].outbound.message).unwrap();
        assert_eq!(chat["metadata"]["threadId"], "qase-DEMO-defect-42");
        assert_eq!(all[1].outbound.attributes, all[0].outbound.attributes);

        let selects = FilterPolicy::parse(r#"{"event_name":["defect.created"]}"#).unwrap();
        assert_eq!(plan_for(chat_topics(Some(&selects))).len(), 2);
        let other = FilterPolicy::parse(r#"{"event_name":["defect.resolved"]}"#).unwrap();
        let events_only = plan_for(chat_topics(Some(&other)));
        assert_eq!(
            events_only.iter().map(|p| p.topic).collect::<Vec<_>>(),
            [Topic::Events]
        );
    }
}
