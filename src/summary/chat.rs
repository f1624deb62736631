//! The chat topic's message: a custom notification of Amazon Q Developer in chat applications
//! (Administrator Guide, "Custom notifications using Amazon Q Developer in chat applications"),
//! which posts it to Slack or Microsoft Teams. Anything else published to a topic its channel
//! subscribes to is dropped ("Event Received is not supported").
//!
//! What the team reads: the title with the project and the event, severity, status and tags
//! when they are known, who triggered it, and the one link, to the defect in Qase. Every
//! defect event of one defect in one project has the same `threadId`, so its updates land in
//! one thread. Text written by users (title, project code, severity, status, tags) stays text:
//! [`chat_text`] says which rule each of its escapes answers.
//!
//! Amazon Q "renders notifications in the target chat platform's markdown" (the guide, on
//! `textType`): the same text goes to Slack's mrkdwn and to Teams' markdown, which read `*x*`
//! as bold and as italic, and `<url|text>` as a link and as nothing. So the text has no markup
//! at all: labels are plain words, the link is a bare URL (Slack: "URLs will be
//! auto-converted into links", Block Kit text object), and lines are paragraphs (`\n\n`;
//! Teams: "newlines are rendered for `\n\n`, but not for `\n`", Format cards in Teams).

use std::fmt::Write as _;

use serde::Serialize;

use super::{Facts, MAX_LABEL_CHARS, clean_line, cut};

/// `version`: "Must be 1.0."
pub const CHAT_VERSION: &str = "1.0";
/// `source`: "Must be custom."
pub const CHAT_SOURCE: &str = "custom";
/// `textType`: "Only client-markdown textType is currently supported": Amazon Q renders it
/// in the channel's own markdown.
pub const CHAT_TEXT_TYPE: &str = "client-markdown";
/// The title, as shown: Slack shows it in a header block, "Maximum length for the text in
/// this field is 150 characters" (Block Kit reference, Header block).
pub const MAX_CHAT_TITLE_CHARS: usize = 150;
/// The most tags listed in the chat message.
pub const MAX_CHAT_TAGS: usize = 10;

/// The custom notification schema's document.
#[derive(Serialize)]
struct CustomNotification {
    version: &'static str,
    source: &'static str,
    content: Content,
    metadata: Metadata,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Content {
    text_type: &'static str,
    title: String,
    description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    next_steps: Vec<String>,
    keywords: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_id: Option<String>,
    summary: String,
    event_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_resources: Vec<String>,
}

/// The chat message of `facts`, as the JSON document Amazon Q Developer takes.
pub(super) fn message(facts: &Facts<'_>) -> String {
    let webhook = facts.webhook;
    let name = webhook.event_name.as_str();
    let id = webhook.payload.id.map(|id| format!(" #{id}"));
    // The project key as the channel shows it: a key is ASCII letters and digits, so the
    // code `Facts` cut is the key cut.
    let shown_key = facts.key.and(facts.code.as_deref());
    let notification = CustomNotification {
        version: CHAT_VERSION,
        source: CHAT_SOURCE,
        content: Content {
            text_type: CHAT_TEXT_TYPE,
            title: headline(facts),
            description: description(facts),
            // The one link a chat message holds, written by the function: a bare URL, which
            // Slack and Teams both turn into a link.
            next_steps: (facts.link.iter())
                .map(|url| format!("Open in Qase: {url}"))
                .collect(),
            keywords: (shown_key.into_iter().chain([name]))
                .map(Into::into)
                .collect(),
        },
        metadata: Metadata {
            // `qase-DEMO-defect-42`: the same for every event of one entity (a defect, a
            // run...) in one project, different for any other.
            thread_id: (facts.key.zip(webhook.payload.id))
                .map(|(code, id)| format!("qase-{code}-{}-{id}", webhook.event_name.entity())),
            // `[DEMO] defect.created #42`: what it is about, with no text a user wrote.
            summary: format!(
                "{}{name}{}",
                shown_key
                    .map(|code| format!("[{code}] "))
                    .unwrap_or_default(),
                id.unwrap_or_default()
            ),
            event_type: name.to_owned(),
            related_resources: facts.link.iter().cloned().collect(),
        },
    };
    serde_json::to_string(&notification).expect("a document of strings serialises")
}

/// `[DEMO] Defect #42 created: Login button does nothing`, at most
/// [`MAX_CHAT_TITLE_CHARS`] as shown: the title takes the room the rest leaves.
fn headline(facts: &Facts<'_>) -> String {
    let webhook = facts.webhook;
    let mut headline = (facts.code.as_deref())
        .map(|code| chat_text(code, usize::MAX))
        .filter(|code| !code.is_empty())
        .map_or_else(String::new, |code| format!("[{code}] "));
    headline.push_str(&facts.entity);
    if let Some(id) = webhook.payload.id {
        let _ = write!(headline, " #{id}");
    }
    headline.push(' ');
    headline.push_str(&webhook.event_name.action().replace('_', " "));
    let room = MAX_CHAT_TITLE_CHARS.saturating_sub(headline.chars().count() + 2);
    if let Some(title) = facts.title.as_deref().filter(|_| room >= 4) {
        headline.push_str(": ");
        headline.push_str(&chat_text(title, room));
    }
    cut(&headline, MAX_CHAT_TITLE_CHARS)
}

/// One paragraph a fact: the event, then severity, status, tags, where a new defect was found
/// and who triggered it, each when known. Never empty (the schema requires a description).
/// Each value is cut to `MAX_LABEL_CHARS` and at most `MAX_CHAT_TAGS` tags are listed, so
/// the whole stays far below the 3,000 characters of a Slack section's text.
fn description(facts: &Facts<'_>) -> String {
    let (webhook, details) = (facts.webhook, facts.details);
    let mut lines = vec![format!("Event: {}", webhook.event_name.as_str())];
    let label = |name: &str, value: Option<&str>| {
        let value = chat_text(value?, MAX_LABEL_CHARS);
        (!value.is_empty()).then(|| format!("{name}: {value}"))
    };
    lines.extend(label("Severity", facts.severity));
    lines.extend(label("Status", details.and_then(|d| d.status.as_deref())));
    let tags: Vec<String> = (details
        .map(|d| d.tags.as_slice())
        .unwrap_or_default()
        .iter())
    .map(|tag| chat_text(tag, MAX_LABEL_CHARS))
    .filter(|tag| !tag.is_empty())
    .take(MAX_CHAT_TAGS)
    .collect();
    if !tags.is_empty() {
        lines.push(format!("Tags: {}", tags.join(", ")));
    }
    if let Some((case_id, step)) = facts.found_in {
        lines.push(format!("Found in: test case #{case_id}, step {step}"));
    }
    match webhook.team_member_id {
        Some(0) => lines.push("Triggered by: an API token".to_owned()),
        Some(member) => lines.push(format!("Triggered by: team member #{member}")),
        None => {}
    }
    lines.join("\n\n")
}

/// Text a user wrote, made safe to show in the chat message, at most `max` characters as
/// shown: it is read as written, and nothing in it acts, in Slack or in Teams, whether or not
/// markup is rendered. Every escape is one character for one, so the cut, made last, never
/// splits one. Each step answers one rule:
/// - One line, in SQS's character set (as the subject and text: `clean_line`): a line break
///   would start a quote, a list or a heading in markdown.
/// - Invisible format characters are removed (bidi overrides and isolates, zero-width
///   spaces and joiners, the byte-order mark, tag characters): they hide or reorder text, so a
///   title could show other words than it holds.
/// - `&`, `<`, `>` become `＆`, `＜`, `＞`: Slack, "Formatting text for app surfaces":
///   "Slack uses &, <, and > as control characters for special parsing"; it asks for HTML
///   entities, but Teams is sent the same text ("HTML isn't supported in Adaptive Cards",
///   Format cards in Teams), where `&lt;` could show as written. The full-width forms read
///   the same on both. This is what keeps `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>`,
///   `<#C…>` and `<https://…|…>` from acting in Slack, and `<at>…</at>` and HTML in Teams.
/// - `*`, `_`, `~`, `` ` ``, `[`, `]`, `|` become their full-width forms (＊ ＿ ～ ｀ ［ ］ ｜):
///   markdown's emphasis, strike-through, code and link syntax (Slack's `*bold*` `_italic_`
///   `~strike~` `` `code` ``; Teams' `**bold**` and `[text](url)`), for which Slack documents
///   no escape; the full-width forms read the same and no markup reads them.
/// - `@` becomes `＠`: Slack turns a bare `@here`, `@channel`, `@everyone` or `@name` into a
///   mention when a message is posted with `link_names` (Amazon Q does not document how it
///   posts), and Teams mentions start with `@` too.
/// - `:` of `://` becomes `：`, and a `.` before a letter or digit becomes `․` (one-dot
///   leader): Slack and Teams turn bare URLs and host names (`evil.example`) into links; these
///   read the same and are not.
pub fn chat_text(text: &str, max: usize) -> String {
    let line: String = clean_line(text)
        .chars()
        .filter(|c| !is_invisible_format(*c))
        .collect();
    let chars: Vec<char> = line.trim().chars().collect();
    let mut safe = String::with_capacity(line.len() + 16);
    for (i, c) in chars.iter().enumerate() {
        let after = chars.get(i + 1).copied();
        match c {
            '&' => safe.push('＆'),
            '<' => safe.push('＜'),
            '>' => safe.push('＞'),
            '*' => safe.push('＊'),
            '_' => safe.push('＿'),
            '~' => safe.push('～'),
            '`' => safe.push('｀'),
            '[' => safe.push('［'),
            ']' => safe.push('］'),
            '|' => safe.push('｜'),
            '@' => safe.push('＠'),
            ':' if after == Some('/') => safe.push('：'),
            // Whatever precedes it: a combining accent or a variation selector is neither a
            // letter nor a digit, and `café.example` is a host name all the same.
            '.' if after.is_some_and(char::is_alphanumeric) => safe.push('\u{2024}'),
            other => safe.push(*other),
        }
    }
    cut(&safe, max)
}

/// Unicode format characters that are invisible and change how text shows: bidi marks,
/// embeddings, overrides and isolates, zero-width spaces and joiners, the word joiner and
/// invisible operators, the byte-order mark, interlinear annotation and tag characters.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{61C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::message::severity;
    use crate::qase::{DefectDetails, Webhook};

    fn webhook(body: &str) -> Webhook {
        Webhook::parse(body).expect("test body is a valid webhook")
    }

    fn chat_of(webhook: &Webhook, details: Option<&DefectDetails>) -> Value {
        let facts = Facts::new(webhook, details, severity(webhook, details));
        serde_json::from_str(&facts.chat()).unwrap()
    }

    fn chat(body: &str, details: Option<&DefectDetails>) -> Value {
        chat_of(&webhook(body), details)
    }

    fn thread_id(webhook: &Webhook) -> Option<String> {
        let id = &chat_of(webhook, None)["metadata"]["threadId"];
        id.as_str().map(str::to_owned)
    }

    #[test]
    fn a_new_defect_reads_as_a_custom_notification() {
        let body = r#"{"event_name":"defect.created","payload":{"id":42,"title":"Login button does nothing","severity":"critical","actual_result":"private text"},"team_member_id":40,"project_code":"DEMO"}"#;
        assert_eq!(
            chat(body, None),
            json!({
                "version": "1.0",
                "source": "custom",
                "content": {
                    "textType": "client-markdown",
                    "title": "[DEMO] Defect #42 created: Login button does nothing",
                    "description": "Event: defect.created\n\nSeverity: critical\n\nTriggered by: team member #40",
                    "nextSteps": ["Open in Qase: https://app.qase.io/defect/DEMO/42"],
                    "keywords": ["DEMO", "defect.created"]
                },
                "metadata": {
                    "threadId": "qase-DEMO-defect-42",
                    "summary": "[DEMO] defect.created #42",
                    "eventType": "defect.created",
                    "relatedResources": ["https://app.qase.io/defect/DEMO/42"]
                }
            })
        );
    }

    #[test]
    fn a_resolved_defect_says_what_the_qase_api_knows_of_it() {
        let body = r#"{"event_name":"defect.resolved","payload":{"id":3},"team_member_id":0,"project_code":"DEMO"}"#;
        let details = DefectDetails {
            title: Some("Login button does nothing".into()),
            severity: Some("critical".into()),
            status: Some("resolved".into()),
            tags: vec!["login".into(), "ui".into()],
        };
        let content = &chat(body, Some(&details))["content"];
        assert_eq!(
            content["title"],
            "[DEMO] Defect #3 resolved: Login button does nothing"
        );
        assert_eq!(
            content["description"],
            "Event: defect.resolved\n\nSeverity: critical\n\nStatus: resolved\n\nTags: login, ui\n\nTriggered by: an API token"
        );
    }

    #[test]
    fn one_thread_per_entity_of_one_project() {
        let of = |name: &str, id: u64, code: &str| {
            let body = json!({"event_name": name, "payload": {"id": id}, "project_code": code});
            thread_id(&webhook(&body.to_string()))
        };
        let created = of("defect.created", 42, "DEMO");
        assert_eq!(created.as_deref(), Some("qase-DEMO-defect-42"));
        assert_eq!(
            of("defect.resolved", 42, "DEMO"),
            created,
            "the same defect"
        );
        assert_eq!(of("defect.deleted", 42, "DEMO"), created);
        assert_ne!(of("defect.created", 43, "DEMO"), created, "another defect");
        assert_ne!(
            of("defect.created", 42, "OTHER"),
            created,
            "another project"
        );
        assert_ne!(
            of("run.started", 42, "DEMO"),
            created,
            "a run, not a defect"
        );
        let unnamed = webhook(r#"{"event":"defect.resolved","payload":{"id":1}}"#);
        assert_eq!(thread_id(&unnamed), None, "no project: no thread");
    }

    #[test]
    fn user_text_stays_text_in_chat() {
        for (typed, shown) in [
            (
                "<!channel> <!here|here> <@U024BE7LH> <#C024BE7LH>",
                "＜!channel＞ ＜!here｜here＞ ＜＠U024BE7LH＞ ＜#C024BE7LH＞",
            ),
            (
                "<https://evil.example|click>",
                "＜https：//evil․example｜click＞",
            ),
            (
                "[docs](https://evil.example/x)",
                "［docs］(https：//evil․example/x)",
            ),
            ("@here @channel @everyone", "＠here ＠channel ＠everyone"),
            ("<at>Jane</at> & co", "＜at＞Jane＜/at＞ ＆ co"),
            ("&lt;!here&gt; pre-escaped", "＆lt;!here＆gt; pre-escaped"),
            (
                "*bold* _it_ ~gone~ `code` ```block```",
                "＊bold＊ ＿it＿ ～gone～ ｀code｀ ｀｀｀block｀｀｀",
            ),
            (
                "see evil.example or www.evil.example",
                "see evil․example or www․evil․example",
            ),
            ("v1.2 failed. Retry", "v1․2 failed. Retry"),
            ("cafe\u{301}.example .NET", "cafe\u{301}․example ․NET"),
            ("admin\u{202E}gnp.exe", "admingnp․exe"),
            ("zero\u{200B}width\u{2060}join\u{FEFF}", "zerowidthjoin"),
            ("two\nlines\u{2028}here", "two lines here"),
            ("Кнопка входа 😀", "Кнопка входа 😀"),
        ] {
            assert_eq!(chat_text(typed, usize::MAX), shown, "{typed:?}");
        }
        let long = "é".repeat(1000);
        let cut = chat_text(&long, 50);
        assert_eq!(cut.chars().count(), 50);
        assert!(cut.ends_with("..."));
    }

    #[test]
    fn a_long_project_key_is_cut_alike_in_the_title_keywords_and_summary() {
        let key = "K".repeat(30); // a key (up to 64 letters and digits), past the 20 shown
        let body =
            json!({"event_name": "defect.created", "payload": {"id": 1}, "project_code": key});
        let message = chat(&body.to_string(), None);
        let shown = format!("{}...", "K".repeat(17));
        assert_eq!(
            message["content"]["title"],
            format!("[{shown}] Defect #1 created")
        );
        assert_eq!(
            message["content"]["keywords"],
            json!([shown, "defect.created"])
        );
        assert_eq!(
            message["metadata"]["summary"],
            format!("[{shown}] defect.created #1")
        );
        assert_eq!(
            message["metadata"]["threadId"],
            format!("qase-{key}-defect-1")
        );
    }

    #[test]
    fn a_cut_is_made_on_the_text_as_shown_and_never_splits_an_escape() {
        // 60 characters that all need escaping: the cut keeps 47 of them and `...`.
        let shown = chat_text(&"<&>".repeat(20), 50);
        assert_eq!(
            shown,
            format!("{}...", "＜＆＞".repeat(16)[..47 * 3].to_owned())
        );
        assert_eq!(shown.chars().count(), 50);
        assert!(!shown.contains('&') && !shown.contains('<'), "{shown}");
    }

    #[test]
    fn the_largest_message_fits_the_slack_blocks_it_is_shown_in() {
        // Block Kit reference: a header block's text is at most 150 characters, a section
        // block's text at most 3,000 (https://docs.slack.dev/reference/block-kit/blocks).
        let (header, section) = (150, 3000);
        let worst = "<@U1> *x* & y.z ".repeat(2000);
        let body = json!({
            "event_name": "defect.created",
            "payload": {"id": u64::MAX, "title": worst, "severity": worst, "case_id": u64::MAX, "step": u64::MAX},
            "team_member_id": u64::MAX,
            "project_code": worst,
        });
        let details = DefectDetails {
            title: Some(worst.clone()),
            severity: Some(worst.clone()),
            status: Some(worst.clone()),
            tags: vec![worst.clone(); 500],
        };
        let message = chat(&body.to_string(), Some(&details));
        let title = message["content"]["title"].as_str().unwrap();
        let description = message["content"]["description"].as_str().unwrap();
        assert!(title.chars().count() <= header, "{}", title.chars().count());
        assert!(
            description.chars().count() <= section,
            "{}",
            description.chars().count()
        );
        assert!(
            title.ends_with("..."),
            "the title is cut, not dropped: {title}"
        );
    }
}
