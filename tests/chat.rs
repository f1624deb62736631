//! The chat topic through the real handler: Amazon Q Developer's custom notification schema
//! (held by the recording publisher to `common::chat_schema`), one thread per defect, the
//! filter policy the function applies, a failed chat publish reported and never fatal, and an
//! injection corpus showing that nothing a user typed acts in Slack or Teams.
//!
//! One test at a time where logs are captured (see `common::ONE_AT_A_TIME`).

mod common;

use common::TestApp as _;

use common::chat_schema::{CHAT_TOPIC, acting_text, chat_violations};
use common::{
    Api, Captured, EventBuilder, ONE_AT_A_TIME, RecordingPublisher, app, capture_logs, json_body,
    qase_fixture, send,
};
use lambda_http::tracing::Level;
use qase_defect_fanout::filter::FilterPolicy;
use qase_defect_fanout::lambda::App;
use qase_defect_fanout::message::severity;
use qase_defect_fanout::metrics::Emf;
use qase_defect_fanout::publisher::PublishError;
use qase_defect_fanout::qase::{DefectDetails, Webhook};
use qase_defect_fanout::summary::Facts;
use serde_json::Value;

/// The template's default `ChatFilterPolicy`.
const DEFAULT_CHAT_FILTER: &str = r#"{"event_name":["defect.created","defect.resolved"]}"#;

/// All three topics recorded; the chat topic with `filter`.
fn three_topics(filter: Option<&str>, chat: RecordingPublisher) -> App<RecordingPublisher> {
    app(RecordingPublisher::ok())
        .with_notifications(RecordingPublisher::ok())
        .with_chat(
            chat.on_topic(CHAT_TOPIC),
            filter.map(|f| FilterPolicy::parse(f).unwrap()),
        )
}

fn chat_ok() -> RecordingPublisher {
    RecordingPublisher::ok()
}

/// The chat messages `app` published, parsed.
fn chat_messages(app: &App<RecordingPublisher>) -> Vec<Value> {
    let chat = app.topics.companions.chat.as_ref().expect("a chat topic");
    (chat.calls().iter())
        .map(|c| serde_json::from_str(&c.message).expect("JSON"))
        .collect()
}

#[tokio::test]
async fn a_new_defect_reaches_the_chat_topic_in_the_schema_with_the_same_attributes() {
    let app = three_topics(None, chat_ok());
    let body = qase_fixture("defect.created");

    let response = send(&app, &EventBuilder::qase(Api::Http, &body)).await;

    assert_eq!(response.status(), 202);
    let answer = json_body(&response);
    assert_eq!(answer["chat_id"], "msg-1", "{answer}");
    let (event, chat) = (
        &app.topics.events.calls()[0],
        &app.topics.companions.chat.as_ref().unwrap().calls()[0],
    );
    assert_eq!(chat_violations(&chat.message), Vec::<String>::new());
    assert_eq!(
        chat.attributes, event.attributes,
        "one filter policy fits all topics"
    );
    assert_eq!(chat.subject, event.subject);
    let message: Value = serde_json::from_str(&chat.message).unwrap();
    assert_eq!(
        message["content"]["title"],
        "[ID] Defect #1 created: Example defect"
    );
    assert_eq!(
        message["content"]["nextSteps"],
        serde_json::json!(["Open in Qase: https://app.qase.io/defect/ID/1"])
    );
    assert!(
        !chat.message.contains("Something"),
        "no payload text but the title (actual results may be personal data)"
    );
}

#[tokio::test]
async fn every_event_of_one_defect_lands_in_one_thread() {
    let app = three_topics(None, chat_ok());
    for (name, id, code) in [
        ("defect.created", 42, "DEMO"),
        ("defect.resolved", 42, "DEMO"),
        ("defect.created", 43, "DEMO"),
        ("defect.created", 42, "OTHER"),
    ] {
        let body = serde_json::json!({
            "event_name": name, "payload": {"id": id, "title": "t"}, "project_code": code
        });
        let response = send(&app, &EventBuilder::qase(Api::Http, &body.to_string())).await;
        assert_eq!(response.status(), 202);
    }
    let threads: Vec<Value> = (chat_messages(&app).iter())
        .map(|m| m["metadata"]["threadId"].clone())
        .collect();
    assert_eq!(
        threads[0], threads[1],
        "created and resolved of DEMO-42: one thread"
    );
    assert_ne!(threads[0], threads[2], "another defect");
    assert_ne!(threads[0], threads[3], "another project");
    assert_ne!(threads[2], threads[3]);
}

#[tokio::test]
async fn only_what_the_filter_policy_selects_reaches_the_chat_topic() {
    let app = three_topics(Some(DEFAULT_CHAT_FILTER), chat_ok());
    let names = [
        "defect.created",
        "defect.resolved",
        "defect.updated",
        "defect.deleted",
        "run.started",
    ];
    for name in names {
        let response = send(&app, &EventBuilder::qase(Api::Http, &qase_fixture(name))).await;
        let answer = json_body(&response);
        let selected = matches!(name, "defect.created" | "defect.resolved");
        assert_eq!(answer["chat_id"].is_string(), selected, "{name}: {answer}");
    }
    assert_eq!(
        app.topics.events.calls().len(),
        names.len(),
        "the events topic gets all"
    );
    let events: Vec<Value> = (chat_messages(&app).iter())
        .map(|m| m["metadata"]["eventType"].clone())
        .collect();
    assert_eq!(events, ["defect.created", "defect.resolved"]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_chat_publish_keeps_the_202_and_is_reported_in_the_answer_the_log_and_metrics() {
    let _one = ONE_AT_A_TIME.lock().await;
    let failing = || PublishError::Rejected("AuthorizationError: not allowed".into());
    let metrics = Captured::default();
    let mut app = three_topics(None, RecordingPublisher::failing(failing));
    app.metrics = Some(Emf::to("fanout", Box::new(metrics.clone())));
    let (logs, _guard) = capture_logs(Level::INFO);

    let response = send(
        &app,
        &EventBuilder::qase(Api::Http, &qase_fixture("defect.created")),
    )
    .await;

    assert_eq!(response.status(), 202, "the events topic alone decides");
    let answer = json_body(&response);
    assert_eq!(answer["chat_error"], "sns_rejected", "{answer}");
    assert!(answer["notification_id"].is_string() && answer["message_id"].is_string());
    let text = logs.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("ERROR"), "{text}");
    assert!(
        lines[0].contains("published; the chat message was not"),
        "{text}"
    );
    assert!(lines[0].contains("chat_error=\"sns_rejected\""), "{text}");
    assert!(lines[0].contains("AuthorizationError"), "the cause: {text}");
    let documents = common::emf::documents(&metrics.text()).unwrap();
    let function = ("FunctionName", "fanout");
    assert_eq!(
        common::emf::count(&documents, "ChatFailures", &[function]),
        1
    );
    assert_eq!(
        common::emf::count(&documents, "NotificationFailures", &[function]),
        0
    );
}

#[tokio::test]
async fn every_event_reads_the_same_in_slack_and_teams_with_no_markup_and_a_bare_link() {
    // Amazon Q "renders notifications in the target chat platform's markdown" (custom
    // notifications guide, textType), and the two differ: `*x*` is bold in Slack and italic
    // in Teams; `<url|text>` is Slack's link and not Teams', `[text](url)` Teams' and not
    // Slack's ("Formatting text for app surfaces"; learn.microsoft.com, "Format cards in
    // Microsoft Teams"). Slack links a bare URL ("URLs will be auto-converted into links",
    // Block Kit text object). Teams renders "newlines ... for \n\n, but not for \n".
    let app = three_topics(None, chat_ok());
    let fixtures = common::qase_fixtures();
    for (_, body) in &fixtures {
        let response = send(&app, &EventBuilder::qase(Api::Http, body)).await;
        assert_eq!(response.status(), 202);
    }
    let messages = chat_messages(&app);
    assert_eq!(messages.len(), fixtures.len());
    let mut links = 0;
    for message in &messages {
        let content = &message["content"];
        let description = content["description"].as_str().unwrap();
        let steps: Vec<&str> = (content["nextSteps"].as_array().into_iter().flatten())
            .map(|s| s.as_str().unwrap())
            .collect();
        let mut shown = vec![content["title"].as_str().unwrap(), description];
        shown.extend(&steps);
        for text in shown {
            for markup in ["*", "`", "~", "<", ">", "|", "](", "**", "__"] {
                assert!(!text.contains(markup), "{markup:?} in {text:?}");
            }
        }
        assert!(
            !description.replace("\n\n", "").contains('\n'),
            "one fact a paragraph: {description:?}"
        );
        for step in steps {
            let url = step.strip_prefix("Open in Qase: ").expect(step);
            assert!(url.starts_with("https://app.qase.io/defect/") && !url.contains(' '));
            links += 1;
        }
    }
    assert_eq!(
        links, 4,
        "one link for each defect event, and only for them"
    );
}

/// Titles and project codes as anyone who can file a defect may write them: Slack and Teams
/// mentions, links and markdown, invisible characters, a very long title.
const INJECTIONS: &[&str] = &[
    "<!channel> login broken",
    "<!here|here> ping <!everyone>",
    "<@U024BE7LH> and <#C024BE7LH>",
    "<https://evil.example/steal|Open in Qase>",
    "[Open in Qase](https://evil.example/steal)",
    "@here @channel @everyone look",
    "<at>Jane Doe</at> please",
    "*urgent* _now_ ~not~ `rm -rf` ```block```",
    "visit https://evil.example or www.evil.example or evil.example",
    "invoice\u{202E}fdp.exe",
    "zero\u{200B}wid\u{200D}th\u{2060}joi\u{FEFF}ned",
    "line one\nline two\u{2028}> quoted",
    "&lt;!channel&gt; pre-escaped",
];

#[tokio::test]
async fn nothing_a_user_typed_acts_in_chat_and_the_title_stays_readable() {
    let app = three_topics(None, chat_ok());
    let long = format!("Checkout fails {}", "x".repeat(5000));
    let mut titles: Vec<&str> = INJECTIONS.to_vec();
    titles.push(&long);
    for (n, title) in titles.iter().enumerate() {
        let body = serde_json::json!({
            "event_name": "defect.created",
            "payload": {"id": 42, "title": title},
            "project_code": if n % 2 == 0 { "DEMO" } else { "<!here>" },
        });
        let response = send(&app, &EventBuilder::qase(Api::Http, &body.to_string())).await;
        assert_eq!(response.status(), 202, "{title:?}");
    }
    for (message, title) in chat_messages(&app).iter().zip(&titles) {
        let shown = message["content"]["title"].as_str().unwrap();
        let description = message["content"]["description"].as_str().unwrap();
        // The description's values are the user's; its first line is the function's.
        let values: Vec<&str> = description.lines().skip(1).collect();
        let mut user_facing = vec![shown];
        user_facing.extend(values);
        assert_eq!(
            acting_text(&user_facing),
            Vec::<String>::new(),
            "{title:?} → {shown:?}"
        );
        // Readable: every word of the title that is a word is still there.
        for word in title
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 3)
        {
            assert!(
                shown.contains(word) || shown.ends_with("..."),
                "{word:?} of {title:?} in {shown:?}"
            );
        }
        // Slack's header block: "Maximum length for the text in this field is 150
        // characters" (https://docs.slack.dev/reference/block-kit/blocks/header-block).
        assert!(shown.chars().count() <= 150, "{shown}");
        // The only link is the function's own.
        let raw = message.to_string();
        let links = raw.matches("://").count();
        let own = message["metadata"]["relatedResources"]
            .as_array()
            .map_or(0, Vec::len)
            + message["content"]["nextSteps"]
                .as_array()
                .map_or(0, Vec::len);
        assert_eq!(links, own, "{raw}");
    }
}

#[test]
fn what_the_qase_api_says_stays_text_in_chat_too() {
    let body = r#"{"event_name":"defect.resolved","payload":{"id":3},"project_code":"DEMO"}"#;
    let webhook = Webhook::parse(body).unwrap();
    for injected in INJECTIONS {
        let details = DefectDetails {
            title: Some((*injected).to_owned()),
            severity: Some((*injected).to_owned()),
            status: Some((*injected).to_owned()),
            tags: vec![(*injected).to_owned(), "ui".to_owned()],
        };
        let facts = Facts::new(&webhook, Some(&details), severity(&webhook, Some(&details)));
        let message: Value = serde_json::from_str(&facts.chat()).unwrap();
        let content = &message["content"];
        let description = content["description"].as_str().unwrap();
        let mut user_facing = vec![content["title"].as_str().unwrap()];
        user_facing.extend(description.lines().skip(1));
        assert_eq!(
            acting_text(&user_facing),
            Vec::<String>::new(),
            "{injected:?}"
        );
        assert_eq!(chat_violations(&message.to_string()), Vec::<String>::new());
    }
}
