//! Qase's wire format: the webhook envelope, event names, the defect payloads, and the Qase
//! API's answer about one defect.
//!
//! Everything here is a pure function over strings. Parsing is deliberately lenient inside
//! the payload (a field of an unexpected type is skipped, never fatal) and strict about the
//! envelope (no event name, no routing). This module knows nothing of HTTP, secrets or SNS.

use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The longest event name accepted; Qase's longest documented one has 30 characters.
pub const MAX_EVENT_NAME_LEN: usize = 128;

/// Why a body is not a usable Qase webhook. Each variant maps to a stable error code.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The body is not well-formed JSON.
    #[error("body is not valid JSON")]
    NotJson(#[source] serde_json::Error),
    /// The body is JSON, but not an object.
    #[error("body is not a JSON object")]
    NotAnObject,
    /// Well-formed JSON nested deeper than [`MAX_NESTING`] levels.
    #[error("body nests JSON deeper than 127 levels")]
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
    #[must_use]
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

/// The deepest nesting accepted: `serde_json`'s recursion limit. Qase's payloads nest 4 levels;
/// far deeper JSON would only be forwarded to crash subscribers' parsers.
pub const MAX_NESTING: usize = 127;

/// A validated `<entity>.<action>` event name such as `defect.created`.
#[derive(Clone, PartialEq, Eq)]
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
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The part before the dot, e.g. `defect`.
    #[must_use]
    pub fn entity(&self) -> &str {
        &self.name[..self.dot]
    }

    /// The part after the dot, e.g. `created`.
    #[must_use]
    pub fn action(&self) -> &str {
        &self.name[self.dot + 1..]
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.name, f)
    }
}

/// The payload fields we route on, read leniently: a field that is absent or of an
/// unexpected type is `None`, and the event is still forwarded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadSummary {
    /// `payload.id`, when it is a non-negative integer.
    pub id: Option<u64>,
    /// `payload.title`, when it is a string.
    pub title: Option<String>,
    /// `payload.severity`, when it is a string (defects); objects (`case.*`) are skipped.
    pub severity: Option<String>,
    /// `payload.case_id`, when it is an integer (older `defect.created` shape, reviews).
    pub case_id: Option<u64>,
    /// `payload.step`, when it is an integer (older `defect.created` shape).
    pub step: Option<u64>,
}

/// A parsed Qase webhook: what we route on. The body itself is forwarded untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The event, e.g. `defect.created`.
    pub event_name: EventName,
    /// The Qase project code, when present as a string.
    pub project_code: Option<String>,
    /// Who triggered the event (0 for an automation token), when present as an integer.
    pub team_member_id: Option<i64>,
    /// The routing fields of the payload.
    pub payload: PayloadSummary,
}

/// How a `defect.created` payload says where the defect came from: Qase has documented two
/// shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefectOrigin<'a> {
    /// The current shape: a severity label such as `"normal"` (workspaces may rename them).
    Severity(&'a str),
    /// The older shape: the test case and the step that failed.
    CaseStep {
        /// The test case id.
        case_id: u64,
        /// The step number within the case.
        step: u64,
    },
    /// Neither shape's fields are present with the documented types.
    Unknown,
}

/// The typed view of the four defect events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefectEvent<'a> {
    /// `defect.created`.
    Created {
        /// The defect id.
        id: Option<u64>,
        /// The defect title.
        title: Option<&'a str>,
        /// Severity or case/step, depending on the payload's shape.
        origin: DefectOrigin<'a>,
    },
    /// `defect.updated` (documented, possibly never sent).
    Updated {
        /// The defect id.
        id: Option<u64>,
    },
    /// `defect.resolved`.
    Resolved {
        /// The defect id.
        id: Option<u64>,
    },
    /// `defect.deleted`.
    Deleted {
        /// The defect id.
        id: Option<u64>,
    },
}

impl Webhook {
    /// Parses a webhook body. Only the envelope must be right; see [`PayloadSummary`].
    pub fn parse(body: &str) -> Result<Self, WebhookError> {
        let envelope: Envelope<'_> = serde_json::from_str(body).map_err(|e| {
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
        // The envelope parse skips unknown values without a depth limit; a full parse has one
        // (serde_json's, MAX_NESTING). With the syntax known good, it can otherwise fail only
        // on a number too large for f64, which is valid JSON and forwarded as it is.
        if let Err(e) = serde_json::from_str::<serde_json::Value>(body)
            && e.to_string().starts_with("recursion limit exceeded")
        {
            return Err(WebhookError::TooDeeplyNested);
        }

        let name = |raw: Option<&RawValue>| {
            raw.map(|raw| lenient::<String>(raw).ok_or(WebhookError::InvalidEventName))
                .transpose()
        };
        let event_name = match (name(envelope.event_name)?, name(envelope.event)?) {
            (Some(a), Some(b)) if a != b => return Err(WebhookError::ConflictingEventNames),
            (Some(name), _) | (None, Some(name)) => EventName::parse(&name)?,
            (None, None) => return Err(WebhookError::MissingEventName),
        };

        let payload = envelope
            .payload
            .filter(|raw| is_object(raw.get()))
            .ok_or(WebhookError::PayloadNotAnObject)?;
        let fields: PayloadFields<'_> =
            serde_json::from_str(payload.get()).map_err(|_| WebhookError::PayloadNotAnObject)?;

        Ok(Self {
            event_name,
            project_code: envelope.project_code.and_then(lenient),
            team_member_id: envelope.team_member_id.and_then(lenient),
            payload: PayloadSummary {
                id: fields.id.and_then(lenient),
                title: fields.title.and_then(lenient),
                severity: fields.severity.and_then(lenient),
                case_id: fields.case_id.and_then(lenient),
                step: fields.step.and_then(lenient),
            },
        })
    }

    /// The typed defect event, when this is one of the four documented defect events.
    #[must_use]
    pub fn defect(&self) -> Option<DefectEvent<'_>> {
        if self.event_name.entity() != "defect" {
            return None;
        }
        let p = &self.payload;
        let id = p.id;
        Some(match self.event_name.action() {
            "created" => DefectEvent::Created {
                id,
                title: p.title.as_deref(),
                origin: match (&p.severity, p.case_id, p.step) {
                    (Some(severity), _, _) => DefectOrigin::Severity(severity),
                    (None, Some(case_id), Some(step)) => DefectOrigin::CaseStep { case_id, step },
                    _ => DefectOrigin::Unknown,
                },
            },
            "updated" => DefectEvent::Updated { id },
            "resolved" => DefectEvent::Resolved { id },
            "deleted" => DefectEvent::Deleted { id },
            _ => return None,
        })
    }
}

/// The envelope as sent; every field is kept raw so that a wrong type is ours to judge.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    event_name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    team_member_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    project_code: Option<&'a RawValue>,
}

/// The payload fields we route on, kept raw (see [`lenient`]).
#[derive(Deserialize)]
struct PayloadFields<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    title: Option<&'a RawValue>,
    #[serde(borrow, default)]
    severity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    case_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    step: Option<&'a RawValue>,
}

/// What the Qase API says of one defect (`GET /defect/{code}/{id}`, qase-tms/specs
/// `testops-api/v1/schemas/Defect.yaml`), read as leniently as a webhook payload: a field of
/// an unexpected type is `None` (or, for tags, skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefectDetails {
    /// `title`.
    pub title: Option<String>,
    /// `severity`, a label such as `critical` (workspaces may rename them).
    pub severity: Option<String>,
    /// `status`: `open`, `resolved`, `in_progress`, `invalid`.
    pub status: Option<String>,
    /// The `title` of each of `tags`.
    pub tags: Vec<String>,
}

/// The Qase API's answer is not `{"status": true, "result": {...}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Qase API answer is not {{\"status\": true, \"result\": {{...}}}}")]
pub struct NotADefectAnswer;

impl DefectDetails {
    /// Reads the body of a successful `GET /defect/{code}/{id}`.
    pub fn from_answer(body: &[u8]) -> Result<Self, NotADefectAnswer> {
        #[derive(Deserialize)]
        struct Answer<'a> {
            status: bool,
            #[serde(borrow)]
            result: &'a RawValue,
        }
        #[derive(Deserialize)]
        struct Fields<'a> {
            #[serde(borrow, default)]
            title: Option<&'a RawValue>,
            #[serde(borrow, default)]
            severity: Option<&'a RawValue>,
            #[serde(borrow, default)]
            status: Option<&'a RawValue>,
            #[serde(borrow, default)]
            tags: Option<&'a RawValue>,
        }
        #[derive(Deserialize)]
        struct Tag<'a> {
            #[serde(borrow, default)]
            title: Option<&'a RawValue>,
        }
        let answer: Answer<'_> = serde_json::from_slice(body).map_err(|_| NotADefectAnswer)?;
        if !answer.status || !is_object(answer.result.get()) {
            return Err(NotADefectAnswer);
        }
        let fields: Fields<'_> =
            serde_json::from_str(answer.result.get()).map_err(|_| NotADefectAnswer)?;
        let tags: Vec<&RawValue> = fields.tags.and_then(lenient).unwrap_or_default();
        let details = Self {
            title: fields.title.and_then(lenient),
            severity: fields.severity.and_then(lenient),
            status: fields.status.and_then(lenient),
            tags: tags
                .into_iter()
                .filter_map(|tag| lenient::<Tag<'_>>(tag)?.title.and_then(lenient))
                .collect(),
        };
        // A defect always has a title and a status: an answer with nothing usable is not one.
        if details == Self::default() {
            return Err(NotADefectAnswer);
        }
        Ok(details)
    }
}

/// Whether well-formed JSON `text` is an object (its first token is `{`).
fn is_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Reads a raw JSON value as `T` (which may borrow from it), or `None` when it has another
/// type.
fn lenient<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Option<T> {
    serde_json::from_str(raw.get()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every documented Qase payload, as shipped in `tests/fixtures/qase/`.
    fn fixtures() -> Vec<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/qase");
        let mut all: Vec<_> = std::fs::read_dir(dir)
            .expect("the Qase fixtures directory exists")
            .map(|entry| {
                let path = entry.expect("fixture entry is readable").path();
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                (stem, std::fs::read_to_string(&path).unwrap())
            })
            .collect();
        all.sort();
        all
    }

    #[test]
    fn parses_every_documented_qase_event_with_its_own_name() {
        let all = fixtures();
        assert_eq!(all.len(), 40, "the 40 documented events are all shipped");
        for (stem, body) in all {
            let webhook = Webhook::parse(&body).unwrap_or_else(|e| panic!("{stem}: {e}"));
            let generic: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(webhook.event_name.as_str(), stem);
            assert_eq!(
                webhook.project_code.as_deref(),
                generic["project_code"].as_str(),
                "{stem}"
            );
            assert_eq!(
                webhook.team_member_id,
                generic["team_member_id"].as_i64(),
                "{stem}"
            );
            assert!(webhook.team_member_id.is_some(), "{stem}");
            assert_eq!(
                webhook.payload.id,
                generic["payload"]["id"].as_u64(),
                "{stem}"
            );
            let has_id = !stem.starts_with("shared_step.");
            assert_eq!(webhook.payload.id.is_some(), has_id, "{stem}: payload.id");
        }
    }

    #[test]
    fn reads_defect_created_with_a_severity() {
        let body = r#"{"event_name":"defect.created","timestamp":1,"payload":{"id":42,"title":"Login button does nothing","severity":"critical","actual_result":"x","attachments":[]},"team_member_id":7,"project_code":"DEMO"}"#;
        let webhook = Webhook::parse(body).unwrap();
        assert_eq!(
            webhook.defect(),
            Some(DefectEvent::Created {
                id: Some(42),
                title: Some("Login button does nothing"),
                origin: DefectOrigin::Severity("critical"),
            })
        );
    }

    #[test]
    fn reads_defect_created_in_the_older_case_and_step_shape() {
        let body = r#"{"event_name":"defect.created","timestamp":1,"payload":{"id":3,"title":"t","case_id":12,"step":2,"actual_result":"x"},"team_member_id":7,"project_code":"DEMO"}"#;
        let webhook = Webhook::parse(body).unwrap();
        assert_eq!(
            webhook.defect(),
            Some(DefectEvent::Created {
                id: Some(3),
                title: Some("t"),
                origin: DefectOrigin::CaseStep {
                    case_id: 12,
                    step: 2
                },
            })
        );
    }

    #[test]
    fn reads_the_other_defect_events_by_id() {
        for (action, expected) in [
            ("updated", DefectEvent::Updated { id: Some(9) }),
            ("resolved", DefectEvent::Resolved { id: Some(9) }),
            ("deleted", DefectEvent::Deleted { id: Some(9) }),
        ] {
            let body = format!(r#"{{"event_name":"defect.{action}","payload":{{"id":9}}}}"#);
            assert_eq!(Webhook::parse(&body).unwrap().defect(), Some(expected));
        }
    }

    #[test]
    fn non_defect_events_have_no_defect_view() {
        let body = r#"{"event_name":"case.created","payload":{"id":1,"severity":{"id":2,"title":"major"}}}"#;
        let webhook = Webhook::parse(body).unwrap();
        assert_eq!(webhook.defect(), None);
        assert_eq!(
            webhook.payload.severity, None,
            "an object severity is skipped"
        );
        assert_eq!(webhook.payload.id, Some(1));
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
        assert_eq!(webhook.payload, PayloadSummary::default());
        assert_eq!(webhook.project_code, None);
        assert_eq!(webhook.team_member_id, None);
    }

    #[test]
    fn accepts_a_future_event_name() {
        let webhook = Webhook::parse(r#"{"event_name":"result.v2_created","payload":{}}"#).unwrap();
        assert_eq!(webhook.event_name.entity(), "result");
        assert_eq!(webhook.event_name.action(), "v2_created");
    }

    #[test]
    fn rejects_bodies_that_are_not_envelopes_with_a_precise_code() {
        let cases = [
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
        ];
        for (body, code) in cases {
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
        assert!(Webhook::parse(&nested(MAX_NESTING)).is_ok());
        let err = Webhook::parse(&nested(MAX_NESTING + 1)).unwrap_err();
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

    #[test]
    fn reads_the_qase_api_answer_about_a_defect() {
        let answer = br#"{"status":true,"result":{"id":3,"title":"Login button does nothing","actual_result":"x","severity":"critical","status":"resolved","milestone_id":null,"tags":[{"title":"login","internal_id":1},{"title":"ui","internal_id":2}],"resolved_at":"2021-12-30T19:23:59+00:00"}}"#;
        assert_eq!(
            DefectDetails::from_answer(answer).unwrap(),
            DefectDetails {
                title: Some("Login button does nothing".into()),
                severity: Some("critical".into()),
                status: Some("resolved".into()),
                tags: vec!["login".into(), "ui".into()],
            }
        );
    }

    #[test]
    fn skips_fields_of_an_unexpected_type_in_the_answer() {
        let answer = br#"{"status":true,"result":{"title":7,"severity":{"id":2},"status":null,"tags":[{"title":5},"x",{"title":"kept"},{}]}}"#;
        let nothing_usable =
            br#"{"status":true,"result":{"title":7,"severity":{"id":2},"tags":"x"}}"#;
        assert_eq!(
            DefectDetails::from_answer(nothing_usable),
            Err(NotADefectAnswer)
        );
        assert_eq!(
            DefectDetails::from_answer(answer).unwrap(),
            DefectDetails {
                tags: vec!["kept".into()],
                ..DefectDetails::default()
            }
        );
        let tags_not_a_list = br#"{"status":true,"result":{"title":"t","tags":"login"}}"#;
        let details = DefectDetails::from_answer(tags_not_a_list).unwrap();
        assert_eq!(
            (details.title.as_deref(), details.tags.len()),
            (Some("t"), 0)
        );
    }

    #[test]
    fn refuses_an_answer_that_is_not_a_successful_result() {
        for answer in [
            &b""[..],
            b"<html>",
            b"[]",
            br#"{"status":false,"errorMessage":"Not found"}"#,
            br#"{"status":true}"#,
            br#"{"status":true,"result":[1]}"#,
            br#"{"status":"true","result":{}}"#,
        ] {
            assert_eq!(
                DefectDetails::from_answer(answer),
                Err(NotADefectAnswer),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }
}
