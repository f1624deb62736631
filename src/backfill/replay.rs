//! Which events a project's defects say were missed in a window, and the body of each: pure.
//!
//! A defect listed by the Qase API carries three times. Each of the first two that falls in
//! the window is one event Qase sent then: `created_at` a `defect.created`, `resolved_at` a
//! `defect.resolved`; Qase's webhook settings offer these two and `defect.deleted`, and
//! deleted defects are not listed, so their events cannot be sent again. Asked to
//! (`edits`), `updated_at` is a `defect.updated` too, unless it is the moment of one of the
//! other two (Qase moves `updated_at` when it creates or resolves a defect): an event Qase
//! does not send, for any edit, of which the API keeps only the last.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::qase::{DefectAction, DefectDetails, ListedDefect};

/// The times events are looked for in: from `since` (included) to `until` (excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    since: OffsetDateTime,
    until: OffsetDateTime,
}

/// `--since` is not before `--until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("--since must be before --until (the window is empty)")]
pub struct EmptyWindow;

impl Window {
    /// From `since` to `until`; refused when that holds no moment.
    pub fn new(since: OffsetDateTime, until: OffsetDateTime) -> Result<Self, EmptyWindow> {
        if since < until {
            Ok(Self { since, until })
        } else {
            Err(EmptyWindow)
        }
    }

    /// The first moment in the window.
    pub fn since(&self) -> OffsetDateTime {
        self.since
    }

    /// The first moment after it.
    pub fn until(&self) -> OffsetDateTime {
        self.until
    }

    fn contains(&self, at: OffsetDateTime) -> bool {
        self.since <= at && at < self.until
    }
}

/// A time the Qase API sent that is not an RFC 3339 date-time: the run stops before anything
/// is published, as a defect whose time cannot be read might be one that was missed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Qase API's `{field}` of defect {defect} is not an RFC 3339 date-time")]
pub struct UnreadableTime {
    /// The defect's id.
    pub defect: u64,
    /// `created_at`, `updated_at` or `resolved_at`.
    pub field: &'static str,
}

/// One event to send again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// Which defect event.
    pub action: DefectAction,
    /// When it happened.
    pub at: OffsetDateTime,
    /// The defect's id.
    pub defect: u64,
    /// What the Qase API says of the defect now: the plan's `details`, as a lookup gives them.
    pub details: DefectDetails,
    /// The Qase-shaped envelope with `"replayed": true`.
    pub body: String,
}

/// The envelope Qase sends, in its field order, marked as replayed.
#[derive(Serialize)]
struct Envelope<'a> {
    event_name: &'a str,
    timestamp: i64,
    payload: Payload<'a>,
    /// Who did it, when the API says: its author, for `defect.created`.
    #[serde(skip_serializing_if = "Option::is_none")]
    team_member_id: Option<i64>,
    project_code: &'a str,
    replayed: bool,
}

/// What Qase's `defect.created` payload carries (its webhook reference), as far as the API
/// gives it; the other events' payloads carry the `id`, and here the title and severity too.
#[derive(Serialize)]
struct Payload<'a> {
    id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual_result: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<&'a serde_json::value::RawValue>,
}

/// The event name Qase gives a defect event.
pub fn event_name(action: DefectAction) -> &'static str {
    match action {
        DefectAction::Created => "defect.created",
        DefectAction::Updated => "defect.updated",
        DefectAction::Resolved => "defect.resolved",
        DefectAction::Deleted => "defect.deleted",
    }
}

/// Every event of project `code`'s `defects` in `window` (with `edits`, the last edits
/// too), oldest first (at the same second: by defect, then created, updated, resolved). A
/// defect listed twice (pages shift while a project changes) counts once.
pub fn replays(
    code: &str,
    defects: &[ListedDefect],
    window: &Window,
    edits: bool,
) -> Result<Vec<Replay>, UnreadableTime> {
    let mut seen = std::collections::BTreeSet::new();
    let mut replays = Vec::new();
    for defect in defects.iter().filter(|d| seen.insert(d.id)) {
        let time = |field, text: &Option<String>| read_time(defect.id, field, text.as_deref());
        let created = time("created_at", &defect.created_at)?;
        let updated = time("updated_at", &defect.updated_at)?;
        let resolved = time("resolved_at", &defect.resolved_at)?;
        let updated = updated.filter(|at| edits && Some(*at) != created && Some(*at) != resolved);
        for (action, at) in [
            (DefectAction::Created, created),
            (DefectAction::Updated, updated),
            (DefectAction::Resolved, resolved),
        ] {
            if let Some(at) = at.filter(|at| window.contains(*at)) {
                replays.push(replay(code, defect, action, at));
            }
        }
    }
    replays.sort_by_key(|r| (r.at, r.defect, r.action));
    Ok(replays)
}

fn read_time(
    defect: u64,
    field: &'static str,
    text: Option<&str>,
) -> Result<Option<OffsetDateTime>, UnreadableTime> {
    text.map(|text| OffsetDateTime::parse(text, &Rfc3339))
        .transpose()
        .map_err(|_| UnreadableTime { defect, field })
}

fn replay(code: &str, defect: &ListedDefect, action: DefectAction, at: OffsetDateTime) -> Replay {
    let created = action == DefectAction::Created;
    let attachments = (defect.attachments.as_deref())
        .filter(|_| created)
        .and_then(|raw| serde_json::from_str(raw).ok());
    let envelope = Envelope {
        event_name: event_name(action),
        timestamp: at.unix_timestamp(),
        payload: Payload {
            id: defect.id,
            title: defect.details.title.as_deref(),
            severity: defect.details.severity.as_deref(),
            actual_result: defect.actual_result.as_deref().filter(|_| created),
            attachments,
        },
        team_member_id: defect.author.filter(|_| created),
        project_code: code,
        replayed: true,
    };
    Replay {
        action,
        at,
        defect: defect.id,
        details: defect.details.clone(),
        body: serde_json::to_string(&envelope).expect("the envelope serialises"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    /// The window every test here replays: 1 December 2026, UTC.
    fn december_1st() -> Window {
        Window::new(at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z")).unwrap()
    }

    fn defect(id: u64, created: &str, updated: &str, resolved: Option<&str>) -> ListedDefect {
        ListedDefect {
            id,
            details: DefectDetails {
                title: Some(format!("Defect {id}")),
                severity: Some("major".into()),
                status: Some(
                    if resolved.is_some() {
                        "resolved"
                    } else {
                        "open"
                    }
                    .into(),
                ),
                tags: Vec::new(),
            },
            created_at: Some(created.into()),
            updated_at: Some(updated.into()),
            resolved_at: resolved.map(Into::into),
            author: None,
            actual_result: None,
            attachments: None,
        }
    }

    fn listed(replays: &[Replay]) -> Vec<(u64, &'static str, i64)> {
        replays
            .iter()
            .map(|r| (r.defect, event_name(r.action), r.at.unix_timestamp()))
            .collect()
    }

    #[test]
    fn each_time_in_the_window_is_the_event_qase_sent_then_oldest_first() {
        let defects = [
            // Resolved in the window, created before it: one resolved.
            defect(
                1,
                "2026-11-30T10:00:00+00:00",
                "2026-12-01T12:00:00+00:00",
                Some("2026-12-01T12:00:00+00:00"),
            ),
            // Created in the window, updated later in it: created, then updated.
            defect(
                2,
                "2026-12-01T09:00:00+02:00",
                "2026-12-01T11:00:00+00:00",
                None,
            ),
            // Created and updated at the same moment, after the window: nothing.
            defect(3, "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z", None),
            // Before the window: nothing.
            defect(4, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", None),
        ];
        let found = replays("DEMO", &defects, &december_1st(), true).unwrap();
        // 09:00+02:00 is 07:00Z (1796108400), 11:00Z is 1796122800, 12:00Z is 1796126400.
        assert_eq!(
            listed(&found),
            [
                (2, "defect.created", 1_796_108_400),
                (2, "defect.updated", 1_796_122_800),
                (1, "defect.resolved", 1_796_126_400),
            ]
        );
    }

    #[test]
    fn by_default_only_what_qase_sends_is_replayed() {
        // Qase's webhook settings offer a defect's creation, resolution and deletion: an edit
        // alone sent nothing, so it is replayed only when asked for.
        let edited = [defect(
            5,
            "2026-11-30T00:00:00Z",
            "2026-12-01T11:00:00Z",
            None,
        )];
        assert!(
            replays("DEMO", &edited, &december_1st(), false)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            listed(&replays("DEMO", &edited, &december_1st(), true).unwrap()),
            [(5, "defect.updated", 1_796_122_800)]
        );
    }

    #[test]
    fn a_replayed_creation_carries_what_the_api_gives_of_qases_payload() {
        // Qase's defect.created: event_name, timestamp, payload {id, title, severity,
        // actual_result, attachments}, team_member_id, project_code.
        let created = ListedDefect {
            author: Some(7),
            actual_result: Some("It crashed".into()),
            attachments: Some(r#"[{"size":12,"mime":"image/png","filename":"c.png","url":"https://e.com/c.png"}]"#.into()),
            ..defect(42, "2026-12-01T07:00:00Z", "2026-12-01T12:00:00Z", Some("2026-12-01T12:00:00Z"))
        };
        let found = replays("DEMO", &[created], &december_1st(), false).unwrap();
        assert_eq!(
            found[0].body,
            r#"{"event_name":"defect.created","timestamp":1796108400,"payload":{"id":42,"title":"Defect 42","severity":"major","actual_result":"It crashed","attachments":[{"size":12,"mime":"image/png","filename":"c.png","url":"https://e.com/c.png"}]},"team_member_id":7,"project_code":"DEMO","replayed":true}"#
        );
        // Who resolved it the API does not say; Qase's defect.resolved payload is the id.
        assert_eq!(
            found[1].body,
            r#"{"event_name":"defect.resolved","timestamp":1796126400,"payload":{"id":42,"title":"Defect 42","severity":"major"},"project_code":"DEMO","replayed":true}"#
        );
    }

    #[test]
    fn the_body_is_a_qase_envelope_marked_replayed() {
        let defects = [defect(
            42,
            "2026-12-01T07:00:00Z",
            "2026-12-01T07:00:00Z",
            None,
        )];
        let found = replays("DEMO", &defects, &december_1st(), true).unwrap();
        assert_eq!(
            found[0].body,
            r#"{"event_name":"defect.created","timestamp":1796108400,"payload":{"id":42,"title":"Defect 42","severity":"major"},"project_code":"DEMO","replayed":true}"#
        );
    }

    #[test]
    fn the_window_includes_its_start_and_excludes_its_end() {
        let on_the_edges = [
            defect(1, "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z", None),
            defect(2, "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z", None),
        ];
        let w = december_1st();
        assert_eq!(
            listed(&replays("DEMO", &on_the_edges, &w, true).unwrap()),
            [(1, "defect.created", 1_796_083_200)]
        );
        assert_eq!(Window::new(w.until(), w.since()), Err(EmptyWindow));
        assert_eq!(Window::new(w.since(), w.since()), Err(EmptyWindow));
    }

    #[test]
    fn a_defect_listed_twice_counts_once() {
        let d = defect(5, "2026-12-01T01:00:00Z", "2026-12-01T01:00:00Z", None);
        let w = december_1st();
        assert_eq!(replays("DEMO", &[d.clone(), d], &w, true).unwrap().len(), 1);
    }

    #[test]
    fn a_time_the_api_sent_that_cannot_be_read_stops_the_run() {
        let mut d = defect(6, "2026-12-01T01:00:00Z", "2026-12-01T01:00:00Z", None);
        d.resolved_at = Some("2026-12-01 01:00:00".into());
        let w = december_1st();
        assert_eq!(
            replays("DEMO", &[d], &w, true),
            Err(UnreadableTime {
                defect: 6,
                field: "resolved_at"
            })
        );
    }
}
