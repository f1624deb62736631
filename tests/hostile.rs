//! Hostile and broken input: a table of bad requests, each with the status and error code it
//! must get and the promise that nothing is published; then property tests over arbitrary
//! bodies and headers.

mod common;

use common::corpus::{accepted_corpus, corpus, full_corpus, unconvertible};
use common::request_from_json;
use common::{Api, EventBuilder, RecordingPublisher, SECRET, app, json_body, send};
use lambda_http::http::StatusCode;
use proptest::prelude::*;

const APIS: [Api; 3] = [Api::Rest, Api::Http, Api::FunctionUrl];

#[tokio::test]
async fn every_bad_request_gets_its_status_and_code_and_publishes_nothing() {
    let mut count = 0;
    for api in APIS {
        for bad in corpus(api) {
            let app = app(RecordingPublisher::ok());
            let response = send(&app, &bad.event).await;
            let body = json_body(&response);
            let what = format!("{api:?} / {}: {body}", bad.name);
            assert_eq!(response.status().as_u16(), bad.status, "{what}");
            assert_eq!(body["error"].as_str(), bad.code, "{what}");
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}"
            );
            assert!(
                app.topics.events.calls().is_empty(),
                "{what}: nothing published"
            );
            count += 1;
        }
    }
    assert!(
        count >= 3 * 40,
        "the corpus has at least 40 requests per API: {count}"
    );
    println!(
        "hostile corpus: {count} requests ({} per API type)",
        count / 3
    );
}

#[test]
fn the_corpus_has_at_least_forty_distinct_requests() {
    let names: std::collections::BTreeSet<_> =
        full_corpus(Api::Http).iter().map(|b| b.name).collect();
    assert!(names.len() >= 40, "{}", names.len());
    assert_eq!(
        names.len(),
        full_corpus(Api::Http).len(),
        "names are unique"
    );
}

#[tokio::test]
async fn odd_but_valid_webhooks_are_published_once_byte_for_byte() {
    for api in APIS {
        for case in accepted_corpus(api) {
            let app = app(RecordingPublisher::ok());
            let response = send(&app, &case.event).await;
            let what = format!("{api:?} / {}", case.name);
            assert_eq!(response.status(), StatusCode::ACCEPTED, "{what}");
            let calls = app.topics.events.calls();
            assert_eq!(calls.len(), 1, "{what}");
            assert_eq!(
                Some(calls[0].message.as_ref()),
                case.published.as_deref(),
                "{what}: byte for byte"
            );
        }
    }
}

/// The request the runtime loop would make of `event`, or `None` where `lambda_http`'s
/// conversion panics (which `lambda_runtime` catches: an invocation error); an error for an
/// event the runtime cannot deserialize.
fn converted(event: &EventBuilder) -> Result<Option<lambda_http::Request>, serde_json::Error> {
    let json = event.event().to_string();
    std::panic::catch_unwind(|| request_from_json(&json)).map_or(Ok(None), |r| r.map(Some))
}

#[test]
fn events_lambda_http_cannot_convert_panic_in_the_conversion_never_in_the_handler() {
    for api in APIS {
        for (name, event) in unconvertible(api) {
            let request = converted(&event).expect("the runtime deserializes it");
            assert!(request.is_none(), "{api:?} / {name} converts");
        }
    }
}

#[test]
fn an_event_shape_lambda_never_sends_is_an_error_not_a_panic() {
    for event in ["{}", r#"{"foo":1}"#, "[]", "null", r#"{"httpMethod":7}"#] {
        assert!(request_from_json(event).is_err(), "{event}");
    }
}

/// Statuses the contract allows.
const CONTRACT: [u16; 7] = [202, 400, 401, 405, 413, 502, 503];

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH",
    ])
}

fn secret_header() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop_oneof![Just(SECRET.to_owned()), "[ -~]{0,30}"], 0..3)
}

/// JSON-ish bodies that reach deeper than random bytes: envelopes with random parts.
fn envelope() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("\"defect.created\"".to_owned()),
        Just("\"defect.resolved\"".to_owned()),
        "\"[a-z_]{1,8}\\.[a-z_]{1,8}\"",
        "\"[ -~]{0,20}\"",
        Just("null".to_owned()),
        Just("17".to_owned()),
    ];
    let value = prop_oneof![
        Just("null".to_owned()),
        "-?[0-9]{1,25}",
        "\"[ -~]{0,20}\"",
        Just("{}".to_owned()),
        Just("[1,2]".to_owned()),
        Just("\"\\u0000\"".to_owned()),
        // Escaped, so the body is deliverable; parsed, a noncharacter and a line separator.
        Just("\"a\\uffff\\u2028b\"".to_owned()),
    ];
    let payload = prop::collection::vec(
        (
            prop::sample::select(vec!["id", "title", "severity", "case_id", "step", "hash"]),
            value.clone(),
        ),
        0..5,
    );
    (name, payload, value.clone(), value, any::<bool>()).prop_map(
        |(name, payload, project, member, legacy)| {
            let fields: Vec<_> = payload.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let key = if legacy { "event" } else { "event_name" };
            format!(
                "{{\"{key}\":{name},\"payload\":{{{}}},\"project_code\":{project},\"team_member_id\":{member}}}",
                fields.join(",")
            )
        },
    )
}

fn check_contract(
    method: &'static str,
    secrets: &[String],
    body: &[u8],
    api: Api,
) -> Result<(), TestCaseError> {
    let mut event = EventBuilder::new(api).method(method).base64_body(body);
    for value in secrets {
        event = event.header("X-Qase-Secret", value);
    }
    let app = app(RecordingPublisher::ok());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let response = runtime.block_on(send(&app, &event));
    let status = response.status();
    prop_assert!(CONTRACT.contains(&status.as_u16()), "status {status}");
    let published = app.topics.events.calls().len();
    prop_assert_eq!(published, usize::from(status.is_success()));
    if !status.is_success() {
        let body = json_body(&response);
        prop_assert!(body["error"].is_string());
    }
    Ok(())
}

fn api() -> impl Strategy<Value = Api> {
    prop::sample::select(APIS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_publish_only_on_2xx(
        method in method(),
        secrets in secret_header(),
        body in prop::collection::vec(any::<u8>(), 0..512),
        api in api(),
    ) {
        check_contract(method, &secrets, &body, api)?;
    }

    #[test]
    fn arbitrary_envelopes_never_panic_and_publish_only_on_2xx(
        method in method(),
        secrets in secret_header(),
        body in envelope(),
        api in api(),
    ) {
        check_contract(method, &secrets, body.as_bytes(), api)?;
    }
}

/// Values a client, a proxy or a hand-made event may put where `lambda_http` builds the
/// request URI from: the `Host` and `X-Forwarded-Proto` headers, the path, the query, the
/// stage.
fn uri_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,24}",
        "\\PC{0,12}",
        Just(String::new()),
        Just("a b".to_owned()),
        Just("[::1".to_owned()),
        Just(":99999".to_owned()),
        Just("@".to_owned()),
        Just("host:port".to_owned()),
        Just("{}".to_owned()),
        Just("%zz".to_owned()),
        Just("https".to_owned()),
        Just("1http".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn odd_host_proto_path_query_and_stage_publish_exactly_once_when_lambda_http_converts_them(
        host in proptest::option::of(uri_part()),
        proto in proptest::option::of(uri_part()),
        path in uri_part(),
        query in uri_part(),
        stage in proptest::option::of(uri_part()),
        api in api(),
    ) {
        let mut event = EventBuilder::qase(api, &common::qase_fixture("defect.created"))
            .path(&path)
            .query(&query);
        if let Some(host) = &host {
            event = event.header("Host", host);
        }
        if let Some(proto) = &proto {
            event = event.header("X-Forwarded-Proto", proto);
        }
        if let Some(stage) = &stage {
            event = event.stage(stage);
        }
        // An event the runtime cannot deserialize (a header value that is not one) or that
        // lambda_http cannot convert (it panics) is an invocation error, not a crash
        // (tests/binary.rs); it is not a case here.
        let request = converted(&event);
        prop_assume!(request.is_ok());
        // None: lambda_runtime answers the invocation with an error (tests/binary.rs).
        if let Some(request) = request.unwrap() {
            let app = app(RecordingPublisher::ok());
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let response = runtime.block_on(qase_defect_fanout::lambda::handle(&app, request));
            prop_assert_eq!(response.status().as_u16(), 202);
            prop_assert_eq!(app.topics.events.calls().len(), 1);
        }
    }
}
