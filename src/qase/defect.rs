//! Defects: which of the four defect events a webhook is, where a new defect came from, and
//! what the Qase API says of one defect.

use serde::Deserialize;

use super::json::{Array, Lenient, Object};

/// Which of the four documented defect events a webhook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefectAction {
    /// `defect.created`.
    Created,
    /// `defect.updated` (documented, possibly never sent).
    Updated,
    /// `defect.resolved`.
    Resolved,
    /// `defect.deleted`.
    Deleted,
}

impl DefectAction {
    /// The action of `<entity>.<action>` when the entity is `defect` and the action one of the
    /// four documented ones.
    #[must_use]
    pub fn of(entity: &str, action: &str) -> Option<Self> {
        if entity != "defect" {
            return None;
        }
        Some(match action {
            "created" => Self::Created,
            "updated" => Self::Updated,
            "resolved" => Self::Resolved,
            "deleted" => Self::Deleted,
            _ => return None,
        })
    }
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

/// `{"status": true, "result": {...}}`, in one pass.
#[derive(Deserialize)]
struct Answer {
    status: bool,
    #[serde(default)]
    result: Object<Fields>,
}

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    title: Lenient<String>,
    #[serde(default)]
    severity: Lenient<String>,
    #[serde(default)]
    status: Lenient<String>,
    #[serde(default)]
    tags: Array<Object<Tag>>,
}

#[derive(Deserialize)]
struct Tag {
    #[serde(default)]
    title: Lenient<String>,
}

impl DefectDetails {
    /// Reads the body of a successful `GET /defect/{code}/{id}`.
    pub fn from_answer(body: &[u8]) -> Result<Self, NotADefectAnswer> {
        if !body.trim_ascii_start().starts_with(b"{") {
            return Err(NotADefectAnswer);
        }
        let answer: Answer = serde_json::from_slice(body).map_err(|_| NotADefectAnswer)?;
        let fields = answer
            .result
            .0
            .filter(|_| answer.status)
            .ok_or(NotADefectAnswer)?;
        let details = Self {
            title: fields.title.0,
            severity: fields.severity.0,
            status: fields.status.0,
            tags: (fields.tags.0.into_iter().flatten())
                .filter_map(|tag| tag.0?.title.0)
                .collect(),
        };
        // A defect always has a title and a status: an answer with nothing usable is not one.
        if details == Self::default() {
            return Err(NotADefectAnswer);
        }
        Ok(details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_documented_defect_actions_are_defect_events() {
        for (action, expected) in [
            ("created", DefectAction::Created),
            ("updated", DefectAction::Updated),
            ("resolved", DefectAction::Resolved),
            ("deleted", DefectAction::Deleted),
        ] {
            assert_eq!(DefectAction::of("defect", action), Some(expected));
        }
        assert_eq!(DefectAction::of("defect", "commented"), None);
        assert_eq!(DefectAction::of("case", "created"), None);
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
