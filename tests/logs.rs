//! The webhook secret and the Qase API token never leak into the logs (at any level) or a
//! response body, payload text is not logged above debug, each request is logged exactly
//! once, and the function's subscriber keeps out the library lines that would print a secret.
//!
//! A binary of its own, and one test at a time (see `common::ONE_AT_A_TIME`).

mod common;

use common::TestApp as _;

use common::moto::Moto;
use common::qase_mock::{self, QaseMock};
use common::{
    Api, Captured, EventBuilder, ONE_AT_A_TIME, RecordingPublisher, SECRET, app, capture_logs,
    qase_fixture, send,
};
use lambda_http::tracing::level_filters::LevelFilter;
use lambda_http::tracing::{Level, error, trace};
use qase_defect_fanout::config::LogConfig;
use qase_defect_fanout::lambda::logging;
use qase_defect_fanout::publisher::PublishError;

const TITLE: &str = "Payment page leaks card number 4111-PRIVATE";
const RESULT: &str = "Actual result with PRIVATE-DETAIL-5150";

/// A webhook whose payload text we can search the logs for.
fn private_webhook() -> String {
    qase_fixture("defect.created")
        .replace("Example defect", TITLE)
        .replace("Something", RESULT)
}

/// Sends good and bad requests (through the real SDK to the emulator) while logging at
/// `level`; answers the logs and every response body.
async fn run_everything(level: Level) -> (String, Vec<String>) {
    let _one = ONE_AT_A_TIME.lock().await;
    let moto = Moto::start();
    let topic = moto.create_topic("secrets", false).await;
    // Enrichment on: the defect events are looked up in the Qase API with its token.
    let qase = QaseMock::start();
    let app = app(moto.publisher(&topic)).with_enricher(qase.enricher());
    let (logs, _guard) = capture_logs(level);

    let body = private_webhook();
    let almost = format!("{SECRET}x");
    let requests = [
        EventBuilder::qase(Api::Http, &body),
        EventBuilder::qase(Api::Rest, &body),
        EventBuilder::qase(Api::Http, "{not json"),
        EventBuilder::qase(Api::Http, &body).method("PUT"),
        EventBuilder::with_secret(Api::Http, &almost, &body),
        EventBuilder::with_secret(Api::Http, &SECRET[1..], &body),
        EventBuilder::new(Api::Http).body(&body),
        EventBuilder::qase(Api::Http, &body).header("X-Qase-Secret", SECRET),
    ];
    let mut bodies = Vec::new();
    for request in &requests {
        let response = send(&app, request).await;
        bodies.push(String::from_utf8_lossy(response.body().as_ref()).into_owned());
    }
    (logs.text(), bodies)
}

#[tokio::test(flavor = "current_thread")]
async fn the_secret_appears_in_no_log_line_at_any_level_and_in_no_response() {
    let (logs, bodies) = run_everything(Level::TRACE).await;

    assert!(logs.contains("published"), "the run was logged:\n{logs}");
    assert!(logs.contains("wrong_secret"), "the run was logged:\n{logs}");
    assert!(
        logs.contains("enrichment=\"added\""),
        "the Qase API was called:\n{logs}"
    );
    assert!(logs.lines().count() > 20, "TRACE captured the SDK too");
    assert!(!logs.contains(SECRET), "the secret leaked into the logs");
    assert!(
        !logs.contains(qase_mock::TOKEN),
        "the Qase API token leaked into the logs"
    );
    for body in bodies {
        assert!(
            !body.contains(SECRET) && !body.contains(qase_mock::TOKEN),
            "a secret leaked into a response: {body}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn payload_text_is_not_logged_above_debug_and_each_request_is_one_line() {
    let (logs, _) = run_everything(Level::INFO).await;

    assert!(
        !logs.contains("PRIVATE"),
        "payload text logged at INFO:\n{logs}"
    );
    assert!(!logs.contains(SECRET));
    // One line per request, nothing else: two published, six refused.
    let lines: Vec<_> = logs.lines().collect();
    assert_eq!(lines.len(), 8, "{logs}");
    assert_eq!(
        lines.iter().filter(|l| l.contains(" published ")).count(),
        2,
        "{logs}"
    );
    assert!(
        lines.iter().all(|l| l.contains("status=")),
        "each line carries the status: {logs}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn when_the_events_topic_fails_the_error_line_says_the_notification_went_out() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = app(RecordingPublisher::failing(|| {
        PublishError::Unavailable("connection refused".into())
    }))
    .with_notifications(RecordingPublisher::ok());
    let (logs, _guard) = capture_logs(Level::INFO);
    let long_code =
        qase_fixture("defect.created").replace(r#""ID""#, &format!("\"{}\"", "Q".repeat(500)));

    let response = send(&app, &EventBuilder::qase(Api::Http, &long_code)).await;

    assert_eq!(response.status(), 503);
    let text = logs.text();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("ERROR") && lines[0].contains("not published"),
        "{text}"
    );
    assert!(lines[0].contains("notification_id=\"msg-1\""), "{text}");
    assert!(
        lines[0].contains(&format!("project_code=\"{}\"", "Q".repeat(32))),
        "{text}"
    );
    assert!(
        !lines[0].contains(&"Q".repeat(33)),
        "the project code is cut: {text}"
    );
}

/// What the function's own subscriber (`lambda::logging::dispatch`) writes for lines like the
/// libraries', at `level` with `directives`.
fn printed(level: LevelFilter, directives: &str) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let config = LogConfig {
        level,
        directives: directives.to_owned(),
        json: true,
    };
    let dispatch = logging::dispatch(&config, move || writer.clone());
    lambda_http::tracing::dispatcher::with_default(&dispatch, || {
        trace!(
            target: "lambda_runtime::layers::api_response",
            body = "{\"headers\":{\"x-qase-secret\":\"SECRET-1\"}}",
            "raw JSON event received from Lambda"
        );
        error!(
            target: "lambda_runtime::layers::api_response",
            "Failed to parse raw JSON event received from Lambda"
        );
        trace!(
            target: "aws_smithy_runtime::client::orchestrator::http",
            response = "{\"SecretString\":\"SECRET-2\"}",
            "read HTTP response body"
        );
        trace!(
            target: "aws_smithy_runtime::client::orchestrator",
            "transmitting request"
        );
        trace!(target: "qase_defect_fanout::lambda::handler", "our own trace line");
    });
    out.text()
}

#[tokio::test(flavor = "current_thread")]
async fn the_raw_event_and_sensitive_bodies_are_never_shown_whatever_the_level() {
    let _one = ONE_AT_A_TIME.lock().await;
    for (level, directives) in [
        (LevelFilter::TRACE, ""),
        (LevelFilter::INFO, "trace"),
        (
            LevelFilter::INFO,
            "lambda_runtime=trace,aws_smithy_runtime=trace,qase_defect_fanout=trace",
        ),
    ] {
        let out = printed(level, directives);
        let what = format!("{level} {directives:?}: {out}");
        assert!(!out.contains("SECRET"), "{what}");
        assert!(out.contains("Failed to parse"), "errors stay: {what}");
        assert!(out.contains("transmitting request"), "{what}");
        assert!(out.contains("our own trace line"), "{what}");
        assert_eq!(out.lines().count(), 3, "{what}");
    }
    let info = printed(LevelFilter::INFO, "");
    assert_eq!(info.lines().count(), 1, "INFO shows the error only: {info}");
}
