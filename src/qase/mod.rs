//! Qase's wire format: the webhook envelope, event names, the payload fields we route on, and
//! (in [`defect`]) the defect events and the Qase API's answer about one defect.
//!
//! Everything here is a pure function over strings. Parsing is one serde pass over the body,
//! each object-valued field read again as its own text ([`json`]), deliberately lenient inside the payload (a field of an unexpected type is
//! skipped, never fatal) and strict about the envelope (no event name, no routing). This module
//! knows nothing of HTTP, secrets or SNS.

pub mod defect;
pub mod json;

use std::fmt;

use serde::Deserialize;

pub use defect::{DefectAction, DefectDetails, DefectPage, ListedDefect, NotADefectAnswer};
use json::{Lenient, MAX_JSON_DEPTH, Object};

/// The longest event name accepted; Qase's longest documented one has 30 characters.
pub const MAX_EVENT_NAME_LEN: usize = 128;
/// The longest project code that can name a project in a URL ([`Webhook::project_key`]);
/// Qase's codes have 2 to 10 letters and digits.
pub const MAX_PROJECT_KEY_CHARS: usize = 64;

/// Why a body is not a usable Qase webhook. Each variant maps to a stable error code.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The body is not well-formed JSON.
    #[error("body is not valid JSON")]
    NotJson(#[source] serde_json::Error),
    /// The body is JSON, but not an object.
    #[error("body is not a JSON object")]
    NotAnObject,
    /// Well-formed JSON nested deeper than [`MAX_JSON_DEPTH`] levels.
    #[error("body nests JSON deeper than {MAX_JSON_DEPTH} levels")]
    TooDeeplyNested,
    /// The object cannot be read as an envelope (for example, a key appears twice).
    #[error("body is not a valid Qase envelope")]
    InvalidEnvelope(#[source] serde_json::Error),
    /// Neither `event_name` nor the pre-2022 `event` is present.
    #[error("envelope has no `event_name` (or pre-2022 `event`) field")]
    MissingEventName,
    /// The event name is not a string of the form `<entity>.<action>`.
    #[error(
        "`event_name` must be a string of the form <entity>.<action> (lower-case letters, digits, `_`)"
    )]
    InvalidEventName,
    /// `event_name` and `event` are both present and disagree.
    #[error("`event_name` and `event` are both present and differ")]
    ConflictingEventNames,
    /// `payload` is missing or is not a JSON object.
    #[error("`payload` must be a JSON object")]
    PayloadNotAnObject,
}

impl WebhookError {
    /// The stable, machine-readable code clients see in the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "invalid_json",
            Self::NotAnObject => "not_an_object",
            Self::TooDeeplyNested => "too_deeply_nested",
            Self::InvalidEnvelope(_) => "invalid_envelope",
            Self::MissingEventName => "missing_event_name",
            Self::InvalidEventName => "invalid_event_name",
            Self::ConflictingEventNames => "conflicting_event_names",
            Self::PayloadNotAnObject => "invalid_payload",
        }
    }
}

/// A validated `<entity>.<action>` event name such as `defect.created`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventName {
    name: String,
    dot: usize,
}

impl EventName {
    /// Validates `name`: one dot between two non-empty runs of `[a-z0-9_]`.
    pub fn parse(name: &str) -> Result<Self, WebhookError> {
        let is_word = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        let dot = name.find('.').ok_or(WebhookError::InvalidEventName)?;
        let (entity, action) = (&name[..dot], &name[dot + 1..]);
        if name.len() > MAX_EVENT_NAME_LEN || !is_word(entity) || !is_word(action) {
            return Err(WebhookError::InvalidEventName);
        }
        Ok(Self {
            name: name.to_owned(),
            dot,
        })
    }

    /// The whole name, e.g. `defect.created`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The part before the dot, e.g. `defect`.
    pub fn entity(&self) -> &str {
        &self.name[..self.dot]
    }

    /// The part after the dot, e.g. `created`.
    pub fn action(&self) -> &str {
        &self.name[self.dot + 1..]
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The payload fields we route on, read leniently: a field that is absent or of an
/// unexpected type is `None`, and the event is still forwarded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Payload {
    /// `payload.id`, when it is a non-negative integer.
    #[serde(deserialize_with = "lenient")]
    pub id: Option<u64>,
    /// `payload.title`, when it is a string.
    #[serde(deserialize_with = "lenient")]
    pub title: Option<String>,
    /// `payload.severity`, when it is a string (defects); objects (`case.*`) are skipped.
    #[serde(deserialize_with = "lenient")]
    pub severity: Option<String>,
    /// `payload.case_id`, when it is an integer (older `defect.created` shape, reviews).
    #[serde(deserialize_with = "lenient")]
    pub case_id: Option<u64>,
    /// `payload.step`, when it is an integer (older `defect.created` shape).
    #[serde(deserialize_with = "lenient")]
    pub step: Option<u64>,
}

/// A parsed Qase webhook: what we route on. The body itself is forwarded untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The event, e.g. `defect.created`.
    pub event_name: EventName,
    /// Which defect event it is, when it is one of the four documented ones.
    pub defect: Option<DefectAction>,
    /// The Qase project code, when present as a string (any string: see
    /// [`Webhook::project_key`]).
    pub project_code: Option<String>,
    /// Who triggered the event (0 for an automation token), when present as an integer.
    pub team_member_id: Option<i64>,
    /// The routing fields of the payload.
    pub payload: Payload,
    /// `"replayed": true`: sent again by `qase-backfill`, not by Qase (which has no such
    /// field).
    pub replayed: bool,
}

/// The envelope as sent, read with serde: every field as leniently as its type allows, so
/// that a wrong type is ours to judge.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Envelope {
    event_name: Option<Lenient<String>>,
    event: Option<Lenient<String>>,
    payload: Object<Payload>,
    team_member_id: Lenient<i64>,
    project_code: Lenient<String>,
    replayed: Lenient<bool>,
}

impl Webhook {
    /// Parses a webhook body. Only the envelope must be right; see [`Payload`].
    pub fn parse(body: &str) -> Result<Self, WebhookError> {
        let envelope: Envelope = serde_json::from_str(body).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                WebhookError::NotJson(e)
            } else if is_object(body) {
                WebhookError::InvalidEnvelope(e)
            } else {
                WebhookError::NotAnObject
            }
        })?;
        // Derived structs also accept arrays; only an object is an envelope.
        if !is_object(body) {
            return Err(WebhookError::NotAnObject);
        }
        if json::depth(body) > MAX_JSON_DEPTH {
            return Err(WebhookError::TooDeeplyNested);
        }
        let name = |field: Option<Lenient<String>>| {
            field
                .map(|Lenient(name)| name.ok_or(WebhookError::InvalidEventName))
                .transpose()
        };
        let event_name = match (name(envelope.event_name)?, name(envelope.event)?) {
            (Some(a), Some(b)) if a != b => return Err(WebhookError::ConflictingEventNames),
            (Some(name), _) | (None, Some(name)) => EventName::parse(&name)?,
            (None, None) => return Err(WebhookError::MissingEventName),
        };
        let payload = envelope.payload.0.ok_or(WebhookError::PayloadNotAnObject)?;
        Ok(Self {
            defect: DefectAction::of(event_name.entity(), event_name.action()),
            event_name,
            project_code: envelope.project_code.0,
            team_member_id: envelope.team_member_id.0,
            payload,
            replayed: envelope.replayed.0 == Some(true),
        })
    }

    /// The project code when it can name a project in a URL (the Qase API's, the link to the
    /// defect): 1 to [`MAX_PROJECT_KEY_CHARS`] ASCII letters and digits, as Qase's codes are.
    pub fn project_key(&self) -> Option<&str> {
        self.project_code
            .as_deref()
            .filter(|code| is_project_key(code))
    }

    /// At most `max` characters of the project code, as sent (never inside a character).
    pub fn project_code_prefix(&self, max: usize) -> Option<&str> {
        let code = self.project_code.as_deref()?;
        Some(
            code.char_indices()
                .nth(max)
                .map_or(code, |(cut, _)| &code[..cut]),
        )
    }

    /// The test case and step a new defect was found in: Qase's older `defect.created`
    /// shape, `case_id` and `step` where the current one has a severity.
    pub fn found_in(&self) -> Option<(u64, u64)> {
        let p = &self.payload;
        match (self.defect, &p.severity, p.case_id, p.step) {
            (Some(DefectAction::Created), None, Some(case_id), Some(step)) => Some((case_id, step)),
            _ => None,
        }
    }
}

/// Reads a field with [`Lenient`]: `None` when absent, `null` or of another type.
fn lenient<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: json::Scalar,
    D: serde::Deserializer<'de>,
{
    Lenient::deserialize(deserializer).map(|Lenient(value)| value)
}

/// Whether `code` can name a project in a URL: 1 to [`MAX_PROJECT_KEY_CHARS`] ASCII letters
/// and digits, as Qase's codes are.
pub fn is_project_key(code: &str) -> bool {
    (1..=MAX_PROJECT_KEY_CHARS).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether well-formed JSON `text` is an object (its first token is `{`).
fn is_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_defect_created_in_both_documented_shapes() {
        let severity = r#"{"event_name":"defect.created","timestamp":1,"payload":{"id":42,"title":"Login button does nothing","severity":"critical","actual_result":"x","attachments":[]},"team_member_id":7,"project_code":"DEMO"}"#;
        let case_step = r#"{"event_name":"defect.created","timestamp":1,"payload":{"id":3,"title":"t","case_id":12,"step":2,"actual_result":"x"},"team_member_id":7,"project_code":"DEMO"}"#;
        for (body, id, title, severity, found_in) in [
            (
                severity,
                42,
                "Login button does nothing",
                Some("critical"),
                None,
            ),
            (case_step, 3, "t", None, Some((12, 2))),
        ] {
            let webhook = Webhook::parse(body).unwrap();
            // The defect view the summary and the lookup work from.
            let payload = &webhook.payload;
            assert_eq!(
                (webhook.defect, payload.id, payload.title.as_deref()),
                (Some(DefectAction::Created), Some(id), Some(title))
            );
            assert_eq!(
                (payload.severity.as_deref(), webhook.found_in()),
                (severity, found_in)
            );
        }
    }

    #[test]
    fn reads_the_other_defect_events_by_id() {
        for (action, expected) in [
            ("updated", DefectAction::Updated),
            ("resolved", DefectAction::Resolved),
            ("deleted", DefectAction::Deleted),
        ] {
            let body = format!(r#"{{"event_name":"defect.{action}","payload":{{"id":9}}}}"#);
            let webhook = Webhook::parse(&body).unwrap();
            assert_eq!(
                (webhook.defect, webhook.payload.id),
                (Some(expected), Some(9))
            );
        }
    }

    #[test]
    fn non_defect_events_have_no_defect_view() {
        let body = r#"{"event_name":"case.created","payload":{"id":1,"severity":{"id":2,"title":"major"}}}"#;
        let webhook = Webhook::parse(body).unwrap();
        assert_eq!(webhook.defect, None);
        assert_eq!(
            webhook.payload.severity, None,
            "an object severity is skipped"
        );
        assert_eq!(webhook.payload.id, Some(1));
    }

    #[test]
    fn a_project_key_is_letters_and_digits_and_a_prefix_never_splits_a_character() {
        let with = |code: &str| {
            Webhook::parse(
                &serde_json::json!({"event_name": "a.b", "payload": {}, "project_code": code})
                    .to_string(),
            )
            .unwrap()
        };
        assert_eq!(with("DEMO1").project_key(), Some("DEMO1"));
        let longest = "Q".repeat(MAX_PROJECT_KEY_CHARS);
        assert_eq!(with(&longest).project_key(), Some(longest.as_str()));
        for odd in [
            "",
            "DE MO",
            "DE/../MO",
            "DEMÖ",
            &"Q".repeat(MAX_PROJECT_KEY_CHARS + 1),
        ] {
            assert_eq!(with(odd).project_key(), None, "{odd:?}");
        }
        assert_eq!(with("ÉÉÉÉ").project_code_prefix(2), Some("ÉÉ"));
        assert_eq!(with("AB").project_code_prefix(32), Some("AB"));
    }

    #[test]
    fn accepts_the_pre_2022_envelope_keyed_by_event() {
        let body = r#"{"event":"defect.resolved","timestamp":1650533030,"payload":{"id":1}}"#;
        let webhook = Webhook::parse(body).unwrap();
        assert_eq!(webhook.event_name.as_str(), "defect.resolved");
        assert_eq!(webhook.project_code, None);
        assert_eq!(webhook.team_member_id, None);
    }

    #[test]
    fn keeps_the_event_when_payload_fields_have_the_wrong_type() {
        let body = r#"{"event_name":"defect.created","payload":{"id":"42","title":7,"severity":["x"]},"team_member_id":"me","project_code":12}"#;
        let webhook = Webhook::parse(body).unwrap();
        assert_eq!(webhook.payload, Payload::default());
        assert_eq!(webhook.project_code, None);
        assert_eq!(webhook.team_member_id, None);
    }

    #[test]
    fn accepts_a_future_event_name() {
        let webhook = Webhook::parse(r#"{"event_name":"result.v2_created","payload":{}}"#).unwrap();
        assert_eq!(webhook.event_name.entity(), "result");
        assert_eq!(webhook.event_name.action(), "v2_created");
    }

    /// Bodies that are not envelopes, each with the code it is refused with.
    const NOT_ENVELOPES: &[(&str, &str)] = &[
        ("", "invalid_json"),
        ("{", "invalid_json"),
        (
            r#"{"event_name":"defect.created","payload":{}} x"#,
            "invalid_json",
        ),
        ("[]", "not_an_object"),
        ("null", "not_an_object"),
        ("42", "not_an_object"),
        (r#""defect.created""#, "not_an_object"),
        (
            r#"{"event_name":"defect.created","event_name":"case.created","payload":{}}"#,
            "invalid_envelope",
        ),
        (r#"{"payload":{}}"#, "missing_event_name"),
        (r#"{"event_name":null,"payload":{}}"#, "missing_event_name"),
        (r#"{"event_name":7,"payload":{}}"#, "invalid_event_name"),
        (r#"{"event_name":"","payload":{}}"#, "invalid_event_name"),
        (
            r#"{"event_name":"defect","payload":{}}"#,
            "invalid_event_name",
        ),
        (
            r#"{"event_name":"Defect.Created","payload":{}}"#,
            "invalid_event_name",
        ),
        (
            r#"{"event_name":"defect.created.x","payload":{}}"#,
            "invalid_event_name",
        ),
        (
            r#"{"event_name":"defect .created","payload":{}}"#,
            "invalid_event_name",
        ),
        (
            r#"{"event_name":"defect.\ncreated","payload":{}}"#,
            "invalid_event_name",
        ),
        (
            r#"{"event_name":"defect.created","event":"defect.deleted","payload":{}}"#,
            "conflicting_event_names",
        ),
        (r#"{"event_name":"defect.created"}"#, "invalid_payload"),
        (
            r#"{"event_name":"defect.created","payload":[1]}"#,
            "invalid_payload",
        ),
        (
            r#"{"event_name":"defect.created","payload":null}"#,
            "invalid_payload",
        ),
        // Valid JSON (RFC 8259 sets no range on numbers): a payload that is a number,
        // whatever its size, is not an object.
        (
            r#"{"event_name":"defect.created","payload":1e999}"#,
            "invalid_payload",
        ),
    ];

    #[test]
    fn rejects_bodies_that_are_not_envelopes_with_a_precise_code() {
        for &(body, code) in NOT_ENVELOPES {
            let err = Webhook::parse(body).expect_err(body);
            assert_eq!(err.code(), code, "{body}: {err}");
        }
    }

    #[test]
    fn rejects_json_nested_deeper_than_the_limit_anywhere_in_the_body() {
        // The envelope object is one level: arrays fill the rest.
        let nested = |levels: usize| {
            format!(
                r#"{{"event_name":"a.b","payload":{{}},"x":{}{}}}"#,
                "[".repeat(levels - 1),
                "]".repeat(levels - 1)
            )
        };
        assert!(Webhook::parse(&nested(MAX_JSON_DEPTH)).is_ok());
        let err = Webhook::parse(&nested(MAX_JSON_DEPTH + 1)).unwrap_err();
        assert_eq!(err.code(), "too_deeply_nested");
    }

    #[test]
    fn rejects_an_event_name_longer_than_the_limit() {
        let long = format!("defect.{}", "a".repeat(MAX_EVENT_NAME_LEN));
        assert!(matches!(
            EventName::parse(&long),
            Err(WebhookError::InvalidEventName)
        ));
        let longest = format!("defect.{}", "a".repeat(MAX_EVENT_NAME_LEN - 7));
        assert!(EventName::parse(&longest).is_ok());
    }
}
