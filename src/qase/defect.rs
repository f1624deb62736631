//! Defects: which of the four defect events a webhook is, and what the Qase API says of one
//! defect, or of a page of a project's defects.

use serde::Deserialize;

use super::json::{Array, Lenient, Object};

/// Which of the four documented defect events a webhook is, in the order of a defect's life
/// (events of one defect at one time are replayed in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// `{"status": true, "result": {...}}`.
#[derive(Deserialize)]
struct Answer<R> {
    status: bool,
    #[serde(default = "absent")]
    result: Object<R>,
}

fn absent<R>() -> Object<R> {
    Object(None)
}

impl<R> Answer<R> {
    /// The `result` of a successful answer.
    fn read<'de>(body: &'de [u8]) -> Result<R, NotADefectAnswer>
    where
        R: Deserialize<'de>,
    {
        if !body.trim_ascii_start().starts_with(b"{") {
            return Err(NotADefectAnswer);
        }
        let answer: Self = serde_json::from_slice(body).map_err(|_| NotADefectAnswer)?;
        (answer.result.0)
            .filter(|_| answer.status)
            .ok_or(NotADefectAnswer)
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Fields {
    id: Lenient<u64>,
    created_at: Lenient<String>,
    updated_at: Lenient<String>,
    resolved_at: Lenient<String>,
    title: Lenient<String>,
    severity: Lenient<String>,
    status: Lenient<String>,
    tags: Array<Object<Tag>>,
    author_id: Lenient<i64>,
    member_id: Lenient<i64>,
    actual_result: Lenient<String>,
    attachments: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Tag {
    title: Lenient<String>,
}

impl DefectDetails {
    /// Reads the body of a successful `GET /defect/{code}/{id}`.
    pub fn from_answer(body: &[u8]) -> Result<Self, NotADefectAnswer> {
        let details = Self::from_fields(Answer::<Fields>::read(body)?);
        // A defect always has a title and a status: an answer with nothing usable is not one.
        if details == Self::default() {
            return Err(NotADefectAnswer);
        }
        Ok(details)
    }

    fn from_fields(fields: Fields) -> Self {
        Self {
            title: fields.title.0,
            severity: fields.severity.0,
            status: fields.status.0,
            tags: (fields.tags.0.into_iter().flatten())
                .filter_map(|tag| tag.0?.title.0)
                .collect(),
        }
    }
}

/// One defect of a project, as a page of `GET /defect/{code}` lists it: what the API says of
/// it, and its times as sent (ISO 8601 with an offset, e.g. `2021-12-30T19:23:59+00:00`;
/// `resolved_at` is `null` until it is resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDefect {
    /// `id`.
    pub id: u64,
    /// `title`, `severity`, `status`, `tags`.
    pub details: DefectDetails,
    /// `created_at`, when a string.
    pub created_at: Option<String>,
    /// `updated_at`, when a string.
    pub updated_at: Option<String>,
    /// `resolved_at`, when a string.
    pub resolved_at: Option<String>,
    /// Who created it: `author_id`, or `member_id` (which the spec deprecates for it) when
    /// there is none.
    pub author: Option<i64>,
    /// `actual_result`, when a string.
    pub actual_result: Option<String>,
    /// `attachments` as the API wrote them (`[{"size", "mime", "filename", "url"}]`), when an
    /// array.
    pub attachments: Option<String>,
}

/// One page of `GET /defect/{code}?limit=..&offset=..` (qase-tms/specs,
/// `DefectListResponse`): `total` defects in the project, this page's `entities`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefectPage {
    /// `total`: how many defects the project has.
    pub total: u64,
    /// `entities`, in the API's order.
    pub defects: Vec<ListedDefect>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PageFields {
    total: Lenient<u64>,
    entities: Array<Object<Fields>>,
}

impl DefectPage {
    /// Reads the body of a successful `GET /defect/{code}`. A page without `total` or
    /// `entities`, or with an entity that is not an object with an `id`, is not one: a defect
    /// skipped there would be lost without a word.
    pub fn from_answer(body: &[u8]) -> Result<Self, NotADefectAnswer> {
        let page = Answer::<PageFields>::read(body)?;
        let total = page.total.0.ok_or(NotADefectAnswer)?;
        let defects = (page.entities.0.ok_or(NotADefectAnswer)?.into_iter())
            .map(|entity| {
                let mut fields = entity.0.ok_or(NotADefectAnswer)?;
                Ok(ListedDefect {
                    id: fields.id.0.ok_or(NotADefectAnswer)?,
                    created_at: fields.created_at.0.take(),
                    updated_at: fields.updated_at.0.take(),
                    resolved_at: fields.resolved_at.0.take(),
                    author: fields.author_id.0.or(fields.member_id.0),
                    actual_result: fields.actual_result.0.take(),
                    attachments: (fields.attachments.take())
                        .map(|raw| raw.get().to_owned())
                        .filter(|raw| raw.starts_with('[')),
                    details: DefectDetails::from_fields(fields),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { total, defects })
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
    fn reads_a_page_of_the_projects_defects() {
        // The shape of qase-tms/specs DefectListResponse, fields as in Defect.yaml.
        let page = br#"{"status":true,"result":{"total":3,"filtered":3,"count":2,"entities":[
            {"id":1,"title":"Login button does nothing","severity":"critical","status":"open","tags":[],"created_at":"2021-12-30T19:23:59+00:00","updated_at":"2021-12-30T19:23:59+00:00","resolved_at":null,"created":"2021-12-30 19:23:59"},
            {"id":2,"title":"Crash","severity":"major","status":"resolved","tags":[{"title":"ui"}],"created_at":"2021-12-31T08:00:00+00:00","updated_at":"2022-01-02T10:00:00+00:00","resolved_at":"2022-01-02T10:00:00+00:00","author_id":7,"member_id":3,"actual_result":"It crashed","attachments":[{"size":12,"mime":"image/png","filename":"crash.png","url":"https://example.com/crash.png"}]}
        ]}}"#;
        let read = DefectPage::from_answer(page).unwrap();
        assert_eq!(read.total, 3);
        assert_eq!(
            read.defects[1],
            ListedDefect {
                id: 2,
                details: DefectDetails {
                    title: Some("Crash".into()),
                    severity: Some("major".into()),
                    status: Some("resolved".into()),
                    tags: vec!["ui".into()],
                },
                created_at: Some("2021-12-31T08:00:00+00:00".into()),
                updated_at: Some("2022-01-02T10:00:00+00:00".into()),
                resolved_at: Some("2022-01-02T10:00:00+00:00".into()),
                // The spec's Defect: author_id, with member_id "Deprecated, use author_id".
                author: Some(7),
                actual_result: Some("It crashed".into()),
                attachments: Some(
                    r#"[{"size":12,"mime":"image/png","filename":"crash.png","url":"https://example.com/crash.png"}]"#
                        .into()
                ),
            }
        );
        assert_eq!(read.defects[0].resolved_at, None);
        assert_eq!(
            (read.defects[0].author, &read.defects[0].attachments),
            (None, &None)
        );
        // Only the deprecated member_id: it stands for the author; attachments not a list: none.
        let older = br#"{"status":true,"result":{"total":1,"entities":[{"id":5,"member_id":3,"attachments":"x"}]}}"#;
        let older = &DefectPage::from_answer(older).unwrap().defects[0];
        assert_eq!((older.author, &older.attachments), (Some(3), &None));
        let empty = br#"{"status":true,"result":{"total":0,"filtered":0,"count":0,"entities":[]}}"#;
        assert_eq!(DefectPage::from_answer(empty).unwrap().defects, []);
    }

    #[test]
    fn refuses_a_page_that_could_hide_a_defect() {
        for page in [
            &br#"{"status":true,"result":{"entities":[]}}"#[..],
            br#"{"status":true,"result":{"total":1}}"#,
            br#"{"status":true,"result":{"total":1,"entities":[{"title":"no id"}]}}"#,
            br#"{"status":true,"result":{"total":1,"entities":["x"]}}"#,
            br#"{"status":true,"result":{"total":1,"entities":{"id":1}}}"#,
            br#"{"status":false,"errorMessage":"Project not found"}"#,
        ] {
            assert_eq!(
                DefectPage::from_answer(page),
                Err(NotADefectAnswer),
                "{}",
                String::from_utf8_lossy(page)
            );
        }
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
