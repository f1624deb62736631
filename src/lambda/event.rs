//! Lambda event in, `http::Request` out: the API Gateway REST (v1), HTTP API (v2) and
//! Function URL (v2) payloads, made safe for `lambda_http`'s conversion first.
//!
//! `lambda_http` converts an event with an `unwrap` and an `expect` on what it assumes API
//! Gateway guarantees (a well-formed base64 body, `Host`, `X-Forwarded-Proto`, path and query);
//! built with `panic = "abort"`, the function would die on such an event and take every
//! invocation queued behind it along. [`normalize`] removes each such case before the
//! conversion, and records the facts the handler must still see.

use base64::Engine as _;
use lambda_http::Request;
use lambda_http::http::header::HOST;
use lambda_http::http::{HeaderMap, Uri};
use lambda_http::request::LambdaRequest;
use url::Url;

use crate::auth::SECRET_HEADER;

/// Set by [`normalize`] when the event said its body was base64 but it was not. Any copy of
/// it sent by a client is removed first.
pub const INVALID_BASE64_MARKER: &str = "x-qase-fanout-invalid-base64";

/// The header `lambda_http` takes the URI's scheme from.
const FORWARDED_PROTO: &str = "x-forwarded-proto";

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

/// Prepares an event for `lambda_http`'s conversion, which would otherwise panic or lose facts
/// the handler must see:
/// - it panics on a body marked base64 that is not: such a body is passed on as plain text
///   and the event marked with [`INVALID_BASE64_MARKER`] (any copy a client sent is removed);
/// - for REST API events it replaces all `multiValueHeaders` values of a header with the one
///   in `headers`: a repeated `X-Qase-Secret` is kept repeated, so it is refused;
/// - it panics when `Host`, `X-Forwarded-Proto`, the path, the stage or the query do not make
///   a URI: those that do not are dropped (the handler never reads the URI).
pub fn normalize(event: &mut LambdaRequest) {
    let (headers, multi_value_headers, body, is_base64, mut uri) = match event {
        LambdaRequest::ApiGatewayV1(e) => (
            &mut e.headers,
            Some(&mut e.multi_value_headers),
            &mut e.body,
            &mut e.is_base64_encoded,
            UriParts {
                domain_name: &mut e.request_context.domain_name,
                stage: &mut e.request_context.stage,
                path: &mut e.path,
                // REST API queries come as maps, which lambda_http form-encodes itself.
                raw_query: None,
            },
        ),
        LambdaRequest::ApiGatewayV2(e) => (
            &mut e.headers,
            None,
            &mut e.body,
            &mut e.is_base64_encoded,
            UriParts {
                domain_name: &mut e.request_context.domain_name,
                stage: &mut e.request_context.stage,
                path: &mut e.raw_path,
                raw_query: Some(&mut e.raw_query_string),
            },
        ),
        // The other payloads' features are not compiled in, so lambda_http never makes one.
        _ => return,
    };
    headers.remove(INVALID_BASE64_MARKER);
    if let Some(multi) = multi_value_headers {
        multi.remove(INVALID_BASE64_MARKER);
        if multi.get_all(SECRET_HEADER).iter().count() > 1 {
            headers.remove(SECRET_HEADER);
        }
        uri.make_convertible(headers, Some(multi));
    } else {
        uri.make_convertible(headers, None);
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

/// The parts of an event `lambda_http` builds the request URI from, besides two headers.
struct UriParts<'a> {
    domain_name: &'a mut Option<String>,
    stage: &'a mut Option<String>,
    path: &'a mut Option<String>,
    raw_query: Option<&'a mut Option<String>>,
}

impl UriParts<'_> {
    /// Drops, one at a time, the parts that keep the URI from being built: the query, the
    /// scheme, the `Host` header, the domain name, the path and stage. With none left the
    /// URI is `/`. The handler reads none of them.
    fn make_convertible(&mut self, headers: &mut HeaderMap, mut multi: Option<&mut HeaderMap>) {
        let mut drop_header = |headers: &mut HeaderMap, name| {
            headers.remove(name);
            if let Some(multi) = multi.as_deref_mut() {
                multi.remove(name);
            }
        };
        if self.plainly_converts(headers) || self.converts(headers) {
            return;
        }
        if let Some(query) = self.raw_query.as_deref_mut() {
            *query = None;
            if self.converts(headers) {
                return;
            }
        }
        drop_header(headers, FORWARDED_PROTO);
        if self.converts(headers) {
            return;
        }
        drop_header(headers, HOST.as_str());
        if self.converts(headers) {
            return;
        }
        *self.domain_name = None;
        if self.converts(headers) {
            return;
        }
        *self.path = Some("/".to_owned());
        *self.stage = None;
    }

    /// A sufficient condition for [`Self::converts`] that builds nothing: every part is made
    /// only of characters URLs and URIs take as they are, as API Gateway's own events are. The
    /// hot path; anything else gets the full check.
    fn plainly_converts(&self, headers: &HeaderMap) -> bool {
        let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let made_of = |text: &str, extra: &[u8]| {
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        };
        let host = value(HOST.as_str()).or(self.domain_name.as_deref());
        // A last label that could be a number makes the URL parser read an IPv4 address.
        let plain_host = host.is_none_or(|host| {
            host.len() <= 253
                && host
                    .rsplit('.')
                    .next()
                    .is_some_and(|last| last.starts_with(|c: char| c.is_ascii_alphabetic()))
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && made_of(label, b"-")
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                })
        });
        let plain_proto = value(FORWARDED_PROTO).is_none_or(|p| p == "https" || p == "http");
        let path = self.path.as_deref().unwrap_or_default();
        let plain_path = path.starts_with('/') && made_of(path, b"/._~-");
        let plain_stage = (self.stage.as_deref())
            .is_none_or(|s| s == "$default" || (!s.is_empty() && made_of(s, b"_-")));
        let query = self.raw_query.as_deref().and_then(Option::as_deref);
        let plain_query = query.is_none_or(|q| made_of(q, b"=&._~-"));
        plain_host && plain_proto && plain_path && plain_stage && plain_query
    }

    /// Whether `lambda_http` (1.3, `build_request_uri`) builds a valid URI from these parts:
    /// the same steps with the same parsers, with and without the stage in the path (the
    /// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` switch).
    fn converts(&self, headers: &HeaderMap) -> bool {
        let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let host = value(HOST.as_str()).or(self.domain_name.as_deref());
        let path = self.path.as_deref().unwrap_or_default();
        let query = self.raw_query.as_deref().and_then(Option::as_deref);
        [true, false].into_iter().all(|with_stage| {
            let path = match self.stage.as_deref() {
                Some(stage) if with_stage && stage != "$default" => {
                    if path.starts_with(&format!("/{stage}/")) {
                        path.to_owned()
                    } else {
                        format!("/{stage}{path}")
                    }
                }
                _ => path.to_owned(),
            };
            let built = match host {
                None => Url::parse(&format!("http://localhost{path}")).map(|u| u.path().to_owned()),
                Some(host) => {
                    let scheme = value(FORWARDED_PROTO).unwrap_or("https");
                    Url::parse(&format!("{scheme}://{host}{path}")).map(String::from)
                }
            };
            built.is_ok_and(|mut uri| {
                if let Some(query) = query.filter(|q| !q.is_empty()) {
                    uri.push('?');
                    uri.push_str(query);
                }
                Uri::try_from(uri).is_ok()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTP API event with these headers, path and query.
    fn v2_event(headers: &[(&str, &str)], path: &str, query: &str) -> String {
        let headers: serde_json::Map<_, _> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /qase/webhook",
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "api.execute-api.us-east-1.amazonaws.com",
                "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": "3.141.66.247", "userAgent": "Qase"},
                "requestId": "id",
                "routeKey": "POST /qase/webhook",
                "stage": "$default",
                "time": "21/Apr/2022:09:16:03 +0000",
                "timeEpoch": 1_650_532_563_000_i64
            },
            "body": "{}",
            "isBase64Encoded": false
        })
        .to_string()
    }

    /// What the fast path and the full check say of the URI parts of an event with these
    /// values: (`plainly_converts`, `converts`).
    fn checks(
        host: Option<&str>,
        proto: Option<&str>,
        (path, stage, query): (&str, Option<&str>, &str),
    ) -> (bool, bool) {
        let mut headers = HeaderMap::new();
        for (name, value) in [(HOST.as_str(), host), (FORWARDED_PROTO, proto)] {
            if let Some(value) = value.and_then(|v| v.parse().ok()) {
                headers.insert(name, value);
            }
        }
        let (mut domain_name, mut path, mut query) =
            (None, Some(path.to_owned()), Some(query.to_owned()));
        let mut stage = stage.map(str::to_owned);
        let parts = UriParts {
            domain_name: &mut domain_name,
            stage: &mut stage,
            path: &mut path,
            raw_query: Some(&mut query),
        };
        (parts.plainly_converts(&headers), parts.converts(&headers))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// The fast path never admits what the full check refuses: whatever it calls plain,
        /// lambda_http converts.
        #[test]
        fn what_the_fast_path_admits_always_converts(
            host in proptest::option::of("[a-zA-Z0-9.-]{0,20}|[ -~]{0,12}"),
            proto in proptest::option::of("https?|[ -~]{0,6}"),
            path in "/[a-zA-Z0-9/._~-]{0,20}|[ -~]{0,12}",
            stage in proptest::option::of("\\$default|[a-zA-Z0-9_-]{0,8}|[ -~]{0,6}"),
            query in "[a-zA-Z0-9=&._~-]{0,16}|[ -~]{0,8}",
        ) {
            let parts = (path.as_str(), stage.as_deref(), query.as_str());
            let (plain, converts) = checks(host.as_deref(), proto.as_deref(), parts);
            proptest::prop_assert!(!plain || converts);
        }
    }

    #[test]
    fn api_gateways_own_events_take_the_fast_path() {
        for (host, stage) in [
            (
                "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
                Some("$default"),
            ),
            (
                "abcdefghijklmnop.lambda-url.us-east-1.on.aws",
                Some("$default"),
            ),
            (
                "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
                Some("prod"),
            ),
        ] {
            let parts = ("/qase/webhook", stage, "");
            assert_eq!(checks(Some(host), Some("https"), parts), (true, true));
        }
        let odd = ("/qase/webhook", Some("$default"), "a-b%20c");
        assert_eq!(
            checks(Some("h"), None, odd),
            (false, true),
            "an escape in the query: the full check"
        );
    }

    #[test]
    fn a_well_formed_uri_is_left_as_it_is() {
        let event = v2_event(
            &[
                ("host", "hooks.example.com"),
                ("x-forwarded-proto", "https"),
            ],
            "/qase/webhook",
            "a=1",
        );
        let request = request_from_json(&event).unwrap();
        assert_eq!(request.uri(), "https://hooks.example.com/qase/webhook?a=1");
        assert_eq!(request.headers()["host"], "hooks.example.com");
    }

    #[test]
    fn only_the_parts_that_break_the_uri_are_dropped() {
        let cases = [
            // (host, proto, path, query) → the URI the request gets
            (
                "a b",
                "https",
                "/p",
                "",
                "https://api.execute-api.us-east-1.amazonaws.com/p",
            ),
            (
                "hooks.example.com",
                "1http",
                "/p",
                "",
                "https://hooks.example.com/p",
            ),
            (
                "hooks.example.com",
                "https",
                "/p",
                "a b",
                "https://hooks.example.com/p",
            ),
            ("", "https", ":99999", "", "/"),
            (
                "a{b",
                "https",
                "/p",
                "",
                "https://api.execute-api.us-east-1.amazonaws.com/p",
            ),
        ];
        for (host, proto, path, query, uri) in cases {
            let mut headers = vec![("x-forwarded-proto", proto), ("x-qase-secret", "s")];
            if !host.is_empty() {
                headers.push(("host", host));
            }
            let event = v2_event(&headers, path, query);
            let request = request_from_json(&event).unwrap();
            assert_eq!(request.uri(), uri, "{host:?} {proto:?} {path:?} {query:?}");
            assert_eq!(
                request.headers()["x-qase-secret"],
                "s",
                "the secret is kept"
            );
        }
    }
}
