//! The plan: one admitted webhook, its checked body and what the Qase API said of the defect
//! become every message to publish, one per configured topic.
//!
//! The only code that assembles messages: the handler publishes what the plan says and the
//! fuzz target checks it. Pure: the words are `crate::summary`'s, the messages and their AWS
//! limits `crate::message`'s; nothing here knows of HTTP, SNS or the Qase API.

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
}

/// Which topics are configured, and how: what the plan is made for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Topics {
    /// The events topic is FIFO: its message carries group and deduplication ids.
    pub fifo_events: bool,
    /// A notifications topic is configured.
    pub notifications: bool,
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
    topics: Topics,
) -> Result<Vec<Planned<'a>>, MessageError> {
    let subject = summary::subject(webhook, details);
    let event = Outbound::event(webhook, body, subject, topics.fifo_events, details)?;
    let mut plan = Vec::with_capacity(2);
    if topics.notifications {
        let text = summary::text(webhook, details);
        plan.push(Planned {
            topic: Topic::Notifications,
            outbound: event.notification(text),
        });
    }
    plan.insert(
        0,
        Planned {
            topic: Topic::Events,
            outbound: event,
        },
    );
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
}
