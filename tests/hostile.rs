//! Hostile and broken input: a table of bad requests, each with the status and error code it
//! must get and the promise that nothing is published; then property tests over arbitrary
//! bodies and headers.

mod common;

use common::{Api, EventBuilder, RecordingPublisher, SECRET, app, json_body, qase_fixture, send};
use lambda_http::http::StatusCode;
use proptest::prelude::*;
use qase_defect_fanout::lambda::request_from_json;
use qase_defect_fanout::message::MAX_PUBLISH_BYTES;

const APIS: [Api; 3] = [Api::Rest, Api::Http, Api::FunctionUrl];

/// A bad request: a name for failure messages, the request, and what it must get.
struct Bad {
    name: &'static str,
    event: EventBuilder,
    status: u16,
    code: &'static str,
}

fn created() -> String {
    qase_fixture("defect.created")
}

/// `defect.created` with `event_name` replaced by the raw JSON `value`.
fn with_event_name(value: &str) -> String {
    created().replace(r#""defect.created""#, value)
}

fn body(api: Api, name: &'static str, body: &str, status: u16, code: &'static str) -> Bad {
    Bad {
        name,
        event: EventBuilder::qase(api, body),
        status,
        code,
    }
}

fn bytes(api: Api, name: &'static str, raw: &[u8], code: &'static str) -> Bad {
    Bad {
        name,
        event: EventBuilder::qase(api, "").base64_body(raw),
        status: 400,
        code,
    }
}

fn secret(api: Api, name: &'static str, values: &[&str], code: &'static str) -> Bad {
    let mut event = EventBuilder::new(api).body(&created());
    for value in values {
        event = event.header("X-Qase-Secret", value);
    }
    Bad {
        name,
        event,
        status: 401,
        code,
    }
}

#[allow(clippy::too_many_lines)] // a table
fn corpus(api: Api) -> Vec<Bad> {
    let valid = created();
    let nested = format!(
        r#"{{"event_name":"defect.created","payload":{{"id":1,"deep":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_sibling = valid.replacen(
        '{',
        &format!(
            r#"{{"junk":{}{},"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
        1,
    );
    let long_name = format!(r#""defect.{}""#, "a".repeat(10 * 1024));
    let over_limit = format!(
        r#"{{"event_name":"defect.created","payload":{{"pad":"{}"}}}}"#,
        "x".repeat(MAX_PUBLISH_BYTES)
    );
    let mut overlong_utf8 = valid.clone().into_bytes();
    overlong_utf8.splice(30..30, [0xC0, 0xAF]);
    let mut invalid_utf8 = valid.clone().into_bytes();
    invalid_utf8[25] = 0xFF;
    vec![
        body(api, "empty body", "", 400, "invalid_json"),
        body(api, "whitespace", " \n\t\r ", 400, "invalid_json"),
        body(api, "null", "null", 400, "not_an_object"),
        body(api, "true", "true", 400, "not_an_object"),
        body(api, "empty array", "[]", 400, "not_an_object"),
        body(
            api,
            "array of an envelope",
            &format!("[{valid}]"),
            400,
            "not_an_object",
        ),
        body(api, "number", "42", 400, "not_an_object"),
        body(api, "string", r#""defect.created""#, 400, "not_an_object"),
        body(
            api,
            "truncated JSON",
            &valid[..valid.len() / 2],
            400,
            "invalid_json",
        ),
        body(
            api,
            "trailing garbage",
            &format!("{valid}x"),
            400,
            "invalid_json",
        ),
        body(
            api,
            "two objects",
            &format!("{valid}{valid}"),
            400,
            "invalid_json",
        ),
        body(
            api,
            "form-encoded body",
            "event_name=defect.created&payload=1",
            400,
            "invalid_json",
        ),
        body(
            api,
            "single-quoted JSON",
            "{'event_name':'defect.created'}",
            400,
            "invalid_json",
        ),
        body(
            api,
            "raw NUL byte in a string",
            &valid.replace("Example", "Exa\0mple"),
            400,
            "invalid_json",
        ),
        body(
            api,
            "raw newline in a string",
            &valid.replace("Example", "Exa\nmple"),
            400,
            "invalid_json",
        ),
        body(
            api,
            "duplicate event_name key",
            &valid.replacen('{', r#"{"event_name":"case.created","#, 1),
            400,
            "invalid_envelope",
        ),
        body(
            api,
            "duplicate payload key",
            &valid.replacen('{', r#"{"payload":{"id":9},"#, 1),
            400,
            "invalid_envelope",
        ),
        body(
            api,
            "literal U+FFFF in a string (SQS does not deliver it)",
            &valid.replace("Example", "Exa\u{FFFF}mple"),
            400,
            "unsupported_character",
        ),
        body(
            api,
            "literal U+FFFE in a string",
            &valid.replace("Example", "\u{FFFE}Example"),
            400,
            "unsupported_character",
        ),
        bytes(api, "invalid UTF-8", &invalid_utf8, "invalid_utf8"),
        bytes(api, "overlong UTF-8", &overlong_utf8, "invalid_utf8"),
        Bad {
            name: "UTF-16 body (valid UTF-8 full of NULs)",
            event: EventBuilder::qase(api, "").base64_body(
                &valid
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>(),
            ),
            status: 400,
            code: "invalid_json",
        },
        bytes(
            api,
            "UTF-16 body with a byte-order mark",
            &[0xFF, 0xFE, b'{', 0, b'}', 0],
            "invalid_utf8",
        ),
        Bad {
            name: "invalid base64 with isBase64Encoded",
            event: EventBuilder::qase(api, "").raw_base64_body("%%% not base64 %%%"),
            status: 400,
            code: "invalid_base64",
        },
        body(
            api,
            "100 000 nested arrays",
            &nested,
            400,
            "too_deeply_nested",
        ),
        body(
            api,
            "100 000 nested arrays beside the payload",
            &deep_sibling,
            400,
            "too_deeply_nested",
        ),
        body(
            api,
            "event_name a huge number",
            &with_event_name("1e999999"),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name a number",
            &with_event_name("7"),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name an object",
            &with_event_name(r#"{"a":1}"#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name an array",
            &with_event_name(r#"["defect.created"]"#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name empty",
            &with_event_name(r#""""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name 10 KB long",
            &with_event_name(&long_name),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name with a space",
            &with_event_name(r#""defect .created""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name with a newline",
            &with_event_name(r#""defect.\ncreated""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name with a control character",
            &with_event_name(r#""defect.\u0007created""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name with an escaped NUL",
            &with_event_name(r#""defect.created\u0000""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name with a lone surrogate",
            &with_event_name(r#""defect.\ud800""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name upper case",
            &with_event_name(r#""DEFECT.CREATED""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name without a dot",
            &with_event_name(r#""defect_created""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name with two dots",
            &with_event_name(r#""defect.created.now""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "event_name non-ASCII",
            &with_event_name(r#""défect.created""#),
            400,
            "invalid_event_name",
        ),
        body(
            api,
            "no event_name",
            r#"{"payload":{"id":1}}"#,
            400,
            "missing_event_name",
        ),
        body(
            api,
            "event and event_name differ",
            &valid.replacen('{', r#"{"event":"defect.deleted","#, 1),
            400,
            "conflicting_event_names",
        ),
        body(
            api,
            "payload a string",
            r#"{"event_name":"defect.created","payload":"x"}"#,
            400,
            "invalid_payload",
        ),
        body(
            api,
            "payload an array",
            r#"{"event_name":"defect.created","payload":[{"id":1}]}"#,
            400,
            "invalid_payload",
        ),
        body(
            api,
            "payload missing",
            r#"{"event_name":"defect.created"}"#,
            400,
            "invalid_payload",
        ),
        body(
            api,
            "body just over the size limit",
            &over_limit,
            413,
            "payload_too_large",
        ),
        secret(api, "missing secret", &[], "missing_secret"),
        secret(api, "wrong secret", &["not-it"], "wrong_secret"),
        secret(api, "empty secret", &[""], "wrong_secret"),
        secret(
            api,
            "secret in upper case",
            &[&SECRET.to_uppercase()],
            "wrong_secret",
        ),
        secret(
            api,
            "secret with trailing whitespace",
            &[&format!("{SECRET} ")],
            "wrong_secret",
        ),
        secret(
            api,
            "secret with leading whitespace",
            &[&format!(" {SECRET}")],
            "wrong_secret",
        ),
        secret(api, "secret prefix", &[&SECRET[..4]], "wrong_secret"),
        secret(
            api,
            "secret with a suffix",
            &[&format!("{SECRET}x")],
            "wrong_secret",
        ),
        secret(api, "secret twice", &[SECRET, SECRET], "wrong_secret"),
        secret(
            api,
            "wrong then right secret",
            &["not-it", SECRET],
            "wrong_secret",
        ),
        secret(
            api,
            "right then wrong secret",
            &[SECRET, "not-it"],
            "wrong_secret",
        ),
        Bad {
            name: "PUT",
            event: EventBuilder::qase(api, &valid).method("PUT"),
            status: 405,
            code: "method_not_allowed",
        },
        Bad {
            name: "GET",
            event: EventBuilder::qase(api, "").method("GET"),
            status: 405,
            code: "method_not_allowed",
        },
        Bad {
            name: "DELETE without a secret",
            event: EventBuilder::new(api).method("DELETE"),
            status: 405,
            code: "method_not_allowed",
        },
        Bad {
            name: "bad body with an unknown content type",
            event: EventBuilder::qase(api, "<defect/>")
                .without_header("Content-Type")
                .header("Content-Type", "application/xml"),
            status: 400,
            code: "invalid_json",
        },
    ]
}

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
            assert_eq!(body["error"], bad.code, "{what}");
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}"
            );
            assert!(app.events.calls().is_empty(), "{what}: nothing published");
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
    let names: std::collections::BTreeSet<_> = corpus(Api::Http).iter().map(|b| b.name).collect();
    assert!(names.len() >= 40, "{}", names.len());
    assert_eq!(names.len(), corpus(Api::Http).len(), "names are unique");
}

#[tokio::test]
async fn odd_but_valid_webhooks_are_published_without_the_attributes_that_do_not_apply() {
    let cases = [
        (
            "huge payload.id",
            created().replace(r#""id": 1,"#, r#""id": 1e999999,"#),
        ),
        (
            "negative payload.id",
            created().replace(r#""id": 1,"#, r#""id": -1,"#),
        ),
        (
            "lone surrogate in the title",
            created().replace("Example defect", r"\ud800"),
        ),
        ("text/plain content type", created()),
    ];
    for (name, body) in cases {
        let app = app(RecordingPublisher::ok());
        let event = EventBuilder::qase(Api::Http, &body)
            .without_header("Content-Type")
            .header("Content-Type", "text/plain");
        let response = send(&app, &event).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{name}");
        let calls = app.events.calls();
        assert_eq!(calls.len(), 1, "{name}");
        assert_eq!(calls[0].message, body, "{name}: forwarded byte for byte");
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
    let published = app.events.calls().len();
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
