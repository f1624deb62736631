//! The request → response contract: an API Gateway request in, a status and a JSON body out.
//!
//! [`handle`] admits the request (method, source address, secret, body), asks [`Outbound`]
//! what to publish, and publishes the event, and the notification when a notifications topic
//! is configured, concurrently. The events topic is the system of record: its answer alone
//! decides the response; a failed notification is reported in the 202 and logged as an error.
//! Every expected failure is a response (never an `Err`, which API Gateway would turn into an
//! opaque 502). One log line per request. It does not parse Qase's format itself, nor talk
//! to AWS.

use std::time::{Duration, Instant};

use ipnet::IpNet;
use lambda_http::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response, tracing};

use crate::auth::{self, AuthError, SECRET_HEADER, Secret};
use crate::enrichment::{Enricher, Enrichment};
use crate::lambda::event::INVALID_BASE64_MARKER;
use crate::lambda::logging::error_chain;
use crate::message::{DeliverableBody, MAX_PUBLISH_BYTES, MessageError, Outbound};
use crate::metrics::{self, Emf, Outcome};
use crate::publisher::{PublishError, Publisher};
use crate::qase::{DefectDetails, Webhook, WebhookError};
use crate::qase_api::LookupError;
use crate::summary;

/// What the handler needs, built once at cold start and borrowed by every request.
#[derive(Debug)]
pub struct App<P> {
    /// The expected `X-Qase-Secret`; `None` when checking is explicitly disabled.
    pub secret: Option<Secret>,
    /// Source addresses allowed to call; `None` means any.
    pub allowed_sources: Option<Vec<IpNet>>,
    /// Whether the events topic is FIFO (adds group and deduplication ids).
    pub fifo: bool,
    /// The events topic: every webhook, byte for byte; its answer decides the response.
    pub events: P,
    /// The notifications topic, when configured: the text people read.
    pub notifications: Option<P>,
    /// The Qase API lookup of defect events, when a token is configured.
    pub enricher: Option<Enricher>,
    /// Where each request's EMF metrics document goes; `None`: no metrics.
    pub metrics: Option<Emf>,
}

/// What the topics answered for an admitted webhook: each its message id or why not.
#[derive(Debug)]
struct Fanout {
    /// The events topic's answer; it decides the response.
    event: Result<String, PublishError>,
    /// The notifications topic's answer, when there is one.
    notification: Option<Result<String, PublishError>>,
    /// How long the publishes took (both topics, concurrently).
    latency: Duration,
}

/// Project codes in the log are cut to this many characters (Qase's have 2 to 10).
const MAX_LOGGED_CODE_CHARS: usize = 32;

/// Why a request was not published. Each variant knows its status and stable code.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Only `POST` is accepted.
    #[error("method {0} is not allowed; Qase sends POST")]
    MethodNotAllowed(Method),
    /// The caller is not let in (source address or secret).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The event said the body was base64, and it was not.
    #[error("the body is marked base64-encoded but is not valid base64")]
    InvalidBase64,
    /// The body is not UTF-8 text.
    #[error("the body is not valid UTF-8")]
    NotUtf8,
    /// The body is not a Qase webhook.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// The body cannot be published as it is (too large, or a character SQS drops).
    #[error(transparent)]
    Message(#[from] MessageError),
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
            Self::Auth(AuthError::ForbiddenSource) => StatusCode::FORBIDDEN,
            Self::Auth(AuthError::MissingSecret | AuthError::WrongSecret) => {
                StatusCode::UNAUTHORIZED
            }
            Self::InvalidBase64
            | Self::NotUtf8
            | Self::Webhook(_)
            | Self::Message(MessageError::UnsupportedCharacter { .. }) => StatusCode::BAD_REQUEST,
            Self::Message(MessageError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Publish(e) if e.is_retryable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Publish(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The stable, machine-readable code in the error body.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Auth(e) => e.code(),
            Self::InvalidBase64 => "invalid_base64",
            Self::NotUtf8 => "invalid_utf8",
            Self::Webhook(e) => e.code(),
            Self::Message(e) => e.code(),
            Self::Publish(e) => e.code(),
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
    let (webhook, enrichment, result) = match admit(app, &request) {
        Ok((webhook, body)) => {
            let enrichment = match &app.enricher {
                Some(enricher) => enricher.enrich(&webhook).await,
                None => None,
            };
            let details = enrichment.as_ref().and_then(|e| e.as_ref().ok());
            let result = publish(app, &webhook, body, details).await;
            (Some(webhook), enrichment, result)
        }
        Err(err) => (None, None, Err(err)),
    };
    log_and_answer(
        webhook.as_ref(),
        enrichment.as_ref(),
        result,
        started.elapsed(),
        app.metrics.as_ref(),
    )
}

/// Everything checked before anything is published: method, caller, body, envelope.
fn admit<'r, P>(
    app: &App<P>,
    request: &'r Request,
) -> Result<(Webhook, DeliverableBody<'r>), RequestError> {
    if request.method() != Method::POST {
        return Err(RequestError::MethodNotAllowed(request.method().clone()));
    }
    if let Some(allowed) = &app.allowed_sources {
        auth::check_source(allowed, source_ip(request))?;
    }
    if let Some(secret) = &app.secret {
        let values = request.headers().get_all(SECRET_HEADER);
        auth::check_secret(
            secret,
            values.iter().map(lambda_http::http::HeaderValue::as_bytes),
        )?;
    }
    if request.headers().contains_key(INVALID_BASE64_MARKER) {
        return Err(RequestError::InvalidBase64);
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_PUBLISH_BYTES {
        // Decided before parsing: no point reading a body SNS could never carry.
        return Err(MessageError::TooLarge {
            size: bytes.len(),
            limit: MAX_PUBLISH_BYTES,
        }
        .into());
    }
    let body = std::str::from_utf8(bytes).map_err(|_| RequestError::NotUtf8)?;
    let webhook = Webhook::parse(body)?;
    Ok((webhook, DeliverableBody::new(body)?))
}

/// Publishes the admitted webhook to the events topic and, concurrently, its notification.
/// `Err` only when there is nothing SNS could be given.
async fn publish<P: Publisher>(
    app: &App<P>,
    webhook: &Webhook,
    body: DeliverableBody<'_>,
    details: Option<&DefectDetails>,
) -> Result<Fanout, RequestError> {
    let subject = summary::subject(webhook, details);
    let event = Outbound::event(webhook, body, subject, app.fifo, details)?;
    let started = Instant::now();
    let Some(notifications) = &app.notifications else {
        let event = app.events.publish(&event).await;
        return Ok(Fanout {
            event,
            notification: None,
            latency: started.elapsed(),
        });
    };
    let notification = event.notification(summary::text(webhook, details));
    let (event, notification) = tokio::join!(
        app.events.publish(&event),
        notifications.publish(&notification)
    );
    Ok(Fanout {
        event,
        notification: Some(notification),
        latency: started.elapsed(),
    })
}

/// The caller's address as API Gateway saw it.
fn source_ip(request: &Request) -> Option<&str> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        _ => None,
    }
}

/// Logs the one line of a request, at `$level`, with the fields every line has.
macro_rules! request_line {
    ($level:ident, $request:expr, $($fields:tt)*) => {{
        let request: &RequestLog<'_> = $request;
        tracing::$level!(
            event_name = request.event_name,
            project_code = request.project_code,
            entity_id = request.entity_id,
            enrichment = request.enrichment,
            latency_us = request.latency_us,
            $($fields)*
        )
    }};
}

/// What every log line of a request says, whatever the outcome.
struct RequestLog<'a> {
    event_name: Option<&'a str>,
    project_code: Option<&'a str>,
    entity_id: Option<u64>,
    /// `added`, or why the Qase API lookup added nothing; absent when there was none.
    enrichment: Option<&'static str>,
    latency_us: u64,
}

/// What a request did, in the terms of the metrics. Publish latency and the notification's
/// fate are counted for published webhooks only (a failed publish's latency is its timeout).
fn metrics_of<'a>(
    event: &'a Result<String, RequestError>,
    notification: Option<&Result<String, PublishError>>,
    publish_latency: Option<Duration>,
    enrichment: Option<&Enrichment>,
) -> metrics::Request<'a> {
    let (outcome, code) = match event {
        Ok(_) => (Outcome::Published, None),
        Err(e) if e.status().is_server_error() => (Outcome::Failed, Some(e.code())),
        Err(e) => (Outcome::Rejected, Some(e.code())),
    };
    let published = event.is_ok();
    metrics::Request {
        outcome,
        code,
        publish_latency: publish_latency.filter(|_| published),
        notification_failed: notification.filter(|_| published).map(Result::is_err),
        enrichment: enrichment.map(|lookup| metrics::Lookup {
            code: lookup.as_ref().map_or_else(LookupError::code, |_| "added"),
            // A deleted defect is an answer, not a failure.
            failed: matches!(lookup, Err(e) if !matches!(e, LookupError::NotFound)),
        }),
    }
}

/// The one log line of a request, and its response.
fn log_and_answer(
    webhook: Option<&Webhook>,
    enrichment: Option<&Enrichment>,
    result: Result<Fanout, RequestError>,
    elapsed: Duration,
    metrics: Option<&Emf>,
) -> Response<Body> {
    let project_code = webhook.and_then(|w| w.project_code.as_deref()).map(|code| {
        match code.char_indices().nth(MAX_LOGGED_CODE_CHARS) {
            Some((cut, _)) => &code[..cut],
            None => code,
        }
    });
    let line = RequestLog {
        event_name: webhook.map(|w| w.event_name.as_str()),
        project_code,
        entity_id: webhook.and_then(|w| w.payload.id),
        enrichment: enrichment.map(|e| e.as_ref().map_or_else(LookupError::code, |_| "added")),
        latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    };
    let (event, notification, publish_latency) = match result {
        Ok(Fanout {
            event,
            notification,
            latency,
        }) => (
            event.map_err(RequestError::from),
            notification,
            Some(latency),
        ),
        Err(err) => (Err(err), None, None),
    };
    if let Some(metrics) = metrics {
        metrics.emit(&metrics_of(
            &event,
            notification.as_ref(),
            publish_latency,
            enrichment,
        ));
    }
    let notification_id = notification.as_ref().and_then(|n| n.as_ref().ok());
    let notification_id = notification_id.map(String::as_str);
    let notification_error = notification.as_ref().and_then(|n| n.as_ref().err());
    let message_id = match event {
        Ok(message_id) => message_id,
        Err(err) => {
            let (status, code) = (err.status().as_u16(), err.code());
            if err.status().is_server_error() {
                // A person may have been told of an event the events topic did not take.
                let notification_error = notification_error.map(PublishError::code);
                let cause = error_chain(&err);
                request_line!(
                    error,
                    &line,
                    status,
                    error = code,
                    notification_id,
                    notification_error,
                    cause,
                    "not published"
                );
            } else {
                request_line!(warn, &line, status, error = code, "rejected");
            }
            return err.to_response();
        }
    };
    let message_id = message_id.as_str();
    let mut body = serde_json::json!({ "message_id": message_id, "event_name": line.event_name });
    if let Some(err) = notification_error {
        body["notification_error"] = err.code().into();
        let (notification_error, cause) = (err.code(), error_chain(err));
        request_line!(
            error,
            &line,
            status = 202,
            message_id,
            notification_error,
            cause,
            "published; the notification was not"
        );
    } else {
        if let Some(id) = notification_id {
            body["notification_id"] = id.into();
        }
        if let Some(failed) = enrichment.and_then(|e| e.as_ref().err()) {
            // Published all the same, without what the lookup would have added.
            let cause = error_chain(failed);
            request_line!(
                warn,
                &line,
                status = 202,
                message_id,
                notification_id,
                cause,
                "published without enrichment"
            );
        } else {
            request_line!(
                info,
                &line,
                status = 202,
                message_id,
                notification_id,
                "published"
            );
        }
    }
    json_response(StatusCode::ACCEPTED, &body)
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::Text(body.to_string()))
        .expect("status and header are valid")
}
