//! What is published, as plain data: the messages, their routing attributes, the
//! subject, the FIFO keys, and the limits AWS documents for them.
//!
//! - [`Outbound::event`], for the events topic: the request body byte for byte, which every
//!   subscriber of any protocol receives.
//! - the notifications and chat topics' (assembled by `crate::fanout`): the text people read
//!   (written by `crate::summary`, which keeps to the limits here).
//!
//! All carry the same attributes and subject, and neither sets `MessageStructure`: "Message
//! attributes are sent only when the message structure is String, not JSON" (Amazon SNS
//! Developer Guide, "Amazon SNS message attributes"), and filter policies match on
//! attributes. Every other rule AWS documents for a publish is kept here, each beside the
//! constant or check that keeps it. Pure and unit-tested with literals: no SDK types, no I/O
//! (sending is `crate::publisher`'s port).

use std::borrow::Cow;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

pub mod attributes;

pub use attributes::{
    ATTR_ACTION, ATTR_ENTITY, ATTR_ENTITY_ID, ATTR_EVENT_NAME, ATTR_PROJECT_CODE, ATTR_REPLAYED,
    ATTR_SEVERITY, ATTR_STATUS, ATTR_TAGS, ATTR_TEAM_MEMBER_ID, ATTRIBUTE_NAMES, Attribute,
    DataType, MAX_ATTRIBUTE_CHARS, MAX_NUMBER_ATTRIBUTE, MAX_TAGS, routing_attributes, severity,
};
use attributes::{attribute, is_clean};

use crate::qase::{DefectDetails, Webhook};

/// The most SNS accepts in one `Publish`: the message and every attribute's name, type and
/// value, 262,144 bytes (SNS API Reference, `Publish` and `MessageAttributeValue`).
pub const MAX_PUBLISH_BYTES: usize = 256 * 1024;
/// SNS requires subjects "less than 100 characters long" (SNS API Reference, `Publish`).
/// Counted in UTF-16 code units, as a Java service counts `String` characters: never fewer
/// than code points, so a subject within it is within either reading (an emoji is two).
pub const MAX_SUBJECT_UTF16_UNITS: usize = 99;
/// `MessageGroupId` on FIFO topics when the webhook carries no usable project code.
pub const FALLBACK_MESSAGE_GROUP: &str = "qase";

/// The FIFO-only publish parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoKeys {
    /// One ordered stream per Qase project.
    pub message_group_id: String,
    /// Hex SHA-256 of the body: a redelivered webhook is deduplicated by SNS.
    pub message_deduplication_id: String,
}

/// Everything one `Publish` call carries, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound<'a> {
    /// The `Message` parameter: the request body exactly as received (events topic), or the
    /// text people read (notifications topic).
    pub message: Cow<'a, str>,
    /// The `Subject` parameter (email subject; also in the JSON envelope other protocols get).
    pub subject: String,
    /// The routing attributes; absent values are left out.
    pub attributes: Vec<Attribute>,
    /// Set when the topic is FIFO.
    pub fifo: Option<FifoKeys>,
}

/// Why a body cannot be published as it is. Each variant maps to a stable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The message would not fit in one SNS publish.
    #[error("message and attributes take {size} bytes; SNS accepts at most {limit}")]
    TooLarge {
        /// The bytes the publish would take.
        size: usize,
        /// [`MAX_PUBLISH_BYTES`].
        limit: usize,
    },
    /// The body holds a character SQS does not deliver: a queue would not get the body that
    /// was sent.
    #[error(
        "the body contains U+{:04X} at byte {offset}; SQS delivers only XML 1.0 characters, \
         so subscribers would not receive this body as it was sent",
        u32::from(*character)
    )]
    UnsupportedCharacter {
        /// The first such character.
        character: char,
        /// Its byte offset in the body.
        offset: usize,
    },
}

impl MessageError {
    /// The stable, machine-readable code clients see in the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "payload_too_large",
            Self::UnsupportedCharacter { .. } => "unsupported_character",
        }
    }
}

/// Whether SQS delivers `c`: the characters of XML 1.0, `#x9 | #xA | #xD | #x20-#xD7FF |
/// #xE000-#xFFFD | #x10000-#x10FFFF` (SQS API Reference, `SendMessage`). SNS hands SQS the
/// message and the string attribute values as they are, so every text published keeps to it.
pub fn is_sqs_character(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A request body SNS can publish and SQS delivers as it is: every character in SQS's set,
/// and within [`MAX_PUBLISH_BYTES`] with the routing attributes of its webhook (the only
/// place the limit refuses a body). Checked once, before anything else is done with the
/// webhook (a lookup in the Qase API included), and carried as the proof
/// [`Outbound::event`] takes, with those attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverableBody<'a> {
    body: &'a str,
    attributes: Vec<Attribute>,
}

impl<'a> DeliverableBody<'a> {
    /// Checks `body`, the raw body of `webhook`; the error names its first character SQS does
    /// not deliver, or the bytes the publish would take.
    pub fn new(webhook: &Webhook, body: &'a str) -> Result<Self, MessageError> {
        if let Some((offset, character)) = body.char_indices().find(|(_, c)| !is_sqs_character(*c))
        {
            return Err(MessageError::UnsupportedCharacter { character, offset });
        }
        let attributes = routing_attributes(webhook, None);
        let size = body.len() + attributes_size(&attributes);
        if size > MAX_PUBLISH_BYTES {
            return Err(MessageError::TooLarge {
                size,
                limit: MAX_PUBLISH_BYTES,
            });
        }
        Ok(Self { body, attributes })
    }

    /// The body.
    pub fn as_str(&self) -> &'a str {
        self.body
    }
}

impl<'a> Outbound<'a> {
    /// The events topic's publish for `webhook`, whose checked body is `body`: the body byte
    /// for byte, the routing attributes (with what the Qase API said of the defect,
    /// `details`, when they fit in the publish: else without), and the FIFO keys when `fifo`.
    /// The subject is left empty: `crate::fanout` writes it, from `crate::summary`.
    pub fn event(
        webhook: &Webhook,
        body: DeliverableBody<'a>,
        fifo: bool,
        details: Option<&DefectDetails>,
    ) -> Self {
        let DeliverableBody { body, attributes } = body;
        let fifo = fifo.then(|| FifoKeys {
            message_group_id: message_group_id(
                webhook.project_code.as_deref().filter(|s| is_clean(s)),
            ),
            message_deduplication_id: sha256_hex(body),
        });
        let enriched = details.map(|details| routing_attributes(webhook, Some(details)));
        let fits = |a: &Vec<Attribute>| body.len() + attributes_size(a) <= MAX_PUBLISH_BYTES;
        Self {
            message: Cow::Borrowed(body),
            subject: String::new(),
            attributes: enriched.filter(fits).unwrap_or(attributes),
            fifo,
        }
    }

    /// The bytes SNS counts against [`MAX_PUBLISH_BYTES`]: the message and, for every
    /// attribute, its name, data type and value.
    pub fn size(&self) -> usize {
        self.message.len() + attributes_size(&self.attributes)
    }

    /// The value of the attribute called `name`, if it is set.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        attribute(&self.attributes, name)
    }
}

/// What SNS counts of `attributes`: every name, data type and value.
fn attributes_size(attributes: &[Attribute]) -> usize {
    (attributes.iter())
        .map(|a| a.name.len() + a.data_type.as_str().len() + a.value.len())
        .sum()
}

fn message_group_id(project_code: Option<&str>) -> String {
    // SNS allows 1-128 characters from ASCII letters, digits and punctuation.
    project_code
        .filter(|code| code.len() <= 128 && code.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or(FALLBACK_MESSAGE_GROUP)
        .to_owned()
}

fn sha256_hex(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// What the tests of this module and of [`attributes`] build messages with.
#[cfg(test)]
pub(crate) mod testing {
    use super::{DeliverableBody, MessageError, Outbound};
    use crate::qase::{DefectDetails, Webhook};

    pub fn webhook(body: &str) -> Webhook {
        Webhook::parse(body).expect("test body is a valid webhook")
    }

    /// The events topic's publish of `body`.
    pub fn event<'a>(
        body: &'a str,
        fifo: bool,
        details: Option<&DefectDetails>,
    ) -> Result<Outbound<'a>, MessageError> {
        let webhook = webhook(body);
        let body = DeliverableBody::new(&webhook, body)?;
        Ok(Outbound::event(&webhook, body, fifo, details))
    }

    /// What the Qase API says of a critical, resolved defect with `tags`.
    pub fn details(tags: &[&str]) -> DefectDetails {
        DefectDetails {
            title: Some("t".into()),
            severity: Some("critical".into()),
            status: Some("resolved".into()),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{details, event};
    use super::*;

    #[test]
    fn the_event_is_the_body_byte_for_byte() {
        let body = "{\"event_name\":\"defect.created\",\n \"payload\":{\"id\":42,\"title\":\"Quote \\\" and é\"},\"project_code\":\"DEMO\"}";
        let event = event(body, true, None).unwrap();
        assert_eq!(event.message, body, "byte for byte, not re-serialised");
        assert!(event.fifo.is_some());
        assert_eq!(
            event.size(),
            body.len()
                + "event_name".len()
                + "String".len()
                + "defect.created".len()
                + "entity".len()
                + "String".len()
                + "defect".len()
                + "action".len()
                + "String".len()
                + "created".len()
                + "project_code".len()
                + "String".len()
                + "DEMO".len()
                + "entity_id".len()
                + "Number".len()
                + "42".len(),
            "the message and every attribute's name, type and value"
        );
    }

    #[test]
    fn fifo_groups_by_project_and_deduplicates_by_body_hash() {
        let body = r#"{"event_name":"defect.deleted","payload":{"id":1},"project_code":"DEMO"}"#;
        let out = event(body, true, None).unwrap();
        let fifo = out.fifo.unwrap();
        assert_eq!(fifo.message_group_id, "DEMO");
        assert_eq!(fifo.message_deduplication_id.len(), 64);
        assert_eq!(fifo.message_deduplication_id, sha256_hex(body));
        assert_ne!(
            fifo.message_deduplication_id,
            sha256_hex(&body.replace('1', "2"))
        );
        // Known vector: SHA-256 of "abc".
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn fifo_without_a_project_code_uses_the_fallback_group() {
        let body = r#"{"event":"defect.deleted","payload":{"id":1}}"#;
        let out = event(body, true, None).unwrap();
        assert_eq!(out.fifo.unwrap().message_group_id, FALLBACK_MESSAGE_GROUP);
    }

    #[test]
    fn refuses_a_message_that_with_its_attributes_exceeds_the_sns_limit() {
        let envelope = |pad: usize| {
            format!(
                r#"{{"event_name":"defect.created","payload":{{"id":1,"pad":"{}"}},"project_code":"DEMO"}}"#,
                "x".repeat(pad)
            )
        };
        // Besides the body, SNS counts each attribute's name, type and value.
        let attributes = ("event_name".len() + "String".len() + "defect.created".len())
            + ("entity".len() + "String".len() + "defect".len())
            + ("action".len() + "String".len() + "created".len())
            + ("project_code".len() + "String".len() + "DEMO".len())
            + ("entity_id".len() + "Number".len() + "1".len());
        let empty = envelope(0).len();
        let fits = envelope(262_144 - attributes - empty);
        let out = event(&fits, false, None).unwrap();
        assert_eq!(fits.len() + attributes, 262_144);
        assert_eq!(out.size(), 262_144);
        let over = envelope(262_144 - attributes - empty + 1);
        let err = event(&over, false, None).unwrap_err();
        assert_eq!(
            err,
            MessageError::TooLarge {
                size: 262_145,
                limit: 262_144
            }
        );
    }

    #[test]
    fn sqs_characters_are_exactly_xml_1_0s() {
        for allowed in [
            '\t',
            '\n',
            '\r',
            ' ',
            '~',
            '\u{7F}',
            '\u{85}',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFD}',
            '\u{10000}',
            '😀',
            '\u{10FFFF}',
        ] {
            assert!(is_sqs_character(allowed), "{allowed:?}");
        }
        for refused in [
            '\0', '\u{8}', '\u{B}', '\u{C}', '\u{1F}', '\u{FFFE}', '\u{FFFF}',
        ] {
            assert!(!is_sqs_character(refused), "{refused:?}");
        }
    }

    #[test]
    fn refuses_a_body_with_a_character_sqs_would_not_deliver() {
        let body = "{\"event_name\":\"defect.created\",\"payload\":{\"title\":\"a\u{FFFF}b\"}}";
        assert_eq!(
            event(body, false, None).unwrap_err(),
            MessageError::UnsupportedCharacter {
                character: '\u{FFFF}',
                offset: 52
            }
        );
        assert_eq!(&body[52..55], "\u{FFFF}");
        // The same character escaped is six ASCII characters: the queue gets them as sent.
        let escaped = r#"{"event_name":"defect.created","payload":{"title":"a\uffffb"}}"#;
        assert!(event(escaped, false, None).is_ok());
        let emoji = "{\"event_name\":\"defect.created\",\"payload\":{\"title\":\"😀 \u{FFFD}\"}}";
        assert!(event(emoji, false, None).is_ok());
    }

    #[test]
    fn what_enrichment_adds_is_dropped_rather_than_make_an_event_too_large() {
        let pad = "x".repeat(262_144 - 200);
        let body = format!(
            r#"{{"event_name":"defect.resolved","payload":{{"id":3,"pad":"{pad}"}},"project_code":"DEMO"}}"#
        );
        let long_tags: Vec<String> = (0..20).map(|n| format!("{n}{}", "t".repeat(200))).collect();
        let long_tags: Vec<&str> = long_tags.iter().map(String::as_str).collect();
        let out = event(&body, false, Some(&details(&long_tags)))
            .expect("published without enrichment, not refused");
        assert_eq!(out.attribute(ATTR_TAGS), None);
        assert_eq!(out.attribute(ATTR_STATUS), None);
        assert!(out.size() <= 262_144);
    }
}
