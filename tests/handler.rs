//! The request → response contract, row by row, through the library's public API with a
//! recording publisher: what is answered, and what is (or is not) published.

mod common;

use common::TestApp as _;

use common::{
    Api, EventBuilder, RecordingPublisher, SECRET, app, json_body, qase_fixture, qase_fixtures,
    send,
};
use lambda_http::http::StatusCode;
use qase_defect_fanout::lambda::App;
use qase_defect_fanout::message::{ATTR_ENTITY_ID, ATTR_EVENT_NAME, ATTR_PROJECT_CODE};
use qase_defect_fanout::publisher::PublishError;
use qase_defect_fanout::qase::Webhook;

const APIS: [Api; 3] = [Api::Rest, Api::Http, Api::FunctionUrl];

/// Asserts a JSON error response with `status` and `code`, and that nothing was published.
async fn assert_rejected(
    app: &App<RecordingPublisher>,
    event: &EventBuilder,
    status: StatusCode,
    code: &str,
) {
    let response = send(app, event).await;
    assert_eq!(response.status(), status, "{:?}", json_body(&response));
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "error bodies are JSON"
    );
    let body = json_body(&response);
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().expect("message is a string");
    assert!(!message.is_empty(), "{body}");
    assert!(
        !message.contains(SECRET),
        "the secret never appears: {body}"
    );
    assert!(
        app.topics.events.calls().is_empty(),
        "nothing is published on {status}"
    );
    assert!(
        (app.topics.companions.notification.as_ref()).is_none_or(|n| n.calls().is_empty()),
        "no notification on {status}"
    );
}

#[tokio::test]
async fn publishes_a_valid_defect_webhook_once_and_answers_202_with_the_message_id() {
    for api in APIS {
        let app = app(RecordingPublisher::ok());
        let body = qase_fixture("defect.created");

        let response = send(&app, &EventBuilder::qase(api, &body)).await;

        assert_eq!(response.status(), StatusCode::ACCEPTED, "{api:?}");
        assert_eq!(
            json_body(&response),
            serde_json::json!({"message_id": "msg-1", "event_name": "defect.created"})
        );
        let calls = app.topics.events.calls();
        assert_eq!(calls.len(), 1, "{api:?}: published exactly once");
        assert_eq!(
            calls[0].message, body,
            "{api:?}: the body is forwarded byte for byte"
        );
        assert_eq!(calls[0].attribute(ATTR_EVENT_NAME), Some("defect.created"));
        assert_eq!(calls[0].attribute(ATTR_PROJECT_CODE), Some("ID"));
        assert_eq!(calls[0].attribute(ATTR_ENTITY_ID), Some("1"));
    }
}

#[test]
fn parses_every_documented_qase_event_with_its_own_name() {
    let all = qase_fixtures();
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

#[tokio::test]
async fn forwards_every_documented_qase_event() {
    let app = app(RecordingPublisher::ok());
    let fixtures = qase_fixtures();
    assert_eq!(fixtures.len(), 40);

    for (name, body) in &fixtures {
        let response = send(&app, &EventBuilder::qase(Api::Rest, body)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{name}");
        assert_eq!(json_body(&response)["event_name"], name.as_str());
    }

    let calls = app.topics.events.calls();
    let sent: Vec<_> = fixtures.iter().map(|(_, body)| body.as_str()).collect();
    let published: Vec<_> = calls.iter().map(|c| c.message.as_ref()).collect();
    assert_eq!(published, sent);
}

#[tokio::test]
async fn decodes_a_base64_body_and_publishes_the_decoded_text() {
    for api in APIS {
        let app = app(RecordingPublisher::ok());
        let body = qase_fixture("defect.resolved");
        let event = EventBuilder::qase(api, "").base64_body(body.as_bytes());

        let response = send(&app, &event).await;

        assert_eq!(response.status(), StatusCode::ACCEPTED, "{api:?}");
        assert_eq!(app.topics.events.calls()[0].message, body);
    }
}

#[tokio::test]
async fn answers_405_with_allow_post_to_other_methods() {
    for method in ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let app = app(RecordingPublisher::ok());
        let event = EventBuilder::qase(Api::Http, &qase_fixture("defect.created")).method(method);
        let response = send(&app, &event).await;
        assert_eq!(response.headers()["allow"], "POST", "{method}");
        assert_rejected(
            &app,
            &event,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
}

#[tokio::test]
async fn rejects_a_missing_secret_with_401() {
    for api in APIS {
        let app = app(RecordingPublisher::ok());
        let event = EventBuilder::qase(api, &qase_fixture("defect.created"))
            .without_header("X-Qase-Secret");
        assert_rejected(&app, &event, StatusCode::UNAUTHORIZED, "missing_secret").await;
    }
}

#[tokio::test]
async fn rejects_a_wrong_secret_without_publishing() {
    let body = qase_fixture("defect.created");
    let upper = SECRET.to_uppercase();
    let padded = format!("{SECRET} ");
    let prefix = &SECRET[..SECRET.len() - 1];
    for wrong in ["nope", upper.as_str(), padded.as_str(), prefix, ""] {
        for api in APIS {
            let app = app(RecordingPublisher::ok());
            let event = EventBuilder::with_secret(api, wrong, &body);
            assert_rejected(&app, &event, StatusCode::UNAUTHORIZED, "wrong_secret").await;
        }
    }
}

#[tokio::test]
async fn matches_the_secret_header_name_in_any_case() {
    for name in ["x-qase-secret", "X-QASE-SECRET", "x-Qase-Secret"] {
        let app = app(RecordingPublisher::ok());
        let event = EventBuilder::new(Api::Rest)
            .header(name, SECRET)
            .body(&qase_fixture("defect.deleted"));
        let response = send(&app, &event).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{name}");
        assert_eq!(app.topics.events.calls().len(), 1);
    }
}

#[tokio::test]
async fn rejects_a_secret_header_sent_twice() {
    let app = app(RecordingPublisher::ok());
    let event = EventBuilder::qase(Api::Http, &qase_fixture("defect.created"))
        .header("X-Qase-Secret", SECRET);
    assert_rejected(&app, &event, StatusCode::UNAUTHORIZED, "wrong_secret").await;
}

#[tokio::test]
async fn accepts_any_request_without_a_secret_header_only_when_checking_is_disabled() {
    let app = common::checking(RecordingPublisher::ok(), None);
    let event = EventBuilder::new(Api::Http).body(&qase_fixture("defect.created"));
    let response = send(&app, &event).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(app.topics.events.calls().len(), 1);
}

#[tokio::test]
async fn rejects_bodies_that_are_not_qase_webhooks_with_400() {
    let cases: &[(&str, &str)] = &[
        ("", "invalid_json"),
        ("not json", "invalid_json"),
        (
            r#"{"event_name":"defect.created","payload":{"id":1}"#,
            "invalid_json",
        ),
        ("[]", "not_an_object"),
        ("\"defect.created\"", "not_an_object"),
        (r#"{"payload":{"id":1}}"#, "missing_event_name"),
        (
            r#"{"event_name":"Defect Created","payload":{}}"#,
            "invalid_event_name",
        ),
        (
            r#"{"event_name":"defect.created","payload":"x"}"#,
            "invalid_payload",
        ),
    ];
    for (body, code) in cases {
        let app = app(RecordingPublisher::ok());
        let event = EventBuilder::qase(Api::Http, body);
        assert_rejected(&app, &event, StatusCode::BAD_REQUEST, code).await;
    }
}

#[tokio::test]
async fn rejects_a_body_that_is_not_utf8_with_400() {
    let app = app(RecordingPublisher::ok());
    let mut bytes = qase_fixture("defect.created").into_bytes();
    bytes[20] = 0xff;
    let event = EventBuilder::qase(Api::Rest, "").base64_body(&bytes);
    assert_rejected(&app, &event, StatusCode::BAD_REQUEST, "invalid_utf8").await;
}

/// A `defect.created` body of exactly `len` bytes.
fn body_of_len(len: usize) -> String {
    let head = r#"{"event_name":"defect.created","payload":{"id":1,"pad":""#;
    let tail = r#""},"project_code":"DEMO"}"#;
    format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()))
}

/// SNS counts "the message ... and all parts of the message attribute, including name, type,
/// and value" against 262,144 bytes (SNS API Reference, `Publish` and `MessageAttributeValue`).
const SNS_PUBLISH_LIMIT: usize = 262_144;

#[tokio::test]
async fn rejects_a_body_too_large_for_sns_with_413_and_accepts_the_largest_that_fits() {
    // What SNS counts besides the body: the name, type and value of each attribute these
    // bodies get (a defect.created of project DEMO, id 1).
    let attributes = ("event_name".len() + "String".len() + "defect.created".len())
        + ("entity".len() + "String".len() + "defect".len())
        + ("action".len() + "String".len() + "created".len())
        + ("project_code".len() + "String".len() + "DEMO".len())
        + ("entity_id".len() + "Number".len() + "1".len());
    let largest = SNS_PUBLISH_LIMIT - attributes;

    let fits = app(RecordingPublisher::ok());
    let response = send(&fits, &EventBuilder::qase(Api::Http, &body_of_len(largest))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(fits.topics.events.calls()[0].message.len(), largest);

    for len in [largest + 1, SNS_PUBLISH_LIMIT + 1, 1024 * 1024] {
        let app = app(RecordingPublisher::ok());
        let event = EventBuilder::qase(Api::Http, &body_of_len(len));
        assert_rejected(
            &app,
            &event,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        )
        .await;
    }
}

#[tokio::test]
async fn answers_503_with_retry_after_when_sns_throttles_or_is_unavailable() {
    type Case = (fn() -> PublishError, &'static str);
    let cases: [Case; 2] = [
        (
            || PublishError::Throttled("Rate exceeded".into()),
            "sns_throttled",
        ),
        (
            || PublishError::Unavailable("connection refused".into()),
            "sns_unavailable",
        ),
    ];
    for (fail, code) in cases {
        let app = app(RecordingPublisher::failing(fail));
        let response = send(
            &app,
            &EventBuilder::qase(Api::Rest, &qase_fixture("defect.created")),
        )
        .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{code}");
        assert_eq!(response.headers()["retry-after"], "5");
        assert_eq!(json_body(&response)["error"], code);
        assert!(json_body(&response).get("message_id").is_none());
    }
}

#[tokio::test]
async fn answers_502_with_a_code_an_operator_can_act_on_when_sns_refuses() {
    type Case = (fn() -> PublishError, &'static str);
    let cases: [Case; 7] = [
        (
            || PublishError::Rejected("NotFound: Topic does not exist".into()),
            "sns_rejected",
        ),
        (|| PublishError::NoMessageId, "sns_rejected"),
        (
            || PublishError::KmsDisabled("KMSDisabled".into()),
            "kms_disabled",
        ),
        (
            || PublishError::KmsNotFound("KMSNotFound".into()),
            "kms_not_found",
        ),
        (
            || PublishError::KmsAccessDenied("KMSAccessDenied".into()),
            "kms_access_denied",
        ),
        (
            || PublishError::KmsInvalidState("KMSInvalidState".into()),
            "kms_invalid_state",
        ),
        (
            || PublishError::KmsOptInRequired("KMSOptInRequired".into()),
            "kms_opt_in_required",
        ),
    ];
    for (fail, code) in cases {
        let app = app(RecordingPublisher::failing(fail));
        let response = send(
            &app,
            &EventBuilder::qase(Api::Http, &qase_fixture("defect.created")),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{code}");
        assert!(response.headers().get("retry-after").is_none(), "{code}");
        let body = json_body(&response);
        assert_eq!(body["error"], code);
        assert!(body.get("message_id").is_none());
    }
}

#[tokio::test]
async fn on_a_fifo_topic_groups_by_project_and_deduplicates_by_body() {
    let app = app(RecordingPublisher::ok().on_topic("arn:aws:sns:us-east-1:123456789012:q.fifo"))
        .with_fifo_events();
    let body = qase_fixture("defect.created");
    let response = send(&app, &EventBuilder::qase(Api::Http, &body)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let fifo = app.topics.events.calls()[0]
        .fifo
        .clone()
        .expect("FIFO keys set");
    assert_eq!(fifo.message_group_id, "ID");
    assert_eq!(fifo.message_deduplication_id.len(), 64);
}

#[tokio::test]
async fn answers_403_to_addresses_outside_allowed_source_ips_before_checking_anything_else() {
    let allowed: Vec<ipnet::IpNet> = vec![
        "3.141.66.247/32".parse().unwrap(),
        "10.1.0.0/16".parse().unwrap(),
    ];
    for api in APIS {
        for (ip, allowed_ip) in [
            ("3.141.66.247", true),
            ("10.1.200.3", true),
            ("3.141.66.248", false),
            ("2001:db8::1", false),
            ("not-an-ip", false),
        ] {
            let app = app(RecordingPublisher::ok()).with_allowed_sources(allowed.clone());
            let event = EventBuilder::qase(api, &qase_fixture("defect.created")).source_ip(ip);
            if allowed_ip {
                let response = send(&app, &event).await;
                assert_eq!(response.status(), StatusCode::ACCEPTED, "{api:?} {ip}");
            } else {
                assert_rejected(&app, &event, StatusCode::FORBIDDEN, "forbidden_source").await;
                // Even without a secret, the answer is 403: nothing about the secret is revealed.
                let no_secret = event.without_header("X-Qase-Secret");
                assert_rejected(&app, &no_secret, StatusCode::FORBIDDEN, "forbidden_source").await;
            }
        }
    }
}

#[tokio::test]
async fn with_a_notifications_topic_publishes_the_text_there_with_the_same_attributes_and_subject()
{
    let app = app(RecordingPublisher::ok()).with_notifications(RecordingPublisher::ok());
    let body = qase_fixture("defect.created");

    let response = send(&app, &EventBuilder::qase(Api::Http, &body)).await;

    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        json_body(&response),
        serde_json::json!({
            "message_id": "msg-1",
            "event_name": "defect.created",
            "notification_id": "msg-1"
        })
    );
    let (events, notes) = (
        app.topics.events.calls(),
        app.topics.companions.notification.as_ref().unwrap().calls(),
    );
    assert_eq!((events.len(), notes.len()), (1, 1));
    assert_eq!(events[0].message, body, "machines get the body");
    assert_eq!(
        notes[0].message,
        "Qase project ID: defect.created\n\
         Defect #1: Example defect\n\
         Severity: normal\n\
         Open in Qase: https://app.qase.io/defect/ID/1\n",
        "people get the text"
    );
    assert_eq!(notes[0].attributes, events[0].attributes);
    assert_eq!(notes[0].subject, events[0].subject);
    assert_eq!(notes[0].fifo, None);
}

#[tokio::test]
async fn a_failed_notification_still_answers_202_and_says_why() {
    type Case = (fn() -> PublishError, &'static str);
    let cases: [Case; 3] = [
        (
            || PublishError::Throttled("Rate exceeded".into()),
            "sns_throttled",
        ),
        (
            || PublishError::Unavailable("timed out".into()),
            "sns_unavailable",
        ),
        (|| PublishError::Rejected("NotFound".into()), "sns_rejected"),
    ];
    for (fail, code) in cases {
        let app =
            app(RecordingPublisher::ok()).with_notifications(RecordingPublisher::failing(fail));

        let response = send(
            &app,
            &EventBuilder::qase(Api::Rest, &qase_fixture("defect.resolved")),
        )
        .await;

        assert_eq!(response.status(), StatusCode::ACCEPTED, "{code}");
        assert_eq!(
            json_body(&response),
            serde_json::json!({
                "message_id": "msg-1",
                "event_name": "defect.resolved",
                "notification_error": code
            })
        );
        assert_eq!(app.topics.events.calls().len(), 1, "the event is in SNS");
    }
}

#[tokio::test]
async fn the_events_topic_alone_decides_the_answer() {
    let app = app(RecordingPublisher::failing(|| {
        PublishError::Unavailable("connection refused".into())
    }))
    .with_notifications(RecordingPublisher::ok());

    let response = send(
        &app,
        &EventBuilder::qase(Api::Http, &qase_fixture("defect.created")),
    )
    .await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_body(&response);
    assert_eq!(body["error"], "sns_unavailable");
    assert!(body.get("message_id").is_none() && body.get("notification_id").is_none());
}

#[tokio::test]
async fn refused_requests_publish_neither_message() {
    let app = app(RecordingPublisher::ok()).with_notifications(RecordingPublisher::ok());
    let event = EventBuilder::new(Api::Http)
        .header("X-Qase-Secret", "nope")
        .body(&qase_fixture("defect.created"));
    assert_rejected(&app, &event, StatusCode::UNAUTHORIZED, "wrong_secret").await;
}
