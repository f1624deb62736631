//! The request → response contract: an API Gateway request in, a status and a JSON body out.
//!
//! [`handle`] reads as the request goes: admit (method, source address, secret, body) →
//! parse (the Qase envelope) → enrich (the Qase API, for defect events) → plan (what to
//! publish: `crate::fanout`) → publish (every planned message, concurrently; when the events
//! topic refuses in a way that passes, park the plan: `crate::parking`) → outcome (one
//! value: `crate::lambda::outcome`, whence the response, the log line and the metrics). Every
//! expected failure is a response, never an `Err` (which API Gateway would turn into an opaque
//! 502). It does not parse Qase's format itself, decide a message, nor talk to AWS.

use std::time::Instant;

use ipnet::IpNet;
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response};

use crate::auth::{self, SECRET_HEADER};
use crate::enrichment::{Enricher, Enrichment};
use crate::fanout::{self, Topics};
use crate::lambda::outcome::{Outcome, Report, RequestError, SecretCheck};
use crate::message::DeliverableBody;
use crate::metrics::Emf;
use crate::parking;
use crate::publisher::{NoQueue, Parking, Publisher};
use crate::qase::Webhook;
use crate::rotation::SecretStore;

/// What the handler needs, built once at cold start (`main.rs`) and borrowed by every
/// request.
#[derive(Debug)]
pub struct App<P, Q = NoQueue> {
    /// The secrets `X-Qase-Secret` is checked against; `None` when checking is explicitly
    /// disabled.
    pub secret: Option<SecretStore>,
    /// Source addresses allowed to call; `None` means any.
    pub allowed_sources: Option<Vec<IpNet>>,
    /// The topics, a publisher each.
    pub topics: Topics<P>,
    /// The Qase API lookup of defect events, when a token is configured.
    pub enricher: Option<Enricher>,
    /// Where each request's EMF metrics document goes; `None`: no metrics.
    pub metrics: Option<Emf>,
    /// The parking queue, when configured: it keeps a webhook the events topic refused for a
    /// while, and the delivery handler (`crate::lambda::delivery`) publishes it later.
    pub parking: Option<Q>,
}

/// Handles one request; always a response, never an `Err`.
pub async fn handle<P: Publisher, Q: Parking>(app: &App<P, Q>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let report = fan_out(app, &request).await;
    report.answer(started.elapsed(), app.metrics.as_ref())
}

/// Admit → parse → enrich → plan → publish: how the request ends.
async fn fan_out<P: Publisher, Q: Parking>(app: &App<P, Q>, request: &Request) -> Report {
    let (admitted, secret) = admit(app, request).await;
    let (webhook, body) = match admitted.and_then(parse) {
        Ok(admitted) => admitted,
        Err(refused) => {
            return Report {
                webhook: None,
                enrichment: None,
                secret,
                outcome: Outcome::Refused(refused),
            };
        }
    };
    let enrichment = match &app.enricher {
        Some(enricher) => enricher.enrich(&webhook).await,
        None => None,
    };
    let details = enrichment.as_ref().and_then(Enrichment::details);
    let plan = fanout::plan(&webhook, body, details, &app.topics);
    let started = Instant::now();
    // The events topic's answer decides how the request ends.
    let outcome = match app.topics.publish(&plan).await {
        (Ok(message_id), companions) => {
            Outcome::Published(message_id, companions, started.elapsed())
        }
        (Err(failed), companions) => match &app.parking {
            Some(queue) if parking::parks(&failed) => {
                match queue.park(&parking::park(&plan, &companions)).await {
                    Ok(parked) => Outcome::Parked(parked, failed, companions),
                    Err(parking) => {
                        let refused = RequestError::NotParked(failed, parking);
                        Outcome::NotPublished(refused, companions)
                    }
                }
            }
            _ => Outcome::NotPublished(failed.into(), companions),
        },
    };
    Report {
        webhook: Some(webhook),
        enrichment,
        secret,
        outcome,
    }
}

/// Everything checked before the body is read: method, caller, secret, UTF-8; and how the
/// secret was judged, when it was.
async fn admit<'r, P, Q>(
    app: &App<P, Q>,
    request: &'r Request,
) -> (Result<&'r str, RequestError>, Option<SecretCheck>) {
    if request.method() != Method::POST {
        let refused = RequestError::MethodNotAllowed(request.method().clone());
        return (Err(refused), None);
    }
    let caller = source_ip(request);
    if let Some(allowed) = &app.allowed_sources
        && let Err(refused) = auth::check_source(allowed, caller)
    {
        return (Err(refused.into()), None);
    }
    let Some(store) = &app.secret else {
        return (body(request), None);
    };
    let values: Vec<&[u8]> = (request.headers().get_all(SECRET_HEADER).iter())
        .map(lambda_http::http::HeaderValue::as_bytes)
        .collect();
    let judged = store.admit(&values).await;
    if let Some(Err(failed)) = &judged.reread {
        lambda_http::tracing::warn!(error = %failed, "could not read the webhook secrets again");
    }
    let check = Some(SecretCheck::of(&judged));
    match judged.result {
        Ok(_) => (body(request), check),
        Err(refused) => (Err(refused.into()), check),
    }
}

/// The body, as text.
fn body(request: &Request) -> Result<&str, RequestError> {
    std::str::from_utf8(request.body().as_ref()).map_err(|_| RequestError::NotUtf8)
}

/// The envelope, then whether SNS and SQS can carry the body as it is.
fn parse(body: &str) -> Result<(Webhook, DeliverableBody<'_>), RequestError> {
    let webhook = Webhook::parse(body)?;
    let body = DeliverableBody::new(&webhook, body)?;
    Ok((webhook, body))
}

/// The caller's address as API Gateway saw it.
fn source_ip(request: &Request) -> Option<&str> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        _ => None,
    }
}
