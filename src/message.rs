//! What is published, as plain data: the two messages, their routing attributes, the
//! subject, the FIFO keys, and the limits AWS documents for them.
//!
//! - [`Outbound::event`], for the events topic: the request body byte for byte, which every
//!   subscriber of any protocol receives.
//! - [`Outbound::notification`], for the notifications topic: the short text people read
//!   (written by `crate::summary`, which keeps to the limits here).
//!
//! Both carry the same attributes and subject, and neither sets `MessageStructure`: "Message
//! attributes are sent only when the message structure is String, not JSON" (Amazon SNS
//! Developer Guide, "Amazon SNS message attributes"), and filter policies match on
//! attributes. Every other rule AWS documents for a publish is kept here, each beside the
//! constant or check that keeps it. Pure and unit-tested with literals: no SDK types, no I/O
//! (sending is `crate::publisher`'s port).

use std::borrow::Cow;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::qase::{DefectDetails, Webhook};

/// Attribute: the full event name, e.g. `defect.created` (String, always present).
pub const ATTR_EVENT_NAME: &str = "event_name";
/// Attribute: the part of the event name before the dot, e.g. `defect` (String).
pub const ATTR_ENTITY: &str = "entity";
/// Attribute: the part of the event name after the dot, e.g. `created` (String).
pub const ATTR_ACTION: &str = "action";
/// Attribute: the Qase project code, e.g. `DEMO` (String).
pub const ATTR_PROJECT_CODE: &str = "project_code";
/// Attribute: `payload.id`, the id of the defect, case, run... (Number).
pub const ATTR_ENTITY_ID: &str = "entity_id";
/// Attribute: `payload.severity` when it is a string, e.g. `critical` (String).
pub const ATTR_SEVERITY: &str = "severity";
/// Attribute: who triggered the event; 0 for an automation token (Number).
pub const ATTR_TEAM_MEMBER_ID: &str = "team_member_id";
/// Attribute: the defect's status from the Qase API, e.g. `resolved` (String; enrichment).
pub const ATTR_STATUS: &str = "status";
/// Attribute: the defect's tags from the Qase API, e.g. `["login","ui"]` (String.Array;
/// enrichment): a filter policy `{"tags": ["login"]}` matches any one of them.
pub const ATTR_TAGS: &str = "tags";

/// The most SNS accepts in one `Publish`: the message and every attribute's name, type and
/// value, 262,144 bytes (SNS API Reference, `Publish` and `MessageAttributeValue`).
pub const MAX_PUBLISH_BYTES: usize = 256 * 1024;
/// The longest string attribute value we send, and the longest element of a `String.Array`;
/// longer values are omitted, not cut.
pub const MAX_ATTRIBUTE_CHARS: usize = 256;
/// The largest magnitude a `Number` attribute is sent with: filter policies match numbers
/// "from -10^9 to 10^9" (SNS Developer Guide, "Filter policy constraints"). Larger values are
/// omitted: a policy could not match them right.
pub const MAX_NUMBER_ATTRIBUTE: u64 = 1_000_000_000;
/// SNS requires subjects "less than 100 characters long" (SNS API Reference, `Publish`).
/// Counted in UTF-16 code units, as a Java service counts `String` characters: never fewer
/// than code points, so a subject within it is within either reading (an emoji is two).
pub const MAX_SUBJECT_UTF16_UNITS: usize = 99;
/// The most tags sent in [`ATTR_TAGS`]; more are left out.
pub const MAX_TAGS: usize = 20;
/// `MessageGroupId` on FIFO topics when the webhook carries no usable project code.
pub const FALLBACK_MESSAGE_GROUP: &str = "qase";

/// The SNS data type of a message attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `String`: matched by string filter policies.
    String,
    /// `Number`: matched by numeric filter policies.
    Number,
    /// `String.Array`: a JSON array of strings; a filter policy matches any one of them.
    StringArray,
}

impl DataType {
    /// The name SNS uses for this type.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::Number => "Number",
            Self::StringArray => "String.Array",
        }
    }
}

/// One message attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// One of the `ATTR_*` names.
    pub name: &'static str,
    /// Its SNS data type.
    pub data_type: DataType,
    /// Its value, as SNS carries it (numbers in decimal).
    pub value: String,
}

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
    #[must_use]
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
#[must_use]
pub fn is_sqs_character(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A request body SQS delivers as it is: every character in its set. Checked once, before
/// anything else is done with the webhook (a lookup in the Qase API included), and carried as
/// the proof [`Outbound::event`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverableBody<'a>(&'a str);

impl<'a> DeliverableBody<'a> {
    /// Checks `body`; the error names its first character SQS does not deliver.
    pub fn new(body: &'a str) -> Result<Self, MessageError> {
        match body.char_indices().find(|(_, c)| !is_sqs_character(*c)) {
            Some((offset, character)) => {
                Err(MessageError::UnsupportedCharacter { character, offset })
            }
            None => Ok(Self(body)),
        }
    }

    /// The body.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl<'a> Outbound<'a> {
    /// The events topic's publish for `webhook`, whose raw body is `body`: the body byte for
    /// byte, the routing attributes (with what the Qase API said of the defect, `details`),
    /// `subject`, and the FIFO keys when `fifo`. Refused when SNS could not take it; what
    /// `details` adds is left out rather than make the message too large.
    pub fn event(
        webhook: &Webhook,
        body: DeliverableBody<'a>,
        subject: String,
        fifo: bool,
        details: Option<&DefectDetails>,
    ) -> Result<Self, MessageError> {
        let body = body.as_str();
        let fifo = fifo.then(|| FifoKeys {
            message_group_id: message_group_id(
                webhook.project_code.as_deref().filter(|s| is_clean(s)),
            ),
            message_deduplication_id: sha256_hex(body),
        });
        let mut outbound = Self {
            message: Cow::Borrowed(body),
            subject,
            attributes: routing_attributes(webhook, details),
            fifo,
        };
        if details.is_some() && outbound.size() > MAX_PUBLISH_BYTES {
            outbound.attributes = routing_attributes(webhook, None);
        }
        let size = outbound.size();
        if size > MAX_PUBLISH_BYTES {
            return Err(MessageError::TooLarge {
                size,
                limit: MAX_PUBLISH_BYTES,
            });
        }
        Ok(outbound)
    }

    /// The notifications topic's publish: `text`, with this event's subject and attributes
    /// (so a filter policy selects the same events on both topics). Never FIFO: SNS delivers
    /// FIFO topics to SQS only, not to email. `text` is `crate::summary::text`, whose cuts
    /// keep it far under [`MAX_PUBLISH_BYTES`].
    #[must_use]
    pub fn notification(&self, text: String) -> Outbound<'static> {
        Outbound {
            message: Cow::Owned(text),
            subject: self.subject.clone(),
            attributes: self.attributes.clone(),
            fifo: None,
        }
    }

    /// The bytes SNS counts against [`MAX_PUBLISH_BYTES`]: the message and, for every
    /// attribute, its name, data type and value.
    #[must_use]
    pub fn size(&self) -> usize {
        let attributes: usize = self
            .attributes
            .iter()
            .map(|a| a.name.len() + a.data_type.as_str().len() + a.value.len())
            .sum();
        self.message.len() + attributes
    }

    /// The value of the attribute called `name`, if it is set.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&str> {
        attribute(&self.attributes, name)
    }
}

/// The attributes subscribers filter on: the event name and its two halves always, the
/// project, ids and severity when the webhook has usable values, and what the Qase API said
/// of the defect (`details`): its severity when the payload has none, its status and tags.
/// At most 9 attributes, under the 10 a raw SQS subscription takes.
#[must_use]
pub fn routing_attributes(webhook: &Webhook, details: Option<&DefectDetails>) -> Vec<Attribute> {
    let name = &webhook.event_name;
    let mut attributes = vec![
        Attribute::string(ATTR_EVENT_NAME, name.as_str()),
        Attribute::string(ATTR_ENTITY, name.entity()),
        Attribute::string(ATTR_ACTION, name.action()),
    ];
    let project_code = webhook.project_code.as_deref().filter(|s| is_clean(s));
    attributes.extend(project_code.map(|v| Attribute::string(ATTR_PROJECT_CODE, v)));
    let entity_id = webhook.payload.id.filter(|id| *id <= MAX_NUMBER_ATTRIBUTE);
    attributes.extend(entity_id.map(|v| Attribute::number(ATTR_ENTITY_ID, v)));
    let severity = [webhook.payload.severity.as_deref()]
        .into_iter()
        .chain([details.and_then(|d| d.severity.as_deref())])
        .flatten()
        .find(|s| is_clean(s));
    attributes.extend(severity.map(|v| Attribute::string(ATTR_SEVERITY, v)));
    let member = webhook
        .team_member_id
        .filter(|id| id.unsigned_abs() <= MAX_NUMBER_ATTRIBUTE);
    attributes.extend(member.map(|v| Attribute::number(ATTR_TEAM_MEMBER_ID, v)));
    if let Some(details) = details {
        let status = details.status.as_deref().filter(|s| is_clean(s));
        attributes.extend(status.map(|v| Attribute::string(ATTR_STATUS, v)));
        let tags: Vec<&str> = details
            .tags
            .iter()
            .map(String::as_str)
            .filter(|t| is_clean(t))
            .take(MAX_TAGS)
            .collect();
        if !tags.is_empty() {
            attributes.push(Attribute {
                name: ATTR_TAGS,
                data_type: DataType::StringArray,
                value: serde_json::to_string(&tags).expect("a list of strings serialises"),
            });
        }
    }
    attributes
}

fn attribute<'v>(attributes: &'v [Attribute], name: &str) -> Option<&'v str> {
    attributes
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

impl Attribute {
    fn string(name: &'static str, value: &str) -> Self {
        Self {
            name,
            data_type: DataType::String,
            value: value.to_owned(),
        }
    }

    fn number(name: &'static str, value: impl std::fmt::Display) -> Self {
        Self {
            name,
            data_type: DataType::Number,
            value: value.to_string(),
        }
    }
}

/// Whether a string may be sent as an attribute value: non-empty ("Name, type, and value
/// must not be empty or null"), not too long, with only characters SQS delivers and no
/// control characters (none belong in a routing value).
fn is_clean(value: &str) -> bool {
    !value.is_empty()
        && value.chars().count() <= MAX_ATTRIBUTE_CHARS
        && value
            .chars()
            .all(|c| is_sqs_character(c) && !c.is_control())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(body: &str) -> Webhook {
        Webhook::parse(body).expect("test body is a valid webhook")
    }

    /// The events topic's publish of `body`, with a fixed subject.
    fn event(body: &str, fifo: bool) -> Result<Outbound<'_>, MessageError> {
        Outbound::event(
            &webhook(body),
            DeliverableBody::new(body)?,
            "subject".to_owned(),
            fifo,
            None,
        )
    }

    #[test]
    fn defect_created_gets_every_attribute_with_its_type() {
        let body = r#"{"event_name":"defect.created","payload":{"id":42,"title":"Login button does nothing","severity":"critical"},"team_member_id":0,"project_code":"DEMO"}"#;
        let out = event(body, false).unwrap();
        let got: Vec<_> = out
            .attributes
            .iter()
            .map(|a| (a.name, a.data_type, a.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (ATTR_EVENT_NAME, DataType::String, "defect.created"),
                (ATTR_ENTITY, DataType::String, "defect"),
                (ATTR_ACTION, DataType::String, "created"),
                (ATTR_PROJECT_CODE, DataType::String, "DEMO"),
                (ATTR_ENTITY_ID, DataType::Number, "42"),
                (ATTR_SEVERITY, DataType::String, "critical"),
                (ATTR_TEAM_MEMBER_ID, DataType::Number, "0"),
            ]
        );
        assert_eq!(out.message, body);
        assert_eq!(out.fifo, None);
    }

    #[test]
    fn omits_absent_empty_and_unclean_values_instead_of_sending_them_empty() {
        let body = r#"{"event":"defect.resolved","payload":{"id":"x","severity":"bad\u0000value"},"project_code":""}"#;
        let out = event(body, false).unwrap();
        let names: Vec<_> = out.attributes.iter().map(|a| a.name).collect();
        assert_eq!(names, [ATTR_EVENT_NAME, ATTR_ENTITY, ATTR_ACTION]);
    }

    #[test]
    fn the_event_is_the_body_byte_for_byte_and_the_notification_the_text() {
        let body = "{\"event_name\":\"defect.created\",\n \"payload\":{\"id\":42,\"title\":\"Quote \\\" and é\"},\"project_code\":\"DEMO\"}";
        let event = event(body, true).unwrap();
        let note = event.notification("the text".to_owned());

        assert_eq!(event.message, body, "byte for byte, not re-serialised");
        assert_eq!(note.message, "the text");
        assert_eq!(note.subject, event.subject);
        assert_eq!(
            note.attributes, event.attributes,
            "one filter policy fits both"
        );
        assert!(event.fifo.is_some());
        assert_eq!(note.fifo, None, "the notifications topic is never FIFO");
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
        let out = event(body, true).unwrap();
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
        let out = event(body, true).unwrap();
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
        let out = event(&fits, false).unwrap();
        assert_eq!(fits.len() + attributes, 262_144);
        assert_eq!(out.size(), 262_144);
        let over = envelope(262_144 - attributes - empty + 1);
        let err = event(&over, false).unwrap_err();
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
            event(body, false).unwrap_err(),
            MessageError::UnsupportedCharacter {
                character: '\u{FFFF}',
                offset: 52
            }
        );
        assert_eq!(&body[52..55], "\u{FFFF}");
        // The same character escaped is six ASCII characters: the queue gets them as sent.
        let escaped = r#"{"event_name":"defect.created","payload":{"title":"a\uffffb"}}"#;
        assert!(event(escaped, false).is_ok());
        let emoji = "{\"event_name\":\"defect.created\",\"payload\":{\"title\":\"😀 \u{FFFD}\"}}";
        assert!(event(emoji, false).is_ok());
    }

    #[test]
    fn numbers_beyond_what_filter_policies_match_are_omitted() {
        let with = |id: &str, member: &str| {
            format!(
                r#"{{"event_name":"defect.deleted","payload":{{"id":{id}}},"team_member_id":{member}}}"#
            )
        };
        let body = with("1000000000", "-1000000000");
        let out = event(&body, false).unwrap();
        assert_eq!(out.attribute(ATTR_ENTITY_ID), Some("1000000000"));
        assert_eq!(out.attribute(ATTR_TEAM_MEMBER_ID), Some("-1000000000"));
        let body = with("1000000001", "-1000000001");
        let out = event(&body, false).unwrap();
        assert_eq!(out.attribute(ATTR_ENTITY_ID), None);
        assert_eq!(out.attribute(ATTR_TEAM_MEMBER_ID), None);
        assert_eq!(out.message, body, "the body keeps them");
    }

    #[test]
    fn string_values_with_characters_sqs_would_not_deliver_are_omitted() {
        let body = r#"{"event_name":"defect.created","payload":{"id":1,"severity":"hi\uffff"},"project_code":"A\u0085B"}"#;
        let out = event(body, false).unwrap();
        assert_eq!(out.attribute(ATTR_SEVERITY), None);
        assert_eq!(out.attribute(ATTR_PROJECT_CODE), None);
    }

    #[test]
    fn string_values_of_256_characters_are_sent_and_of_257_left_out() {
        let with = |severity: &str, code: &str| {
            format!(
                r#"{{"event_name":"defect.created","payload":{{"id":1,"severity":"{severity}"}},"project_code":"{code}"}}"#
            )
        };
        // 256 characters of two bytes each: the limit counts characters.
        let (kept, kept_code) = ("é".repeat(256), "Q".repeat(256));
        let body = with(&kept, &kept_code);
        let out = event(&body, false).unwrap();
        assert_eq!(out.attribute(ATTR_SEVERITY), Some(kept.as_str()));
        assert_eq!(out.attribute(ATTR_PROJECT_CODE), Some(kept_code.as_str()));
        let body = with(&"é".repeat(257), &"Q".repeat(257));
        let out = event(&body, false).unwrap();
        assert_eq!(out.attribute(ATTR_SEVERITY), None);
        assert_eq!(out.attribute(ATTR_PROJECT_CODE), None);
        let tags: Vec<String> = vec!["t".repeat(256), "u".repeat(257)];
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        let body = r#"{"event_name":"defect.resolved","payload":{"id":3}}"#;
        let out = Outbound::event(
            &webhook(body),
            DeliverableBody::new(body).unwrap(),
            "s".into(),
            false,
            Some(&details(&tags)),
        )
        .unwrap();
        let sent: Vec<String> = serde_json::from_str(out.attribute(ATTR_TAGS).unwrap()).unwrap();
        assert_eq!(
            sent,
            ["t".repeat(256)],
            "the tag of 257 characters is left out"
        );
    }

    fn details(tags: &[&str]) -> DefectDetails {
        DefectDetails {
            title: Some("t".into()),
            severity: Some("critical".into()),
            status: Some("resolved".into()),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn enrichment_adds_severity_status_and_tags_as_a_string_array() {
        let body = r#"{"event_name":"defect.resolved","payload":{"id":3},"project_code":"DEMO","team_member_id":1}"#;
        let details = details(&["login", "ui \"quoted\"", "", "bad\u{FFFF}"]);
        let out = Outbound::event(
            &webhook(body),
            DeliverableBody::new(body).unwrap(),
            "s".into(),
            false,
            Some(&details),
        )
        .unwrap();
        let got: Vec<_> = out
            .attributes
            .iter()
            .map(|a| (a.name, a.data_type.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("event_name", "String", "defect.resolved"),
                ("entity", "String", "defect"),
                ("action", "String", "resolved"),
                ("project_code", "String", "DEMO"),
                ("entity_id", "Number", "3"),
                ("severity", "String", "critical"),
                ("team_member_id", "Number", "1"),
                ("status", "String", "resolved"),
                ("tags", "String.Array", r#"["login","ui \"quoted\""]"#),
            ]
        );
        assert_eq!(out.message, body, "the body is not touched");
    }

    #[test]
    fn the_payloads_severity_wins_and_tags_are_capped() {
        let body = r#"{"event_name":"defect.created","payload":{"id":3,"severity":"minor"},"project_code":"DEMO"}"#;
        let many: Vec<String> = (0..30).map(|n| format!("t{n}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let out = Outbound::event(
            &webhook(body),
            DeliverableBody::new(body).unwrap(),
            "s".into(),
            false,
            Some(&details(&many)),
        )
        .unwrap();
        assert_eq!(out.attribute(ATTR_SEVERITY), Some("minor"));
        let tags: Vec<String> = serde_json::from_str(out.attribute(ATTR_TAGS).unwrap()).unwrap();
        assert_eq!(tags.len(), 20);
        assert_eq!(tags[19], "t19");
    }

    #[test]
    fn what_enrichment_adds_is_dropped_rather_than_make_an_event_too_large() {
        let pad = "x".repeat(262_144 - 200);
        let body = format!(
            r#"{{"event_name":"defect.resolved","payload":{{"id":3,"pad":"{pad}"}},"project_code":"DEMO"}}"#
        );
        let long_tags: Vec<String> = (0..20).map(|n| format!("{n}{}", "t".repeat(200))).collect();
        let long_tags: Vec<&str> = long_tags.iter().map(String::as_str).collect();
        let out = Outbound::event(
            &webhook(&body),
            DeliverableBody::new(&body).unwrap(),
            "s".into(),
            false,
            Some(&details(&long_tags)),
        )
        .expect("published without enrichment, not refused");
        assert_eq!(out.attribute(ATTR_TAGS), None);
        assert_eq!(out.attribute(ATTR_STATUS), None);
        assert!(out.size() <= 262_144);
    }
}
