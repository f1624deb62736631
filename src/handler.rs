//! The only code that knows HTTP: an API Gateway request in, a status and a JSON body out.
//!
//! [`handle`] checks the method, the secret and the body, asks [`Outbound`] what to publish
//! and the [`Publisher`] to publish it, and turns every expected failure into a response
//! (never an `Err`, which API Gateway would turn into an opaque 502). It logs one line per
//! request. It does not parse Qase's format itself, nor talk to AWS.

use std::net::IpAddr;
use std::time::Instant;

use base64::Engine as _;
use ipnet::IpNet;
use lambda_http::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::tower::ServiceExt as _;
use lambda_http::{Body, LambdaEvent, Request, RequestExt as _, Response, service_fn, tracing};

use crate::publish::{Outbound, PublishError, Publisher, TooLarge};
use crate::webhook::{SECRET_HEADER, Secret, Webhook, WebhookError};

/// Set by [`request_from_event`] when the event said its body was base64 but it was not.
/// Any copy of it sent by a client is removed first.
const INVALID_BASE64_MARKER: &str = "x-qase-fanout-invalid-base64";

/// What the handler needs, built once at cold start and borrowed by every request.
#[derive(Debug)]
pub struct App<P> {
    /// The expected `X-Qase-Secret`; `None` when checking is explicitly disabled.
    pub secret: Option<Secret>,
    /// Whether the topic is FIFO (adds group and deduplication ids).
    pub fifo: bool,
    /// Source addresses allowed to call; `None` means any.
    pub allowed_sources: Option<Vec<IpNet>>,
    /// Where messages go.
    pub publisher: P,
}

/// Why a request was not published. Each variant knows its status and stable code.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Only `POST` is accepted.
    #[error("method {0} is not allowed; Qase sends POST")]
    MethodNotAllowed(Method),
    /// The caller's address is not in `ALLOWED_SOURCE_IPS`.
    #[error("requests from this address are not allowed (ALLOWED_SOURCE_IPS)")]
    ForbiddenSource,
    /// No `X-Qase-Secret` header.
    #[error("the X-Qase-Secret header is missing")]
    MissingSecret,
    /// `X-Qase-Secret` is present but is not the configured secret (or is sent twice).
    #[error("the X-Qase-Secret header does not match the configured secret")]
    WrongSecret,
    /// The event said the body was base64, and it was not.
    #[error("the body is marked base64-encoded but is not valid base64")]
    InvalidBase64,
    /// The body is not UTF-8 text.
    #[error("the body is not valid UTF-8")]
    NotUtf8,
    /// The body is not a Qase webhook.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// The body would not fit in one SNS message.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// SNS did not take the message.
    #[error("could not publish to SNS")]
    Publish(#[from] PublishError),
}

impl RequestError {
    /// The HTTP status this failure is answered with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::MissingSecret | Self::WrongSecret => StatusCode::UNAUTHORIZED,
            Self::ForbiddenSource => StatusCode::FORBIDDEN,
            Self::InvalidBase64 | Self::NotUtf8 | Self::Webhook(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Publish(e) if e.is_retryable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Publish(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The stable, machine-readable code in the error body.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::ForbiddenSource => "forbidden_source",
            Self::MissingSecret => "missing_secret",
            Self::WrongSecret => "wrong_secret",
            Self::InvalidBase64 => "invalid_base64",
            Self::NotUtf8 => "invalid_utf8",
            Self::Webhook(e) => e.code(),
            Self::TooLarge(_) => "payload_too_large",
            Self::Publish(PublishError::Throttled(_)) => "sns_throttled",
            Self::Publish(PublishError::Unavailable(_)) => "sns_unavailable",
            Self::Publish(PublishError::Rejected(_) | PublishError::NoMessageId) => "sns_rejected",
        }
    }

    /// The JSON error response: `{"error": code, "message": what to fix}`.
    #[must_use]
    pub fn to_response(&self) -> Response<Body> {
        let status = self.status();
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        let mut response = json_response(status, &body);
        if let Self::MethodNotAllowed(_) = self {
            response
                .headers_mut()
                .insert(ALLOW, "POST".parse().expect("static header value"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, "5".parse().expect("static header value"));
        }
        response
    }
}

/// Handles one request; always a response, never an `Err`.
pub async fn handle<P: Publisher>(app: &App<P>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let mut webhook = None;
    let result = accept(app, &request, &mut webhook).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let event_name = webhook.as_ref().map(|w| w.event_name.as_str());
    let project_code = webhook.as_ref().and_then(|w| w.project_code.as_deref());
    let entity_id = webhook.as_ref().and_then(|w| w.payload.id);
    match result {
        Ok(message_id) => {
            tracing::info!(
                status = 202,
                event_name,
                project_code,
                entity_id,
                message_id = message_id.as_str(),
                latency_us,
                "published"
            );
            let body = serde_json::json!({ "message_id": message_id, "event_name": event_name });
            json_response(StatusCode::ACCEPTED, &body)
        }
        Err(err) => {
            let status = err.status().as_u16();
            let code = err.code();
            if err.status().is_server_error() {
                let cause = error_chain(&err);
                tracing::error!(
                    status,
                    error = code,
                    event_name,
                    project_code,
                    entity_id,
                    latency_us,
                    cause,
                    "not published"
                );
            } else {
                tracing::warn!(
                    status,
                    error = code,
                    event_name,
                    project_code,
                    entity_id,
                    latency_us,
                    "rejected"
                );
            }
            err.to_response()
        }
    }
}

/// Everything between the request and the message id; `webhook` is filled in as soon as the
/// body parses, for the log line.
async fn accept<P: Publisher>(
    app: &App<P>,
    request: &Request,
    webhook: &mut Option<Webhook>,
) -> Result<String, RequestError> {
    if request.method() != Method::POST {
        return Err(RequestError::MethodNotAllowed(request.method().clone()));
    }
    if let Some(allowed) = &app.allowed_sources {
        check_source(allowed, request)?;
    }
    if let Some(secret) = &app.secret {
        check_secret(secret, request.headers())?;
    }
    if request.headers().contains_key(INVALID_BASE64_MARKER) {
        return Err(RequestError::InvalidBase64);
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > crate::publish::MAX_PUBLISH_BYTES {
        // Decided before parsing: no point reading a body SNS could never carry.
        return Err(TooLarge {
            size: bytes.len(),
            limit: crate::publish::MAX_PUBLISH_BYTES,
        }
        .into());
    }
    let body = std::str::from_utf8(bytes).map_err(|_| RequestError::NotUtf8)?;
    let parsed = webhook.insert(Webhook::parse(body)?);
    let outbound = Outbound::for_webhook(parsed, body, app.fifo)?;
    Ok(app.publisher.publish(&outbound).await?)
}

/// Exactly one `X-Qase-Secret` header whose bytes equal the secret.
fn check_secret(secret: &Secret, headers: &HeaderMap) -> Result<(), RequestError> {
    let mut values = headers.get_all(SECRET_HEADER).iter();
    let value = values.next().ok_or(RequestError::MissingSecret)?;
    if values.next().is_some() || !secret.matches(value.as_bytes()) {
        return Err(RequestError::WrongSecret);
    }
    Ok(())
}

/// The caller's address, as API Gateway saw it, is in one of the `allowed` blocks.
fn check_source(allowed: &[IpNet], request: &Request) -> Result<(), RequestError> {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        _ => None,
    };
    let ip = source_ip.and_then(|ip| ip.parse::<IpAddr>().ok());
    match ip {
        Some(ip) if allowed.iter().any(|net| net.contains(&ip)) => Ok(()),
        _ => Err(RequestError::ForbiddenSource),
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::Text(body.to_string()))
        .expect("status and header are valid")
}

/// `err` and its sources, joined with `: `.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Turns a Lambda event (API Gateway REST, HTTP API or Function URL) into a request.
///
/// The event is first made safe to convert (see [`normalize_event`]).
#[must_use]
pub fn request_from_event(mut event: LambdaRequest) -> Request {
    normalize_event(&mut event);
    event.into()
}

/// Prepares an event for `lambda_http`'s conversion, which would otherwise lose facts the
/// handler must see:
/// - it panics on a body marked base64 that is not: such a body is passed on as plain text
///   and the event marked with [`INVALID_BASE64_MARKER`] (any copy a client sent is removed);
/// - for REST API events it replaces all `multiValueHeaders` values of a header with the one
///   in `headers`: a repeated `X-Qase-Secret` is kept repeated, so it is refused.
fn normalize_event(event: &mut LambdaRequest) {
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

/// Parses a Lambda event from JSON, as the runtime does, into a request.
pub fn request_from_json(event: &str) -> Result<Request, serde_json::Error> {
    serde_json::from_str(event).map(request_from_event)
}

/// Runs the Lambda runtime loop, answering every invocation with [`handle`].
pub async fn run<P: Publisher + Sync>(app: App<P>) -> Result<(), lambda_http::Error> {
    let app = &app;
    let handler = service_fn(move |request: Request| async move {
        Ok::<_, lambda_http::Error>(handle(app, request).await)
    });
    // The adapter converts the event itself: hand it one whose conversion cannot panic.
    let adapter =
        lambda_http::Adapter::from(handler).map_request(|mut event: LambdaEvent<LambdaRequest>| {
            normalize_event(&mut event.payload);
            event
        });
    lambda_http::lambda_runtime::run(adapter).await
}
