//! Lambda event in, `http::Request` out: the API Gateway REST (v1), HTTP API (v2) and
//! Function URL (v2) payloads, made safe for `lambda_http`'s conversion first.
//!
//! `lambda_http` converts an event with `expect`s on what it assumes API Gateway guarantees;
//! a function built with `panic = "abort"` would die on such an event. [`normalize`] removes
//! each such case before the conversion and records the facts the handler must still see.

use base64::Engine as _;
use lambda_http::Request;
use lambda_http::request::LambdaRequest;

use crate::auth::SECRET_HEADER;

/// Set by [`normalize`] when the event said its body was base64 but it was not. Any copy of
/// it sent by a client is removed first.
pub const INVALID_BASE64_MARKER: &str = "x-qase-fanout-invalid-base64";

/// Turns a Lambda event into a request, as the runtime loop does.
#[must_use]
pub fn request_from_event(mut event: LambdaRequest) -> Request {
    normalize(&mut event);
    event.into()
}

/// Parses a Lambda event from JSON, as the runtime does, into a request.
pub fn request_from_json(event: &str) -> Result<Request, serde_json::Error> {
    serde_json::from_str(event).map(request_from_event)
}

/// Prepares an event for `lambda_http`'s conversion, which would otherwise lose facts the
/// handler must see:
/// - it panics on a body marked base64 that is not: such a body is passed on as plain text
///   and the event marked with [`INVALID_BASE64_MARKER`] (any copy a client sent is removed);
/// - for REST API events it replaces all `multiValueHeaders` values of a header with the one
///   in `headers`: a repeated `X-Qase-Secret` is kept repeated, so it is refused.
pub fn normalize(event: &mut LambdaRequest) {
    let (headers, multi_value_headers, body, is_base64) = match event {
        LambdaRequest::ApiGatewayV1(e) => (
            &mut e.headers,
            Some(&mut e.multi_value_headers),
            &mut e.body,
            &mut e.is_base64_encoded,
        ),
        LambdaRequest::ApiGatewayV2(e) => {
            (&mut e.headers, None, &mut e.body, &mut e.is_base64_encoded)
        }
        _ => unreachable!("only the API Gateway payload features are compiled in"),
    };
    headers.remove(INVALID_BASE64_MARKER);
    if let Some(multi) = multi_value_headers {
        multi.remove(INVALID_BASE64_MARKER);
        if multi.get_all(SECRET_HEADER).iter().count() > 1 {
            headers.remove(SECRET_HEADER);
        }
    }
    let decodes = |b: &str| base64::engine::general_purpose::STANDARD.decode(b).is_ok();
    if *is_base64 && !body.as_deref().is_none_or(decodes) {
        *is_base64 = false;
        headers.insert(
            INVALID_BASE64_MARKER,
            "1".parse().expect("static header value"),
        );
    }
}
