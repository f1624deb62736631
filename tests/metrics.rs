//! The metrics as CloudWatch reads them: a run of good, refused and failing requests, its
//! output captured, every EMF document held against the specification (`common::emf`), and
//! the counts adding up to the requests sent.
#![allow(clippy::too_many_lines)] // The 60-line limit (clippy.toml) is for src/; a test is one scenario.

mod common;

use common::TestApp as _;

use common::qase_mock::{self, QaseMock};
use common::{
    Api, Captured, EventBuilder, RecordingPublisher, SECRET, app, qase_fixture, resolved, send,
};
use qase_defect_fanout::enrichment::Enricher;
use qase_defect_fanout::lambda::App;
use qase_defect_fanout::metrics::Emf;
use qase_defect_fanout::publisher::PublishError;

/// `app` writing its metrics to a buffer the test reads.
fn metered(mut app: App<RecordingPublisher>) -> (App<RecordingPublisher>, Captured) {
    let output = Captured::default();
    app.metrics = Some(Emf::to("qase-fanout-test", Box::new(output.clone())));
    (app, output)
}

const FUNCTION: (&str, &str) = ("FunctionName", "qase-fanout-test");

#[tokio::test]
async fn every_request_is_one_valid_emf_document_and_the_counts_add_up() {
    let qase = QaseMock::start();
    let body = qase_fixture("defect.created");
    let unavailable = || PublishError::Unavailable("connection refused".into());
    let rejected = || PublishError::KmsDisabled("KMSDisabled".into());

    // Published: 6. Without a notifications topic; with a notification that failed and one
    // that did not; with lookups found, deleted (404) and failed (500).
    let (ok, ok_out) = metered(app(RecordingPublisher::ok()));
    send(&ok, &EventBuilder::qase(Api::Http, &body)).await;
    let (noted_failing, noted_failing_out) = metered(
        app(RecordingPublisher::ok()).with_notifications(RecordingPublisher::failing(unavailable)),
    );
    send(&noted_failing, &EventBuilder::qase(Api::Rest, &body)).await;
    let (noted, noted_out) =
        metered(app(RecordingPublisher::ok()).with_notifications(RecordingPublisher::ok()));
    send(&noted, &EventBuilder::qase(Api::Rest, &body)).await;
    let (enriched, enriched_out) = metered(
        app(RecordingPublisher::ok()).with_enricher(Enricher::new(qase.api(qase_mock::TOKEN))),
    );
    for id in [3, qase_mock::NOT_FOUND, qase_mock::SERVER_ERROR] {
        send(&enriched, &EventBuilder::qase(Api::Http, &resolved(id))).await;
    }
    // Rejected: 4.
    for event in [
        EventBuilder::with_secret(Api::Http, "nope", &body),
        EventBuilder::new(Api::Http).body(&body),
        EventBuilder::qase(Api::Http, "{not json"),
        EventBuilder::qase(Api::Http, &body).method("GET"),
    ] {
        send(&ok, &event).await;
    }
    // Failed: 2, one whose notification failed too (not counted: its event was not published).
    let (failing, failing_out) = metered(
        app(RecordingPublisher::failing(unavailable))
            .with_notifications(RecordingPublisher::failing(unavailable)),
    );
    send(&failing, &EventBuilder::qase(Api::Http, &body)).await;
    let (refusing, refusing_out) = metered(app(RecordingPublisher::failing(rejected)));
    send(&refusing, &EventBuilder::qase(Api::Http, &body)).await;

    let output = [
        &ok_out,
        &noted_failing_out,
        &noted_out,
        &enriched_out,
        &failing_out,
        &refusing_out,
    ]
    .map(Captured::text)
    .concat();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 12, "one line per request:\n{output}");
    let docs = common::emf::documents(&output).unwrap_or_else(|e| panic!("{e}\n{output}"));
    assert_eq!(docs.len(), 12, "every line is a document");

    // Counted as CloudWatch aggregates: per declared dimension set.
    let webhooks =
        |dimension: (&str, &str)| common::emf::count(&docs, "Webhooks", &[FUNCTION, dimension]);
    assert_eq!(webhooks(("Outcome", "published")), 6);
    assert_eq!(webhooks(("Outcome", "rejected")), 4);
    assert_eq!(webhooks(("Outcome", "failed")), 2);
    for code in [
        "wrong_secret",
        "missing_secret",
        "invalid_json",
        "method_not_allowed",
        "sns_unavailable",
        "kms_disabled",
    ] {
        assert_eq!(webhooks(("Code", code)), 1, "{code}");
    }
    assert_eq!(
        common::emf::count(&docs, "Webhooks", &[FUNCTION]),
        0,
        "Webhooks has no series by FunctionName alone"
    );
    let total = |name| common::emf::count(&docs, name, &[FUNCTION]);
    let carrying = |name| docs.iter().filter(|d| d.get(name).is_some()).count();
    assert_eq!(total("NotificationFailures"), 1);
    assert_eq!(
        carrying("NotificationFailures"),
        2,
        "published webhooks with a notification topic"
    );
    assert_eq!(total("EnrichmentLookups"), 3);
    assert_eq!(
        total("EnrichmentFailures"),
        1,
        "the 500, not the deleted defect"
    );
    assert_eq!(
        carrying("PublishLatency"),
        6,
        "every published webhook has a publish latency, and only those"
    );
    assert!(docs.iter().all(|d| d["FunctionName"] == FUNCTION.1));
    assert!(!output.contains(SECRET));
    println!("one EMF document, as written:\n{}", lines[0]);
}

#[test]
fn the_specification_checks_catch_what_cloudwatch_would_not_extract() {
    let good = r#"{"_aws":{"Timestamp":NOW,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["D"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"D":"d","M":1}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let with = |from: &str, to: &str| good.replace("NOW", &now).replace(from, to);
    assert!(common::emf::validate(&with("", "")).is_ok());
    for (what, broken) in [
        ("no _aws", with(r#""_aws""#, r#""aws""#)),
        (
            "seconds, not milliseconds",
            good.replace("NOW", &now[..now.len() - 3]),
        ),
        ("a dimension with no member", with(r#""D":"d","#, "")),
        (
            "a dimension that is not a string",
            with(r#""D":"d""#, r#""D":1"#),
        ),
        ("a metric with no member", with(r#","M":1"#, "")),
        (
            "a metric that is not a number",
            with(r#""M":1"#, r#""M":"1""#),
        ),
        (
            "an unknown unit",
            with(r#""Unit":"Count""#, r#""Unit":"Things""#),
        ),
        ("no namespace", with(r#""Namespace":"N","#, "")),
    ] {
        assert!(common::emf::validate(&broken).is_err(), "{what}: {broken}");
    }
}
