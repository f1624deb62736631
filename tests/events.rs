//! `events/`: complete Lambda events whose bodies are real Qase payloads, one set for these
//! tests, `cargo lambda invoke --data-file` and `sam local invoke -e`.
//!
//! The files are generated from the scenarios below (`make events` rewrites them); this test
//! fails when they are out of date, and drives every file through the handler to check the
//! status it is documented to get.

mod common;

use std::path::{Path, PathBuf};

use common::request_from_json;
use common::{Api, EventBuilder, RecordingPublisher, app, qase_fixture};
use qase_defect_fanout::lambda;

/// One file in `events/`: how it is built and the status the function answers it with.
struct Scenario {
    file: &'static str,
    event: EventBuilder,
    status: u16,
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The deployed API is an HTTP API (payload 2.0); REST API and Function URL variants too.
fn scenarios() -> Vec<Scenario> {
    let http = |body: &str| EventBuilder::qase(Api::Http, body);
    let created = qase_fixture("defect.created");
    let ok = |file, event| Scenario {
        file,
        event,
        status: 202,
    };
    vec![
        ok("defect-created.json", http(&created)),
        ok(
            "defect-created-case-step.json",
            http(&fixture("defect.created.case-step")),
        ),
        ok("defect-updated.json", http(&qase_fixture("defect.updated"))),
        ok(
            "defect-resolved.json",
            http(&qase_fixture("defect.resolved")),
        ),
        ok("defect-deleted.json", http(&qase_fixture("defect.deleted"))),
        ok(
            "defect-resolved-legacy-envelope.json",
            http(&fixture("defect.resolved.legacy-envelope")),
        ),
        ok("run-started.json", http(&qase_fixture("run.started"))),
        ok("case-created.json", http(&qase_fixture("case.created"))),
        ok(
            "defect-created-base64.json",
            EventBuilder::qase(Api::Http, "").base64_body(created.as_bytes()),
        ),
        ok(
            "defect-created-function-url.json",
            EventBuilder::qase(Api::FunctionUrl, &created),
        ),
        ok(
            "defect-created-rest-api.json",
            EventBuilder::qase(Api::Rest, &created),
        ),
        Scenario {
            file: "defect-created-wrong-secret.json",
            event: EventBuilder::with_secret(Api::Http, "not-the-secret", &created),
            status: 401,
        },
        Scenario {
            file: "defect-created-missing-secret.json",
            event: EventBuilder::new(Api::Http).body(&created),
            status: 401,
        },
        Scenario {
            file: "bad-json.json",
            event: http(r#"{"event_name": "defect.created", "payload": {"id": 1"#),
            status: 400,
        },
        Scenario {
            file: "get-not-allowed.json",
            event: EventBuilder::qase(Api::Http, "").method("GET"),
            status: 405,
        },
    ]
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn rendered(scenario: &Scenario) -> String {
    let mut text = serde_json::to_string_pretty(&scenario.event.event()).unwrap();
    text.push('\n');
    text
}

#[test]
fn the_events_directory_matches_its_scenarios() {
    let update = std::env::var_os("UPDATE_EVENTS").is_some();
    let dir = events_dir();
    let mut stale = Vec::new();
    for scenario in scenarios() {
        let path = dir.join(scenario.file);
        let want = rendered(&scenario);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, want).unwrap();
            } else {
                stale.push(scenario.file);
            }
        }
    }
    let known: Vec<_> = scenarios().iter().map(|s| s.file).collect();
    let extra: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            Path::new(name).extension() == Some("json".as_ref()) && !known.contains(&name.as_str())
        })
        .collect();
    assert!(
        stale.is_empty(),
        "events/ is out of date ({stale:?}): run `make events` and commit the result"
    );
    assert!(
        extra.is_empty(),
        "events/ has files no scenario makes: {extra:?}"
    );
}

#[tokio::test]
async fn every_event_file_gets_its_documented_status_and_only_2xx_publish() {
    for scenario in scenarios() {
        let path = events_dir().join(scenario.file);
        let json = std::fs::read_to_string(&path).unwrap();
        let app = app(RecordingPublisher::ok());

        let request = request_from_json(&json).expect("lambda_http accepts the event");
        let response = lambda::handle(&app, request).await;

        assert_eq!(
            response.status().as_u16(),
            scenario.status,
            "{}",
            scenario.file
        );
        let published = app.topics.events.calls().len();
        let expected = usize::from(response.status().is_success());
        assert_eq!(published, expected, "{}", scenario.file);
    }
}
