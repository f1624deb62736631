//! End to end with the real aws-sdk-sns against moto's server mode: the handler publishes,
//! SNS fans out to SQS queues subscribed with raw delivery, and we read what arrived.
#![allow(clippy::too_many_lines)] // The 60-line limit (clippy.toml) is for src/; a test is one scenario.

mod common;

use common::TestApp as _;

use std::collections::HashMap;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use common::moto::Moto;
use common::qase_mock::{self, QaseMock};
use common::{Api, EventBuilder, app, json_body, qase_fixture, send};
use lambda_http::http::StatusCode;
use qase_defect_fanout::message::{
    ATTR_ACTION, ATTR_ENTITY, ATTR_ENTITY_ID, ATTR_EVENT_NAME, ATTR_PROJECT_CODE, ATTR_SEVERITY,
    ATTR_TEAM_MEMBER_ID,
};

const DEFECT_EVENTS: [&str; 4] = [
    "defect.created",
    "defect.updated",
    "defect.resolved",
    "defect.deleted",
];

/// `(data type, value)` of each message attribute SQS delivered.
fn attributes(message: &Message) -> HashMap<String, (String, String)> {
    message
        .message_attributes()
        .map(|all| {
            all.iter()
                .map(|(name, v)| {
                    let value = v.string_value().unwrap_or_default().to_owned();
                    (name.clone(), (v.data_type().to_owned(), value))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn string(value: &str) -> (String, String) {
    ("String".into(), value.into())
}

fn number(value: &str) -> (String, String) {
    ("Number".into(), value.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect_events_reach_each_queue_byte_for_byte_as_their_filter_policy_selects() {
    // Arrange: a topic, a queue for everything, a queue that only wants defect.created.
    let moto = Moto::start();
    let topic = moto.create_topic("qase-defects", false).await;
    let everything = moto.subscribe_queue(&topic, "everything", None).await;
    let created_only = moto
        .subscribe_queue(
            &topic,
            "created-only",
            Some(r#"{"event_name":["defect.created"]}"#),
        )
        .await;
    let app = app(moto.publisher(&topic));

    // Act: every defect event, plus one that is not a defect.
    let mut sent = Vec::new();
    for name in DEFECT_EVENTS.iter().chain(&["run.started"]) {
        let body = qase_fixture(name);
        let response = send(&app, &EventBuilder::qase(Api::Rest, &body)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{name}");
        let message_id = json_body(&response)["message_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!message_id.is_empty());
        sent.push((name.to_string(), body));
    }

    // Assert: the unfiltered queue got every body exactly as sent, with typed attributes.
    let received = moto.drain(&everything).await;
    let mut bodies: Vec<_> = received
        .iter()
        .map(|m| m.body().unwrap().to_owned())
        .collect();
    let mut expected: Vec<_> = sent.iter().map(|(_, body)| body.clone()).collect();
    bodies.sort();
    expected.sort();
    assert_eq!(
        bodies, expected,
        "raw delivery yields the request bodies byte for byte"
    );

    let created = received
        .iter()
        .find(|m| m.body() == Some(qase_fixture("defect.created").as_str()))
        .unwrap();
    let got = attributes(created);
    let want: HashMap<String, (String, String)> = [
        (ATTR_EVENT_NAME, string("defect.created")),
        (ATTR_ENTITY, string("defect")),
        (ATTR_ACTION, string("created")),
        (ATTR_PROJECT_CODE, string("ID")),
        (ATTR_ENTITY_ID, number("1")),
        (ATTR_SEVERITY, string("normal")),
        (ATTR_TEAM_MEMBER_ID, number("40")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got, want);

    let resolved = received
        .iter()
        .find(|m| m.body() == Some(qase_fixture("defect.resolved").as_str()))
        .unwrap();
    let got = attributes(resolved);
    assert_eq!(got[ATTR_ACTION], string("resolved"));
    assert!(
        !got.contains_key(ATTR_SEVERITY),
        "absent values are omitted"
    );

    // Assert: the filtered queue got defect.created and nothing else.
    let filtered = moto.drain(&created_only).await;
    let names: Vec<_> = filtered
        .iter()
        .map(|m| attributes(m)[ATTR_EVENT_NAME].1.clone())
        .collect();
    assert_eq!(names, ["defect.created"]);
    assert_eq!(
        filtered[0].body(),
        Some(qase_fixture("defect.created").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_on_project_and_numeric_id_selects_by_attribute_type() {
    let moto = Moto::start();
    let topic = moto.create_topic("qase-by-project", false).await;
    let policy =
        r#"{"project_code":["ID"],"entity_id":[{"numeric":[">=",1]}],"entity":["defect"]}"#;
    let queue = moto
        .subscribe_queue(&topic, "id-defects", Some(policy))
        .await;
    let app = app(moto.publisher(&topic));

    let other_project = qase_fixture("defect.deleted").replace("\"ID\"", "\"OTHER\"");
    for body in [
        qase_fixture("defect.deleted"),
        other_project,
        qase_fixture("case.created"),
    ] {
        let response = send(&app, &EventBuilder::qase(Api::Http, &body)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }

    let received = moto.drain(&queue).await;
    let bodies: Vec<_> = received.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, [qase_fixture("defect.deleted").as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_topic_delivers_in_the_project_group() {
    let moto = Moto::start();
    let topic = moto.create_topic("qase-defects.fifo", true).await;
    let queue = moto.subscribe_queue(&topic, "defects.fifo", None).await;
    let app = app(moto.publisher(&topic)).with_fifo_events();

    let body = qase_fixture("defect.created");
    let response = send(&app, &EventBuilder::qase(Api::Http, &body)).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "{:?}",
        json_body(&response)
    );

    let received = moto.drain(&queue).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body(), Some(body.as_str()));
    let system = received[0].attributes().unwrap();
    assert_eq!(system[&MessageSystemAttributeName::MessageGroupId], "ID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_502_without_a_message_id_when_the_topic_does_not_exist() {
    let moto = Moto::start();
    let topic = moto.create_topic("exists", false).await;
    let queue = moto.subscribe_queue(&topic, "watch", None).await;
    let missing = topic.replace(":exists", ":missing");
    let app = app(moto.publisher(&missing));

    let response = send(
        &app,
        &EventBuilder::qase(Api::Rest, &qase_fixture("defect.created")),
    )
    .await;

    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body = json_body(&response);
    assert_eq!(body["error"], "sns_rejected");
    assert!(body.get("message_id").is_none());
    assert!(moto.drain(&queue).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_503_quickly_when_sns_is_unreachable() {
    // Nothing listens on this port: every attempt is refused at once.
    let port = common::moto::free_port();
    let topic = "arn:aws:sns:us-east-1:123456789012:qase-defects";
    let aws = common::moto::sdk_config_for(&format!("http://127.0.0.1:{port}"));
    let topic_arn = qase_defect_fanout::config::TopicArn::parse(topic).unwrap();
    let app = app(qase_defect_fanout::aws::sns::SnsPublisher::from_config(
        &aws, &topic_arn,
    ));

    let started = std::time::Instant::now();
    let response = send(
        &app,
        &EventBuilder::qase(Api::Http, &qase_fixture("defect.created")),
    )
    .await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(&response)["error"], "sns_unavailable");
    assert!(
        started.elapsed() < qase_defect_fanout::aws::PUBLISH_TIMEOUT,
        "answered within the publish budget: {:?}",
        started.elapsed()
    );
}

/// The SNS JSON envelope an email (or non-raw) subscriber is given.
fn envelope(message: &Message) -> serde_json::Value {
    serde_json::from_str(message.body().unwrap()).expect("an SNS envelope")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_get_the_text_on_the_notifications_topic_selected_by_the_same_filter() {
    // Arrange: the events topic with a raw queue; the notifications topic with a stand-in for
    // an email subscription (an envelope queue: Message and Subject, as email reads them),
    // filtered on event_name as the template's email subscription is.
    let moto = Moto::start();
    let events = moto.create_topic("qase-events", false).await;
    let notes = moto.create_topic("qase-notifications", false).await;
    let machines = moto.subscribe_queue(&events, "machines", None).await;
    let inbox = moto
        .subscribe_envelope_queue(
            &notes,
            "inbox",
            Some(r#"{"event_name":["defect.created","defect.resolved"]}"#),
        )
        .await;
    let app = app(moto.publisher(&events)).with_notifications(moto.publisher(&notes));

    // Act
    let mut answers = HashMap::new();
    for name in DEFECT_EVENTS {
        let response = send(&app, &EventBuilder::qase(Api::Http, &qase_fixture(name))).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{name}");
        answers.insert(name, json_body(&response));
    }

    // Assert: machines got every body as sent; the inbox got the two selected events' text.
    let bodies: Vec<_> = moto
        .drain(&machines)
        .await
        .iter()
        .map(|m| m.body().unwrap().to_owned())
        .collect();
    assert_eq!(bodies.len(), DEFECT_EVENTS.len());
    let mail: Vec<_> = moto.drain(&inbox).await.iter().map(envelope).collect();
    let mut ids: Vec<_> = mail
        .iter()
        .map(|m| m["MessageId"].as_str().unwrap())
        .collect();
    let mut expected: Vec<_> = ["defect.created", "defect.resolved"]
        .iter()
        .map(|name| answers[name]["notification_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    expected.sort_unstable();
    assert_eq!(
        ids, expected,
        "the answered notification ids arrived, and only those"
    );
    let created = mail
        .iter()
        .find(|m| m["MessageId"] == answers["defect.created"]["notification_id"])
        .unwrap();
    assert_eq!(
        created["Message"],
        "Qase project ID: defect.created\nDefect #1: Example defect\nSeverity: normal\n\
         Open in Qase: https://app.qase.io/defect/ID/1\n"
    );
    assert_eq!(created["Subject"], "[ID] defect.created #1: Example defect");
    assert_eq!(
        created["MessageAttributes"][ATTR_SEVERITY],
        serde_json::json!({"Type": "String", "Value": "normal"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_policies_select_on_what_enrichment_adds_tags_included() {
    // Defects resolved: #3 is critical and tagged login; #404 was deleted (no enrichment).
    let moto = Moto::start();
    let qase = QaseMock::start();
    let topic = moto.create_topic("enriched", false).await;
    let login = moto
        .subscribe_queue(&topic, "login", Some(r#"{"tags":["login"]}"#))
        .await;
    let critical_resolved = moto
        .subscribe_queue(
            &topic,
            "critical-resolved",
            Some(r#"{"severity":["critical"],"status":["resolved"]}"#),
        )
        .await;
    let app = app(moto.publisher(&topic)).with_enricher(qase.enricher());
    for id in [3, qase_mock::NOT_FOUND] {
        let body = format!(
            r#"{{"event_name":"defect.resolved","payload":{{"id":{id}}},"project_code":"DEMO"}}"#
        );
        let response = send(&app, &EventBuilder::qase(Api::Http, &body)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }

    for queue in [login, critical_resolved] {
        let received = moto.drain(&queue).await;
        let ids: Vec<_> = received
            .iter()
            .map(|m| attributes(m)[ATTR_ENTITY_ID].1.clone())
            .collect();
        assert_eq!(ids, ["3"], "only the enriched defect matches");
        let got = attributes(&received[0]);
        assert_eq!(
            got["tags"],
            ("String.Array".into(), r#"["login","ui"]"#.into())
        );
    }
}
