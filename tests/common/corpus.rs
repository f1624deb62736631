//! The hostile-input corpus: requests, each with the answer it must get. One table for the
//! handler tests (`hostile.rs`), the AWS-contract oracle (`contract.rs`) and the release
//! binary under a Runtime API emulator (`binary.rs`).

use super::{Api, EventBuilder, SECRET, qase_fixture};
use qase_defect_fanout::message::MAX_PUBLISH_BYTES;

/// A request: a name for failure messages, the request, and what it must get: a status and,
/// for refusals, the error code; for acceptance, the body published byte for byte.
pub struct Case {
    pub name: &'static str,
    pub event: EventBuilder,
    pub status: u16,
    pub code: Option<&'static str>,
    pub published: Option<String>,
}

impl Case {
    pub fn is_accepted(&self) -> bool {
        self.status == 202
    }
}

fn created() -> String {
    qase_fixture("defect.created")
}

/// `defect.created` with `event_name` replaced by the raw JSON `value`.
fn with_event_name(value: &str) -> String {
    created().replace(r#""defect.created""#, value)
}

fn body(api: Api, name: &'static str, body: &str, status: u16, code: &'static str) -> Case {
    Case {
        name,
        event: EventBuilder::qase(api, body),
        status,
        code: Some(code),
        published: None,
    }
}

fn bytes(api: Api, name: &'static str, raw: &[u8], code: &'static str) -> Case {
    Case {
        name,
        event: EventBuilder::qase(api, "").base64_body(raw),
        status: 400,
        code: Some(code),
        published: None,
    }
}

fn secret(api: Api, name: &'static str, values: &[&str], code: &'static str) -> Case {
    let mut event = EventBuilder::new(api).body(&created());
    for value in values {
        event = event.header("X-Qase-Secret", value);
    }
    Case {
        name,
        event,
        status: 401,
        code: Some(code),
        published: None,
    }
}

/// A webhook that must be published as it is: odd, but valid.
fn accepted(api: Api, name: &'static str, body: &str) -> Case {
    Case {
        name,
        event: EventBuilder::qase(api, body)
            .without_header("Content-Type")
            .header("Content-Type", "text/plain"),
        status: 202,
        code: None,
        published: Some(body.to_owned()),
    }
}

/// Webhooks that are odd but valid: each is published once, byte for byte, without the
/// attributes that do not apply.
pub fn accepted_corpus(api: Api) -> Vec<Case> {
    let with_id = |id: &str| created().replace(r#""id": 1,"#, &format!(r#""id": {id},"#));
    let titled = |title: &str| created().replace("Example defect", title);
    let coded = |code: &str| created().replace(r#""ID""#, code);
    vec![
        accepted(api, "huge payload.id", &with_id("1e999999")),
        accepted(api, "negative payload.id", &with_id("-1")),
        accepted(
            api,
            "payload.id past what filter policies match",
            &with_id("1000000001"),
        ),
        accepted(api, "payload.id u64::MAX", &with_id("18446744073709551615")),
        accepted(api, "payload.id a float", &with_id("1.5")),
        accepted(api, "lone surrogate in the title", &titled(r"\ud800")),
        accepted(api, "escaped U+FFFF in the title", &titled(r"\uffff")),
        accepted(
            api,
            "escaped control characters in the title",
            &titled(r"a\u0000b\u001fc\nd"),
        ),
        accepted(api, "Cyrillic title", &titled("Кнопка входа не работает")),
        accepted(
            api,
            "emoji and a right-to-left title",
            &titled("😀 خطأ في تسجيل الدخول"),
        ),
        accepted(
            api,
            "a 20 000-character title",
            &titled(&"долгий ".repeat(2_858)),
        ),
        accepted(
            api,
            "project code with spaces and punctuation",
            &coded(r#""Q A/../x?""#),
        ),
        accepted(api, "empty project code", &coded(r#""""#)),
        accepted(api, "project code a number", &coded("12")),
        accepted(api, "text/plain content type", &created()),
    ]
    .into_iter()
    .chain(odd_but_converted(api))
    .collect()
}

/// Events no API Gateway sends: odd URI parts, a body marked base64 that is not; and whether
/// `lambda_http` 1.3 still turns each into a request on `api`. Where it cannot, its
/// conversion panics: in the release binary `lambda_runtime` catches the panic and answers
/// that invocation with an error (API Gateway would answer 502); nothing is published, and
/// the process goes on.
fn odd_events(api: Api) -> Vec<(&'static str, EventBuilder, bool)> {
    let valid = || EventBuilder::qase(api, &created());
    let rest = api == Api::Rest;
    vec![
        ("Host with a space", valid().header("Host", "a b"), false),
        ("Host with a brace", valid().header("Host", "a{b"), false),
        (
            "Host an open IPv6 bracket",
            valid().header("Host", "[::1"),
            false,
        ),
        (
            "X-Forwarded-Proto starting with a digit",
            valid().header("X-Forwarded-Proto", "1http"),
            rest,
        ),
        (
            "X-Forwarded-Proto empty",
            valid().header("X-Forwarded-Proto", ""),
            rest,
        ),
        (
            "path that reads as a bad port",
            valid().path(":99999"),
            rest,
        ),
        ("query with a space", valid().query("a b"), rest),
        ("stage with a colon", valid().stage("a:b"), true),
        (
            "invalid base64 with isBase64Encoded",
            EventBuilder::qase(api, "").raw_base64_body("%%% not base64 %%%"),
            false,
        ),
    ]
}

/// The odd events `lambda_http` converts on `api`: each is a valid `defect.created`, published.
fn odd_but_converted(api: Api) -> Vec<Case> {
    let body = created();
    (odd_events(api).into_iter())
        .filter(|(_, _, converts)| *converts)
        .map(|(name, event, _)| Case {
            name,
            event,
            status: 202,
            code: None,
            published: Some(body.clone()),
        })
        .collect()
}

/// The odd events `lambda_http` cannot convert on `api`.
pub fn unconvertible(api: Api) -> Vec<(&'static str, EventBuilder)> {
    (odd_events(api).into_iter())
        .filter(|(_, _, converts)| !*converts)
        .map(|(name, event, _)| (name, event))
        .collect()
}

/// Every request of the corpus: the refusals, then the accepted ones.
pub fn full_corpus(api: Api) -> Vec<Case> {
    let mut all = corpus(api);
    all.extend(accepted_corpus(api));
    all
}

/// Requests that must be refused, each with its status and code; nothing is published.
#[allow(clippy::too_many_lines)] // a table
pub fn corpus(api: Api) -> Vec<Case> {
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
        Case {
            name: "UTF-16 body (valid UTF-8 full of NULs)",
            event: EventBuilder::qase(api, "").base64_body(
                &valid
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>(),
            ),
            status: 400,
            code: Some("invalid_json"),
            published: None,
        },
        bytes(
            api,
            "UTF-16 body with a byte-order mark",
            &[0xFF, 0xFE, b'{', 0, b'}', 0],
            "invalid_utf8",
        ),
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
        body(
            api,
            "body over the size limit that is not JSON (the envelope is read first)",
            &"x".repeat(MAX_PUBLISH_BYTES + 1),
            400,
            "invalid_json",
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
        Case {
            name: "PUT",
            event: EventBuilder::qase(api, &valid).method("PUT"),
            status: 405,
            code: Some("method_not_allowed"),
            published: None,
        },
        Case {
            name: "GET",
            event: EventBuilder::qase(api, "").method("GET"),
            status: 405,
            code: Some("method_not_allowed"),
            published: None,
        },
        Case {
            name: "DELETE without a secret",
            event: EventBuilder::new(api).method("DELETE"),
            status: 405,
            code: Some("method_not_allowed"),
            published: None,
        },
        Case {
            name: "bad body with an unknown content type",
            event: EventBuilder::qase(api, "<defect/>")
                .without_header("Content-Type")
                .header("Content-Type", "application/xml"),
            status: 400,
            code: Some("invalid_json"),
            published: None,
        },
    ]
}
