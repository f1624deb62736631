//! The metrics as CloudWatch reads them: a run of good, refused and failing requests, its
//! output captured, every EMF document held against the specification (`common::emf`), and
//! the counts adding up to the requests sent.

mod common;

use common::qase_mock::{self, QaseMock};
use common::{
    Api, Captured, EventBuilder, RecordingPublisher, SECRET, app, app_with_notifications,
    qase_fixture, send,
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

fn resolved(id: u64) -> String {
    format!(r#"{{"event_name":"defect.resolved","payload":{{"id":{id}}},"project_code":"DEMO"}}"#)
}

#[tokio::test]
async fn every_request_is_one_valid_emf_document_and_the_counts_add_up() {
    let qase = QaseMock::start();
    let body = qase_fixture("defect.created");
    let unavailable = || PublishError::Unavailable("connection refused".into());
    let rejected = || PublishError::KmsDisabled("KMSDisabled".into());

    // Published: 4 (one with a failed notification, two with lookups: found, deleted).
    let (ok, ok_out) = metered(app(RecordingPublisher::ok()));
    send(&ok, &EventBuilder::qase(Api::Http, &body)).await;
    let (noted, noted_out) = metered(app_with_notifications(
        RecordingPublisher::ok(),
        RecordingPublisher::failing(unavailable),
    ));
    send(&noted, &EventBuilder::qase(Api::Rest, &body)).await;
    let (enriched, enriched_out) = metered(App {
        enricher: Some(Enricher::new(qase.api(qase_mock::TOKEN))),
        ..app(RecordingPublisher::ok())
    });
    send(&enriched, &EventBuilder::qase(Api::Http, &resolved(3))).await;
    send(
        &enriched,
        &EventBuilder::qase(Api::Http, &resolved(qase_mock::NOT_FOUND)),
    )
    .await;
    // Rejected: 4.
    for event in [
        EventBuilder::new(Api::Http)
            .header("X-Qase-Secret", "nope")
            .body(&body),
        EventBuilder::new(Api::Http).body(&body),
        EventBuilder::qase(Api::Http, "{not json"),
        EventBuilder::qase(Api::Http, &body).method("GET"),
    ] {
        send(&ok, &event).await;
    }
    // Failed: 2.
    let (failing, failing_out) = metered(app(RecordingPublisher::failing(unavailable)));
    send(&failing, &EventBuilder::qase(Api::Http, &body)).await;
    let (refusing, refusing_out) = metered(app(RecordingPublisher::failing(rejected)));
    send(&refusing, &EventBuilder::qase(Api::Http, &body)).await;

    let output = [
        &ok_out,
        &noted_out,
        &enriched_out,
        &failing_out,
        &refusing_out,
    ]
    .map(Captured::text)
    .concat();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 10, "one line per request:\n{output}");
    let docs = common::emf::documents(&output).unwrap_or_else(|e| panic!("{e}\n{output}"));
    assert_eq!(docs.len(), 10, "every line is a document");

    let webhooks = |filter: &[(&str, &str)]| common::emf::count(&docs, "Webhooks", filter);
    assert_eq!(webhooks(&[]), 10);
    assert_eq!(webhooks(&[("Outcome", "published")]), 4);
    assert_eq!(webhooks(&[("Outcome", "rejected")]), 4);
    assert_eq!(webhooks(&[("Outcome", "failed")]), 2);
    for (code, count) in [
        ("wrong_secret", 1),
        ("missing_secret", 1),
        ("invalid_json", 1),
        ("method_not_allowed", 1),
        ("sns_unavailable", 1),
        ("kms_disabled", 1),
    ] {
        assert_eq!(webhooks(&[("Code", code)]), count, "{code}");
    }
    assert!(
        docs.iter()
            .filter(|d| d["Outcome"] == "published")
            .all(|d| d.get("Code").is_none())
    );
    let total = |name| common::emf::count(&docs, name, &[]);
    assert_eq!(total("NotificationFailures"), 1);
    assert_eq!(total("EnrichmentLookups"), 2);
    assert_eq!(
        total("EnrichmentFailures"),
        0,
        "a deleted defect is not a failure"
    );
    let latencies = docs
        .iter()
        .filter(|d| d.get("PublishLatency").is_some())
        .count();
    assert_eq!(
        latencies, 6,
        "every request that reached SNS has a publish latency"
    );
    assert!(docs.iter().all(|d| d["FunctionName"] == "qase-fanout-test"));
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
