//! What people read: the subject, the short text of the notifications topic (email) and, in
//! [`chat`], the chat topic's message (Slack, Microsoft Teams).
//!
//! Machines get the request body untouched on the events topic (see [`crate::message`]);
//! people get these, written from one [`Facts`]: the parsed [`Webhook`] and, when enrichment
//! is on, what the Qase API said of the defect ([`DefectDetails`]). Pure functions over plain
//! data; no payload text beyond the title ever goes in (actual results may be personal data).

pub mod chat;

use std::fmt::Write as _;

pub use crate::message::MAX_SUBJECT_UTF16_UNITS;
use crate::message::is_sqs_character;
use crate::qase::{DefectDetails, Webhook};

/// Titles in the text are cut to this many characters.
pub const MAX_EMAIL_TITLE_CHARS: usize = 200;
/// Project codes are cut to this many characters, in the subject, the text and the chat
/// message alike (Qase's are 2 to 10).
pub const MAX_CODE_CHARS: usize = 20;
/// Severity, status and tag labels are cut to this many characters.
pub const MAX_LABEL_CHARS: usize = 50;
/// Where defects live in the Qase web app: `<QASE_APP_URL>/defect/<CODE>/<id>`.
pub const QASE_APP_URL: &str = "https://app.qase.io";

/// What people are shown of one webhook, each fact decided once; the subject, the text and
/// the chat message are written from it.
#[derive(Debug)]
pub struct Facts<'a> {
    webhook: &'a Webhook,
    details: Option<&'a DefectDetails>,
    /// The project code on one line, when not empty, cut to [`MAX_CODE_CHARS`].
    code: Option<String>,
    /// `Shared step` for `shared_step`.
    entity: String,
    /// The title on one line: the payload's, or else the Qase API's; when not empty.
    title: Option<String>,
    /// The severity every message shows: the routing attribute's (`crate::message::severity`).
    severity: Option<&'a str>,
    /// [`Webhook::project_key`].
    key: Option<&'a str>,
    /// The defect's page in the Qase web app, for a defect event whose project code names a
    /// project and whose id is known: the only link a message ever holds.
    link: Option<String>,
    /// [`Webhook::found_in`].
    found_in: Option<(u64, u64)>,
}

impl<'a> Facts<'a> {
    /// The facts of `webhook`, with what the Qase API said of the defect (`details`) and the
    /// severity its routing attribute carries.
    pub fn new(
        webhook: &'a Webhook,
        details: Option<&'a DefectDetails>,
        severity: Option<&'a str>,
    ) -> Self {
        let one_line = |text: Option<&str>| text.map(clean_line).filter(|t| !t.is_empty());
        let title = one_line(webhook.payload.title.as_deref())
            .or_else(|| one_line(details.and_then(|d| d.title.as_deref())));
        let spaced = webhook.event_name.entity().replace('_', " ");
        let mut chars = spaced.chars();
        let entity = chars.next().map_or_else(String::new, |first| {
            first.to_ascii_uppercase().to_string() + chars.as_str()
        });
        let (key, found_in) = (webhook.project_key(), webhook.found_in());
        let link = match (webhook.defect, key, webhook.payload.id) {
            (Some(_), Some(code), Some(id)) => Some(format!("{QASE_APP_URL}/defect/{code}/{id}")),
            _ => None,
        };
        Self {
            webhook,
            details,
            code: one_line(webhook.project_code.as_deref()).map(|c| cut(&c, MAX_CODE_CHARS)),
            entity,
            title,
            severity,
            key,
            link,
            found_in,
        }
    }

    /// `[DEMO] defect.created #42: Login button does nothing`: one line of UTF-8 text (SNS:
    /// "UTF-8 text with no line breaks or control characters"), single spaces, at most
    /// [`MAX_SUBJECT_UTF16_UNITS`] UTF-16 units (99 characters, fewer with emoji), the title
    /// cut with `...`. People's words are kept in their own script; only what SNS or SQS would
    /// refuse becomes a space.
    pub fn subject(&self) -> String {
        let mut head = (self.code.as_deref()).map_or_else(String::new, |code| format!("[{code}] "));
        head.push_str(self.webhook.event_name.as_str());
        if let Some(id) = self.webhook.payload.id {
            let _ = write!(head, " #{id}");
        }
        let room = MAX_SUBJECT_UTF16_UNITS.saturating_sub(head.encode_utf16().count() + 2);
        match &self.title {
            Some(title) if room >= 4 => format!("{head}: {}", cut_utf16(title, room)),
            _ => cut_utf16(&head, MAX_SUBJECT_UTF16_UNITS),
        }
    }

    /// The plain text people read: project, event, id and title, severity or origin, the
    /// status (from the Qase API), and the link to the defect in Qase.
    pub fn text(&self) -> String {
        let name = self.webhook.event_name.as_str();
        let mut text = match &self.code {
            Some(code) => format!("Qase project {code}: {name}\n"),
            None => format!("Qase: {name}\n"),
        };
        let id = (self.webhook.payload.id).map_or_else(String::new, |id| format!(" #{id}"));
        let title = (self.title.as_deref()).map(|t| format!(": {}", cut(t, MAX_EMAIL_TITLE_CHARS)));
        if title.is_some() || !id.is_empty() {
            let _ = writeln!(text, "{}{id}{}", self.entity, title.unwrap_or_default());
        }
        let label = |name: &str, value: Option<&str>| {
            let value = clean_line(value?);
            (!value.is_empty()).then(|| format!("{name}: {}\n", cut(&value, MAX_LABEL_CHARS)))
        };
        text.extend(label("Severity", self.severity));
        if let Some((case_id, step)) = self.found_in {
            let _ = writeln!(text, "Found in test case #{case_id}, step {step}");
        }
        text.extend(label(
            "Status",
            self.details.and_then(|d| d.status.as_deref()),
        ));
        if let Some(link) = &self.link {
            let _ = writeln!(text, "Open in Qase: {link}");
        }
        text
    }

    /// The chat message: see [`chat`].
    pub fn chat(&self) -> String {
        chat::message(self)
    }
}

/// One line of text: control characters, line breaks (U+2028 and U+2029 included), other
/// whitespace and characters SQS would not deliver become spaces; runs of spaces fold; ends
/// trimmed.
pub(crate) fn clean_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !c.is_control() && !c.is_whitespace() && is_sqs_character(c) {
            out.push(c);
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim().to_owned()
}

/// Cuts `text` to `max` characters (not bytes), ending in `...` when it was cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    cut_by(text, max, |_| 1)
}

/// Cuts `text` to `max` UTF-16 code units, never inside a character, ending in `...` when it
/// was cut.
fn cut_utf16(text: &str, max: usize) -> String {
    cut_by(text, max, char::len_utf16)
}

/// Cuts `text` to at most `max` by `size` of each character, ending in `...` (three) when
/// it was cut.
fn cut_by(text: &str, max: usize, size: fn(char) -> usize) -> String {
    if text.chars().map(size).sum::<usize>() <= max {
        return text.to_owned();
    }
    let mut room = max.saturating_sub(3);
    let kept: String = text
        .chars()
        .take_while(|c| {
            let fits = size(*c) <= room;
            room = room.saturating_sub(size(*c));
            fits
        })
        .collect();
    format!("{}...", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::severity;

    fn subject(webhook: &Webhook, details: Option<&DefectDetails>) -> String {
        Facts::new(webhook, details, severity(webhook, details)).subject()
    }

    fn text(webhook: &Webhook, details: Option<&DefectDetails>) -> String {
        Facts::new(webhook, details, severity(webhook, details)).text()
    }

    fn webhook(body: &str) -> Webhook {
        Webhook::parse(body).expect("test body is a valid webhook")
    }

    /// `defect.created` #`id` of project DEMO titled `title`.
    fn titled(id: u64, title: &str) -> Webhook {
        webhook(
            &serde_json::json!({
                "event_name": "defect.created",
                "payload": {"id": id, "title": title},
                "project_code": "DEMO"
            })
            .to_string(),
        )
    }

    #[test]
    fn subject_reads_like_the_readme_example() {
        let body = r#"{"event_name":"defect.created","payload":{"id":42,"title":"Login button does nothing"},"project_code":"DEMO"}"#;
        assert_eq!(
            subject(&webhook(body), None),
            "[DEMO] defect.created #42: Login button does nothing"
        );
    }

    #[test]
    fn subject_keeps_peoples_words_on_one_line_and_cuts_by_characters_under_100() {
        let title = format!(
            "Crash\n\tin «checkout»\u{2028}{}",
            "é".repeat(10) + &"x".repeat(300)
        );
        let s = subject(&titled(7, &title), None);
        assert_eq!(s.chars().count(), 99, "{s}");
        assert!(s.len() > 99, "cut by characters, not bytes: {s}");
        assert!(
            s.starts_with("[DEMO] defect.created #7: Crash in «checkout» ééééééééééxxx"),
            "{s}"
        );
        assert!(s.ends_with("..."), "{s}");
    }

    #[test]
    fn subject_keeps_non_latin_titles_and_drops_what_sqs_would_not_deliver() {
        for (title, want) in [
            ("Кнопка входа", "[DEMO] defect.created #1: Кнопка входа"),
            ("naïve café", "[DEMO] defect.created #1: naïve café"),
            ("日本語", "[DEMO] defect.created #1: 日本語"),
            ("a\u{FFFF}b\u{0085}c", "[DEMO] defect.created #1: a b c"),
        ] {
            assert_eq!(subject(&titled(1, title), None), want);
        }
    }

    #[test]
    fn subject_counts_an_emoji_as_two_as_sns_may_and_never_splits_one() {
        let title = "😀".repeat(60);
        let s = subject(&titled(1, &title), None);
        // "[DEMO] defect.created #1: " is 26 units; 73 left, 3 for "...": 35 emoji.
        assert_eq!(
            s,
            format!("[DEMO] defect.created #1: {}...", "😀".repeat(35))
        );
        assert_eq!(s.encode_utf16().count(), 99);
        assert_eq!(s.chars().count(), 64);
    }

    #[test]
    fn subject_without_project_id_or_title_is_the_event_name() {
        let body = r#"{"event":"shared_step.deleted","payload":{"hash":"abc"}}"#;
        assert_eq!(subject(&webhook(body), None), "shared_step.deleted");
        let body =
            r#"{"event_name":"defect.created","payload":{"title":" \n "},"project_code":"DEMO"}"#;
        assert_eq!(subject(&webhook(body), None), "[DEMO] defect.created");
    }

    #[test]
    fn a_huge_project_code_is_cut_by_one_rule_in_the_subject_the_text_and_the_chat_message() {
        let code = "Q".repeat(100_000);
        let body = serde_json::json!({
            "event_name": "defect.resolved",
            "payload": {"id": 1},
            "project_code": code
        })
        .to_string();
        let webhook = webhook(&body);
        // 20 characters, the last three of them `...`.
        let shown = format!("{}...", "Q".repeat(17));
        assert!(subject(&webhook, None).starts_with(&format!("[{shown}] ")));
        let text = text(&webhook, None);
        assert!(
            text.starts_with(&format!("Qase project {shown}: ")),
            "{text}"
        );
        assert!(text.len() < 300, "{}", text.len());
        let facts = Facts::new(&webhook, None, None);
        let chat: serde_json::Value = serde_json::from_str(&facts.chat()).unwrap();
        let title = chat["content"]["title"].as_str().unwrap();
        assert_eq!(title, format!("[{shown}] Defect #1 resolved"));
    }

    #[test]
    fn text_for_a_new_defect_has_title_severity_and_a_link() {
        let body = r#"{"event_name":"defect.created","payload":{"id":42,"title":"Login button does nothing","severity":"critical","actual_result":"private text"},"project_code":"DEMO"}"#;
        assert_eq!(
            text(&webhook(body), None),
            "Qase project DEMO: defect.created\n\
             Defect #42: Login button does nothing\n\
             Severity: critical\n\
             Open in Qase: https://app.qase.io/defect/DEMO/42\n"
        );
    }

    #[test]
    fn text_for_the_older_defect_shape_names_case_and_step() {
        let body = r#"{"event_name":"defect.created","payload":{"id":3,"title":"t","case_id":12,"step":2},"project_code":"DEMO"}"#;
        let text = text(&webhook(body), None);
        assert!(text.contains("Found in test case #12, step 2\n"), "{text}");
    }

    #[test]
    fn text_for_a_resolved_defect_has_the_link_but_no_title() {
        let body = r#"{"event_name":"defect.resolved","payload":{"id":5},"project_code":"QA1"}"#;
        assert_eq!(
            text(&webhook(body), None),
            "Qase project QA1: defect.resolved\nDefect #5\nOpen in Qase: https://app.qase.io/defect/QA1/5\n"
        );
    }

    #[test]
    fn text_links_only_defects_with_a_url_safe_code_and_an_id() {
        let no_code = r#"{"event":"defect.resolved","payload":{"id":5}}"#;
        assert!(!text(&webhook(no_code), None).contains("http"));
        let odd_code =
            r#"{"event_name":"defect.resolved","payload":{"id":5},"project_code":"A/../B"}"#;
        assert!(!text(&webhook(odd_code), None).contains("http"));
        let run = r#"{"event_name":"run.started","payload":{"id":1,"title":"Nightly"},"project_code":"DEMO"}"#;
        assert_eq!(
            text(&webhook(run), None),
            "Qase project DEMO: run.started\nRun #1: Nightly\n"
        );
    }

    #[test]
    fn text_keeps_unicode_titles_on_one_line_and_cuts_long_ones() {
        let title = format!("Ошибка\r\nвхода {}", "я".repeat(400));
        let body = serde_json::json!({
            "event_name": "shared_step.created",
            "payload": {"hash": "h", "title": title},
            "project_code": "DEMO"
        })
        .to_string();
        let text = text(&webhook(&body), None);
        let line = text.lines().nth(1).unwrap();
        assert!(line.starts_with("Shared step: Ошибка входа я"), "{line}");
        assert_eq!(
            line.chars().count(),
            "Shared step: ".len() + MAX_EMAIL_TITLE_CHARS
        );
        assert!(line.ends_with("..."));
    }

    fn details() -> DefectDetails {
        DefectDetails {
            title: Some("Login button does nothing".into()),
            severity: Some("critical".into()),
            status: Some("resolved".into()),
            tags: vec!["login".into()],
        }
    }

    #[test]
    fn a_thin_defect_event_reads_with_what_the_qase_api_said() {
        let body = r#"{"event_name":"defect.resolved","payload":{"id":3},"project_code":"DEMO"}"#;
        let webhook = webhook(body);
        assert_eq!(
            subject(&webhook, Some(&details())),
            "[DEMO] defect.resolved #3: Login button does nothing"
        );
        assert_eq!(
            text(&webhook, Some(&details())),
            "Qase project DEMO: defect.resolved\n\
             Defect #3: Login button does nothing\n\
             Severity: critical\n\
             Status: resolved\n\
             Open in Qase: https://app.qase.io/defect/DEMO/3\n"
        );
        assert_eq!(
            text(&webhook, None),
            "Qase project DEMO: defect.resolved\nDefect #3\nOpen in Qase: https://app.qase.io/defect/DEMO/3\n",
            "without enrichment, as before"
        );
    }

    #[test]
    fn the_payload_wins_over_the_api_where_both_have_a_value() {
        let body = r#"{"event_name":"defect.created","payload":{"id":3,"title":"From the webhook","severity":"minor"},"project_code":"DEMO"}"#;
        let text = text(&webhook(body), Some(&details()));
        assert!(text.contains("Defect #3: From the webhook\n"), "{text}");
        assert!(
            text.contains("Severity: minor\n") && !text.contains("critical"),
            "{text}"
        );
        assert!(text.contains("Status: resolved\n"), "{text}");
    }
}
