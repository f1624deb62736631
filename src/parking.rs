//! Parking: what becomes of a plan the events topic refused for a while (SNS throttled or
//! unavailable, its KMS key unusable), so that an outage loses nothing.
//!
//! The handler sends [`park`]'s document to the parking queue (SQS, encrypted with its own
//! key, so a KMS problem of the topic cannot block it) and answers `202`; the delivery
//! handler reads it back with [`unpark`] and publishes it when SNS takes it again, with the
//! same subject, attributes, bodies and FIFO keys: subscribers see what they would have seen.
//! Which refusals park, and why, is [`parks`]. Pure: no SDK types, no I/O.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fanout::{Companions, Plan};
use crate::message::{ATTRIBUTE_NAMES, Attribute, DataType, FifoKeys, Outbound};
use crate::publisher::{Answer, PublishError};

/// The version of the parked document; another is refused (and ends in the dead-letter queue).
pub const PARKED_VERSION: u32 = 1;
/// The first back-off of a parked message SNS still refuses; each receive doubles it.
pub const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest back-off between two deliveries of one parked message.
pub const MAX_RETRY: Duration = Duration::from_mins(15);

/// Whether a refusal of the events topic parks the webhook: the ones that pass, SNS throttled
/// or unavailable (its internal error included) and every KMS refusal of the topic's key (a
/// disabled key, a key policy edit: an operator mends it, and the event must outlive that).
/// `sns_rejected` does not: a missing topic or a denied `sns:Publish` is this stack's own
/// configuration, and an answer without a message id may have published; both stay `5xx`
/// and raise the function's alarm.
pub fn parks(refused: &PublishError) -> bool {
    !matches!(
        refused,
        PublishError::Rejected(_) | PublishError::NoMessageId
    )
}

/// How long a parked message waits before its `receive_count`-th delivery (the first receive
/// is 1) is tried again: [`FIRST_RETRY`], doubled at each receive, at most [`MAX_RETRY`].
pub fn retry_delay(receive_count: u32) -> Duration {
    let doublings = receive_count.saturating_sub(1).min(16);
    (FIRST_RETRY * 2u32.pow(doublings)).min(MAX_RETRY)
}

/// The parked document: the events message as planned, and the companions' messages that
/// were not published (one that was is not sent twice).
#[derive(Debug, Serialize, Deserialize)]
struct Parked<'a> {
    version: u32,
    #[serde(borrow)]
    message: Cow<'a, str>,
    #[serde(borrow)]
    subject: Cow<'a, str>,
    #[serde(borrow)]
    attributes: Vec<ParkedAttribute<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fifo: Option<ParkedFifo<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    notification: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    chat: Option<Cow<'a, str>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ParkedAttribute<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    data_type: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ParkedFifo<'a> {
    #[serde(borrow)]
    group: Cow<'a, str>,
    #[serde(borrow)]
    deduplication: Cow<'a, str>,
}

/// Why a parking queue message is not a parked plan.
#[derive(Debug, thiserror::Error)]
pub enum ParkedError {
    /// Not the JSON [`park`] writes.
    #[error("the parked message is not a parked plan")]
    Malformed(#[source] serde_json::Error),
    /// Written by another version of the function.
    #[error("the parked message has version {0}; this function reads {PARKED_VERSION}")]
    Version(u32),
    /// An attribute this function does not send.
    #[error("the parked message has an unknown attribute or data type")]
    UnknownAttribute,
}

/// The document that parks `plan`, whose publishes answered `answers`: a companion already
/// published is left out.
pub fn park(plan: &Plan<'_>, answers: &Companions<Answer>) -> String {
    let events = &plan.events;
    let parked = Parked {
        version: PARKED_VERSION,
        message: Cow::Borrowed(&events.message),
        subject: Cow::Borrowed(&events.subject),
        attributes: (events.attributes.iter())
            .map(|a| ParkedAttribute {
                name: Cow::Borrowed(a.name),
                data_type: Cow::Borrowed(a.data_type.as_str()),
                value: Cow::Borrowed(&a.value),
            })
            .collect(),
        fifo: events.fifo.as_ref().map(|fifo| ParkedFifo {
            group: Cow::Borrowed(&fifo.message_group_id),
            deduplication: Cow::Borrowed(&fifo.message_deduplication_id),
        }),
        notification: unsent(
            plan.companions.notification.as_ref(),
            answers.notification.as_ref(),
        ),
        chat: unsent(plan.companions.chat.as_ref(), answers.chat.as_ref()),
    };
    serde_json::to_string(&parked).expect("a document of strings serialises")
}

/// The message of `planned`, unless `answer` says it was published.
fn unsent<'p>(planned: Option<&'p Outbound<'_>>, answer: Option<&Answer>) -> Option<Cow<'p, str>> {
    let sent = matches!(answer, Some(Ok(_)));
    planned
        .filter(|_| !sent)
        .map(|o| Cow::Borrowed(o.message.as_ref()))
}

/// The plan `text` parked, as [`park`] wrote it.
pub fn unpark(text: &str) -> Result<Plan<'static>, ParkedError> {
    let parked: Parked<'_> = serde_json::from_str(text).map_err(ParkedError::Malformed)?;
    if parked.version != PARKED_VERSION {
        return Err(ParkedError::Version(parked.version));
    }
    let attributes = (parked.attributes.iter())
        .map(|a| {
            let name = ATTRIBUTE_NAMES.into_iter().find(|n| *n == a.name);
            let data_type = DataType::from_name(&a.data_type);
            Some(Attribute {
                name: name?,
                data_type: data_type?,
                value: a.value.clone().into_owned(),
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or(ParkedError::UnknownAttribute)?;
    let subject = parked.subject.into_owned();
    let companion = |message: Option<Cow<'_, str>>| {
        message.map(|message| Outbound {
            message: Cow::Owned(message.into_owned()),
            subject: subject.clone(),
            attributes: attributes.clone(),
            fifo: None,
        })
    };
    let companions = Companions {
        notification: companion(parked.notification),
        chat: companion(parked.chat),
    };
    let events = Outbound {
        message: Cow::Owned(parked.message.into_owned()),
        fifo: parked.fifo.map(|fifo| FifoKeys {
            message_group_id: fifo.group.into_owned(),
            message_deduplication_id: fifo.deduplication.into_owned(),
        }),
        subject,
        attributes,
    };
    Ok(Plan { events, companions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::{Topics, plan};
    use crate::message::DeliverableBody;
    use crate::qase::Webhook;

    const BODY: &str = "{\"event_name\":\"defect.created\",\"payload\":{\"id\":42,\"title\":\"Quote \\\" and é\",\"severity\":\"major\"},\"project_code\":\"DEMO\"}";

    fn planned(fifo_events: bool) -> Plan<'static> {
        let topics = Topics {
            events: (),
            fifo_events,
            companions: Companions {
                notification: Some(()),
                chat: Some(()),
            },
            chat_filter: None,
        };
        let webhook = Webhook::parse(BODY).unwrap();
        plan(
            &webhook,
            DeliverableBody::new(&webhook, BODY).unwrap(),
            None,
            &topics,
        )
    }

    fn refused() -> Answer {
        Err(PublishError::Unavailable("down".into()))
    }

    #[test]
    fn a_parked_plan_comes_back_as_it_was_planned_fifo_keys_included() {
        for fifo in [false, true] {
            let plan = planned(fifo);
            let answers = Companions {
                notification: Some(refused()),
                chat: Some(refused()),
            };
            let parked = park(&plan, &answers);
            assert_eq!(unpark(&parked).unwrap(), plan);
        }
    }

    #[test]
    fn a_companion_already_published_is_not_parked() {
        let plan = planned(false);
        let answers = Companions {
            notification: Some(Ok("sent".to_owned())),
            chat: Some(refused()),
        };
        let back = unpark(&park(&plan, &answers)).unwrap();
        assert_eq!(back.companions.notification, None);
        assert_eq!(back.companions.chat, plan.companions.chat);
        assert_eq!(back.events, plan.events);
    }

    #[test]
    fn what_is_not_a_parked_plan_is_refused() {
        assert!(matches!(unpark("{}"), Err(ParkedError::Malformed(_))));
        assert!(matches!(unpark("not json"), Err(ParkedError::Malformed(_))));
        let parked = park(&planned(false), &Companions::default());
        let other = parked.replace("\"version\":1", "\"version\":2");
        assert!(matches!(unpark(&other), Err(ParkedError::Version(2))));
        let unknown = parked.replace("\"event_name\"", "\"not_ours\"");
        assert!(matches!(
            unpark(&unknown),
            Err(ParkedError::UnknownAttribute)
        ));
    }

    #[test]
    fn what_passes_parks_and_what_is_ours_to_mend_does_not() {
        let cause = || "x".into();
        for parked in [
            PublishError::Throttled(cause()),
            PublishError::Unavailable(cause()),
            PublishError::KmsDisabled(cause()),
            PublishError::KmsNotFound(cause()),
            PublishError::KmsAccessDenied(cause()),
            PublishError::KmsInvalidState(cause()),
            PublishError::KmsOptInRequired(cause()),
        ] {
            assert!(parks(&parked), "{parked:?}");
        }
        assert!(!parks(&PublishError::Rejected(cause())));
        assert!(!parks(&PublishError::NoMessageId));
    }

    #[test]
    fn the_back_off_doubles_from_30_s_to_15_min() {
        let seconds: Vec<u64> = (1..=8).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(seconds, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(retry_delay(0).as_secs(), 30);
        assert_eq!(retry_delay(u32::MAX).as_secs(), 900);
    }
}
