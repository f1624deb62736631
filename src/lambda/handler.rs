//! The request → response contract: an API Gateway request in, a status and a JSON body out.
//!
//! [`handle`] reads as the request goes: admit (method, source address, secret, body) →
//! parse (the Qase envelope) → enrich (the Qase API, for defect events) → plan (what to
//! publish: `crate::fanout`) → publish (every planned message, concurrently) → outcome (one
//! value: `crate::lambda::outcome`, whence the response, the log line and the metrics). Every
//! expected failure is a response, never an `Err` (which API Gateway would turn into an opaque
//! 502). It does not parse Qase's format itself, decide a message, nor talk to AWS.

use std::time::Instant;

use ipnet::IpNet;
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response};

use crate::auth::{self, SECRET_HEADER, Secret, Secrets};
use crate::enrichment::{Enricher, Enrichment};
use crate::fanout::{self, Planned, Topic};
use crate::filter::FilterPolicy;
use crate::lambda::event::INVALID_BASE64_MARKER;
use crate::lambda::outcome::{Ended, Outcome, RequestError, SecretCheck};
use crate::message::{DeliverableBody, MAX_PUBLISH_BYTES, MessageError};
use crate::metrics::Emf;
use crate::publisher::{Destinations, Publisher};
use crate::qase::Webhook;
use crate::rotation::SecretStore;

/// What the handler needs, built once at cold start and borrowed by every request.
#[derive(Debug)]
pub struct App<P> {
    /// The secrets `X-Qase-Secret` is checked against; `None` when checking is explicitly
    /// disabled.
    pub secret: Option<SecretStore>,
    /// Source addresses allowed to call; `None` means any.
    pub allowed_sources: Option<Vec<IpNet>>,
    /// The topics, a publisher each.
    pub destinations: Destinations<P>,
    /// The Qase API lookup of defect events, when a token is configured.
    pub enricher: Option<Enricher>,
    /// Where each request's EMF metrics document goes; `None`: no metrics.
    pub metrics: Option<Emf>,
}

impl<P> App<P> {
    /// Publishes to `events` only, checking `secret` (`None`: explicitly disabled); no source
    /// check, lookups or metrics until the builder methods below add them.
    pub fn new(events: P, secret: Option<Secret>) -> Self {
        Self::publishing_to(Destinations::new(events), secret.map(Secrets::only))
    }

    /// Publishes to `destinations`, checking `secrets` (`None`: explicitly disabled); no source
    /// check, lookups or metrics until the builder methods below add them.
    pub fn publishing_to(destinations: Destinations<P>, secrets: Option<Secrets>) -> Self {
        Self {
            secret: secrets.map(SecretStore::fixed),
            allowed_sources: None,
            destinations,
            enricher: None,
            metrics: None,
        }
    }

    /// Checks `X-Qase-Secret` against `secrets` (a rotation's two, or a store that rereads).
    #[must_use]
    pub fn with_secrets(self, secrets: SecretStore) -> Self {
        Self {
            secret: Some(secrets),
            ..self
        }
    }

    /// With a FIFO events topic: its messages carry group and deduplication ids.
    #[must_use]
    pub fn with_fifo_events(mut self) -> Self {
        self.destinations.fifo_events = true;
        self
    }

    /// Only requests from `allowed` source addresses are let in.
    #[must_use]
    pub fn with_allowed_sources(self, allowed: Vec<IpNet>) -> Self {
        Self {
            allowed_sources: Some(allowed),
            ..self
        }
    }

    /// With a notifications topic.
    #[must_use]
    pub fn with_notifications(mut self, notifications: P) -> Self {
        self.destinations.notifications = Some(notifications);
        self
    }

    /// With a chat topic, to which only what `filter` selects is published (every event when
    /// `None`).
    #[must_use]
    pub fn with_chat(mut self, chat: P, filter: Option<FilterPolicy>) -> Self {
        self.destinations.chat = Some(chat);
        self.destinations.chat_filter = filter;
        self
    }

    /// With the Qase API lookup of defect events.
    #[must_use]
    pub fn with_enricher(self, enricher: Enricher) -> Self {
        Self {
            enricher: Some(enricher),
            ..self
        }
    }

    /// With each request's metrics written to `metrics`.
    #[must_use]
    pub fn with_metrics(self, metrics: Emf) -> Self {
        Self {
            metrics: Some(metrics),
            ..self
        }
    }
}

/// Handles one request; always a response, never an `Err`.
pub async fn handle<P: Publisher>(app: &App<P>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let outcome = fan_out(app, &request).await;
    outcome.answer(started.elapsed(), app.metrics.as_ref())
}

/// Admit → parse → enrich → plan → publish: how the request ends.
async fn fan_out<P: Publisher>(app: &App<P>, request: &Request) -> Outcome {
    let (admitted, secret) = admit(app, request).await;
    let (webhook, body) = match admitted.and_then(parse) {
        Ok(admitted) => admitted,
        Err(refused) => return Outcome::refused(refused).with_secret(secret),
    };
    let enrichment = match &app.enricher {
        Some(enricher) => enricher.enrich(&webhook).await,
        None => None,
    };
    let details = enrichment.as_ref().and_then(Enrichment::details);
    let ended = match fanout::plan(&webhook, body, details, app.destinations.topics()) {
        Ok(plan) => publish(app, &plan).await,
        Err(too_large) => Ended::Refused(too_large.into()),
    };
    Outcome {
        webhook: Some(webhook),
        enrichment,
        secret,
        ended,
    }
}

/// Everything checked before the body is read: method, caller, secret, encoding, size,
/// UTF-8; and how the secret was judged, when it was.
async fn admit<'r, P>(
    app: &App<P>,
    request: &'r Request,
) -> (Result<&'r str, RequestError>, Option<SecretCheck>) {
    if request.method() != Method::POST {
        let refused = RequestError::MethodNotAllowed(request.method().clone());
        return (Err(refused), None);
    }
    if let Some(allowed) = &app.allowed_sources
        && let Err(refused) = auth::check_source(allowed, source_ip(request))
    {
        return (Err(refused.into()), None);
    }
    let mut secret = None;
    if let Some(store) = &app.secret {
        let values: Vec<&[u8]> = (request.headers().get_all(SECRET_HEADER).iter())
            .map(lambda_http::http::HeaderValue::as_bytes)
            .collect();
        let judged = store.admit(&values).await;
        if let Some(Err(failed)) = &judged.reread {
            lambda_http::tracing::warn!(error = %failed, "could not read the webhook secrets again");
        }
        let check = SecretCheck::of(&judged);
        if let Err(refused) = judged.result {
            return (Err(refused.into()), Some(check));
        }
        secret = Some(check);
    }
    (body(request), secret)
}

/// The body, as text that SNS could carry.
fn body(request: &Request) -> Result<&str, RequestError> {
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
    std::str::from_utf8(bytes).map_err(|_| RequestError::NotUtf8)
}

/// The envelope, then the body's characters (SQS delivers only its set).
fn parse(body: &str) -> Result<(Webhook, DeliverableBody<'_>), RequestError> {
    let webhook = Webhook::parse(body)?;
    Ok((webhook, DeliverableBody::new(body)?))
}

/// Publishes every planned message to its topic, concurrently; the events topic's answer
/// decides how the request ends.
async fn publish<P: Publisher>(app: &App<P>, plan: &[Planned<'_>]) -> Ended {
    let started = Instant::now();
    let mut others = app.destinations.publish(plan).await;
    let latency = started.elapsed();
    let events = others.remove(0);
    debug_assert_eq!(
        events.topic,
        Topic::Events,
        "the plan lists the events topic first"
    );
    match events.answer {
        Ok(message_id) => Ended::Published(message_id, others, latency),
        Err(failed) => Ended::NotPublished(failed.into(), others),
    }
}

/// The caller's address as API Gateway saw it.
fn source_ip(request: &Request) -> Option<&str> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        _ => None,
    }
}
