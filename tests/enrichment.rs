//! Enrichment from the Qase API, end to end through the handler, the real client, and a mock
//! Qase API on loopback: for each way Qase can answer (or not), what was published, with
//! which attributes, how long the answer took, and the one log line. The event is never
//! lost or failed because of Qase, and the token never appears in a log.
//!
//! One test at a time (they capture logs: see `common::ONE_AT_A_TIME`).
#![allow(clippy::too_many_lines)] // The 60-line limit (clippy.toml) is for src/; a test is one scenario.

mod common;

use common::TestApp as _;

use std::time::{Duration, Instant};

use common::qase_mock::{self, QaseMock};
use common::{
    Api, EventBuilder, ONE_AT_A_TIME, RecordingPublisher, app, capture_logs, json_body, resolved,
    send,
};
use lambda_http::tracing::Level;
use qase_defect_fanout::enrichment::{BUDGET, Enricher};
use qase_defect_fanout::lambda::App;
use qase_defect_fanout::message::Outbound;

/// The handler with both topics recorded and `enricher` on.
fn enriched(enricher: Enricher) -> App<RecordingPublisher> {
    app(RecordingPublisher::ok())
        .with_notifications(RecordingPublisher::ok())
        .with_enricher(enricher)
}

/// What one webhook got: the answer, what each topic was given, the time, the log.
struct Outcome {
    status: u16,
    event: Outbound<'static>,
    notification: Outbound<'static>,
    elapsed: Duration,
    log: String,
}

async fn deliver(app: &App<RecordingPublisher>, body: &str) -> Outcome {
    let (logs, _guard) = capture_logs(Level::INFO);
    let started = Instant::now();
    let response = send(app, &EventBuilder::qase(Api::Http, body)).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    assert_eq!(status, 202, "{}", json_body(&response));
    let (events, notes) = (
        app.topics.events.calls(),
        app.topics.companions.notification.as_ref().unwrap().calls(),
    );
    Outcome {
        status,
        event: events.last().unwrap().clone(),
        notification: notes.last().unwrap().clone(),
        elapsed,
        log: logs.text(),
    }
}

/// Asserts a failed lookup: 202, the body byte for byte, no enrichment attribute, the
/// notification as it is without enrichment, one WARN line naming `code` with a cause.
fn assert_published_without_enrichment(what: &str, outcome: &Outcome, body: &str, code: &str) {
    assert_eq!(outcome.status, 202, "{what}");
    assert_eq!(outcome.event.message, body, "{what}: byte for byte");
    for name in ["status", "tags", "severity"] {
        assert_eq!(outcome.event.attribute(name), None, "{what}: no {name}");
    }
    assert!(
        outcome
            .notification
            .message
            .starts_with("Qase project DEMO: defect.resolved\nDefect #"),
        "{what}: {}",
        outcome.notification.message
    );
    assert!(!outcome.notification.message.contains("Status:"), "{what}");
    let lines: Vec<_> = outcome.log.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: one line:\n{}", outcome.log);
    assert!(lines[0].contains(" WARN "), "{what}: {}", lines[0]);
    assert!(
        lines[0].contains(&format!("enrichment=\"{code}\"")),
        "{what}: {}",
        lines[0]
    );
    assert!(lines[0].contains("cause="), "{what}: {}", lines[0]);
    assert!(
        lines[0].contains("published without enrichment"),
        "{what}: {}",
        lines[0]
    );
    assert!(
        !outcome.log.contains(qase_mock::TOKEN),
        "{what}: the token leaked"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_resolved_defect_carries_its_title_severity_status_and_tags() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mock = QaseMock::start();
    let app = enriched(mock.enricher());
    let body = resolved(3);

    let outcome = deliver(&app, &body).await;

    let event = &outcome.event;
    assert_eq!(
        event.message, body,
        "the events topic gets the body byte for byte"
    );
    assert_eq!(event.attribute("severity"), Some("critical"));
    assert_eq!(event.attribute("status"), Some("resolved"));
    assert_eq!(event.attribute("tags"), Some(r#"["login","ui"]"#));
    let tags = event.attributes.iter().find(|a| a.name == "tags").unwrap();
    assert_eq!(tags.data_type.as_str(), "String.Array");
    assert_eq!(outcome.notification.attributes, event.attributes);
    assert_eq!(
        event.subject,
        "[DEMO] defect.resolved #3: Defect 3 from the Qase API"
    );
    assert_eq!(
        outcome.notification.message,
        "Qase project DEMO: defect.resolved\n\
         Defect #3: Defect 3 from the Qase API\n\
         Severity: critical\n\
         Status: resolved\n\
         Open in Qase: https://app.qase.io/defect/DEMO/3\n"
    );
    let seen = mock.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/defect/DEMO/3");
    assert_eq!(
        seen[0].token.as_deref(),
        Some(qase_mock::TOKEN),
        "the Token header"
    );
    let line = outcome.log.lines().next().unwrap();
    assert!(
        line.contains(" INFO ") && line.contains("enrichment=\"added\""),
        "{line}"
    );
    assert!(!outcome.log.contains(qase_mock::TOKEN) && !outcome.log.contains("PRIVATE"));
    println!(
        "Qase answers at once: 202 in {:?}, enriched",
        outcome.elapsed
    );
}

#[tokio::test(flavor = "current_thread")]
async fn every_failure_at_qase_publishes_the_event_without_enrichment_within_the_budget() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mock = QaseMock::start();
    // (what, defect id, token, the code in the log)
    let cases = [
        (
            "404, deleted defect",
            qase_mock::NOT_FOUND,
            qase_mock::TOKEN,
            "qase_not_found",
        ),
        // Qase's API reference lists 410 Gone among its errors: the same answer as a 404.
        (
            "410, gone defect",
            qase_mock::GONE_DEFECT,
            qase_mock::TOKEN,
            "qase_not_found",
        ),
        ("401, wrong token", 3, "not-the-token", "qase_unauthorized"),
        (
            "429 with Retry-After",
            qase_mock::RATE_LIMITED,
            qase_mock::TOKEN,
            "qase_rate_limited",
        ),
        (
            "500",
            qase_mock::SERVER_ERROR,
            qase_mock::TOKEN,
            "qase_error",
        ),
        (
            "HTML instead of JSON",
            qase_mock::GARBAGE,
            qase_mock::TOKEN,
            "qase_malformed",
        ),
        (
            "slow past the budget",
            qase_mock::SLOW,
            qase_mock::TOKEN,
            "qase_timeout",
        ),
        (
            "never answers",
            qase_mock::SILENT,
            qase_mock::TOKEN,
            "qase_timeout",
        ),
        (
            "2 MiB answer, over the 1 MiB read",
            qase_mock::HUGE,
            qase_mock::TOKEN,
            "qase_malformed",
        ),
        (
            "prompt headers, body a byte every 100 ms",
            qase_mock::TRICKLE,
            qase_mock::TOKEN,
            "qase_timeout",
        ),
    ];
    for (what, id, token, code) in cases {
        let app = enriched(Enricher::new(mock.api(token)));
        let body = resolved(id);

        let outcome = deliver(&app, &body).await;

        assert_published_without_enrichment(what, &outcome, &body, code);
        assert!(!outcome.log.contains(token), "{what}: the token leaked");
        // The code says the budget ended the wait (a lookup that outlived it would have
        // answered, or never ended). The bound is the promise to Qase (an answer within 10 s
        // of its 15 s deadline, as tests/faults.rs holds SNS to), which a busy machine keeps.
        assert!(
            outcome.elapsed < Duration::from_secs(10),
            "{what}: {:?}",
            outcome.elapsed
        );
        if code == "qase_timeout" {
            assert!(outcome.elapsed >= BUDGET, "{what}: {:?}", outcome.elapsed);
        }
        println!(
            "{what}: 202 without enrichment in {:?} ({code})",
            outcome.elapsed
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_qase_is_a_warning_not_a_failure() {
    let _one = ONE_AT_A_TIME.lock().await;
    let port = common::moto::free_port(); // nothing listens there
    let api = qase_defect_fanout::qase_api::QaseApi::new(
        &format!("http://127.0.0.1:{port}/v1"),
        &qase_defect_fanout::auth::ApiToken::new(qase_mock::TOKEN).unwrap(),
        Vec::new(),
    );
    let app = enriched(Enricher::new(api));
    let body = resolved(3);

    let outcome = deliver(&app, &body).await;

    assert_published_without_enrichment("refused", &outcome, &body, "qase_unreachable");
    println!(
        "connection refused: 202 without enrichment in {:?}",
        outcome.elapsed
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_result_with_some_wrong_types_adds_only_what_it_can() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mock = QaseMock::start();
    let app = enriched(mock.enricher());
    let body = resolved(qase_mock::PARTLY_WRONG);

    let outcome = deliver(&app, &body).await;

    assert_eq!(outcome.event.attribute("status"), Some("resolved"));
    for name in ["tags", "severity"] {
        assert_eq!(
            outcome.event.attribute(name),
            None,
            "no {name} of the wrong type"
        );
    }
    assert!(
        outcome.log.contains("enrichment=\"added\""),
        "{}",
        outcome.log
    );
    assert_eq!(
        outcome.event.subject,
        format!("[DEMO] defect.resolved #{}", qase_mock::PARTLY_WRONG),
        "no title of the wrong type"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn retry_after_is_obeyed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mock = QaseMock::start();

    // Retry-After: 7 → the next event, a moment later, does not call Qase.
    let app1 = enriched(mock.enricher());
    deliver(&app1, &resolved(qase_mock::RATE_LIMITED)).await;
    let next = deliver(&app1, &resolved(3)).await;
    assert!(
        next.log.contains("enrichment=\"qase_paused\""),
        "{}",
        next.log
    );
    assert_eq!(mock.seen().len(), 1);

    // Retry-After: 0 → the next event calls Qase again at once.
    let app2 = enriched(mock.enricher());
    deliver(&app2, &resolved(qase_mock::RATE_LIMITED_BRIEFLY)).await;
    let next = deliver(&app2, &resolved(3)).await;
    assert!(next.log.contains("enrichment=\"added\""), "{}", next.log);
    assert_eq!(mock.seen().len(), 3);
}

#[tokio::test(flavor = "current_thread")]
async fn over_https_the_client_verifies_the_server_against_its_roots() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mock = QaseMock::start_tls();
    assert!(mock.url.starts_with("https://localhost:"), "{}", mock.url);

    // Trusting the mock's CA (as AWS_CA_BUNDLE adds roots): the lookup works over TLS.
    let trusted = enriched(mock.enricher());
    let outcome = deliver(&trusted, &resolved(3)).await;
    assert_eq!(outcome.event.attribute("status"), Some("resolved"));
    assert_eq!(mock.seen().len(), 1, "the request went through TLS");

    // Trusting only the compiled-in Mozilla roots: the certificate is refused.
    let api = qase_defect_fanout::qase_api::QaseApi::new(
        &mock.url,
        &qase_defect_fanout::auth::ApiToken::new(qase_mock::TOKEN).unwrap(),
        Vec::new(),
    );
    let untrusted = enriched(Enricher::new(api));
    let body = resolved(3);
    let outcome = deliver(&untrusted, &body).await;
    assert_published_without_enrichment("unknown CA", &outcome, &body, "qase_unreachable");
    assert!(
        outcome.log.to_lowercase().contains("certificate"),
        "{}",
        outcome.log
    );
    assert_eq!(mock.seen().len(), 1, "no request without a verified server");
    println!("HTTPS, trusted CA: 202 enriched in {:?}", outcome.elapsed);
}

#[tokio::test(flavor = "current_thread")]
async fn after_repeated_failures_lookups_pause_so_an_outage_costs_nothing_per_event() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mock = QaseMock::start();
    let app = enriched(mock.enricher());

    for _ in 0..3 {
        let outcome = deliver(&app, &resolved(qase_mock::SERVER_ERROR)).await;
        assert!(
            outcome.log.contains("enrichment=\"qase_error\""),
            "{}",
            outcome.log
        );
    }
    let paused = deliver(&app, &resolved(3)).await;

    assert_eq!(mock.seen().len(), 3, "the fourth event did not call Qase");
    assert!(
        paused.log.contains("enrichment=\"qase_paused\""),
        "{}",
        paused.log
    );
    assert_eq!(paused.event.attribute("status"), None);
    println!(
        "paused after 3 failures: 202 without enrichment in {:?}",
        paused.elapsed
    );
}

#[tokio::test(flavor = "current_thread")]
async fn only_defect_events_with_a_project_and_an_id_call_qase() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mock = QaseMock::start();
    let app = enriched(mock.enricher());
    for body in [
        common::qase_fixture("run.started"),
        common::qase_fixture("case.created"),
        r#"{"event":"defect.resolved","payload":{"id":1}}"#.to_owned(),
    ] {
        let outcome = deliver(&app, &body).await;
        assert!(!outcome.log.contains("enrichment="), "{}", outcome.log);
    }
    assert!(mock.seen().is_empty(), "{:?}", mock.seen());
}
