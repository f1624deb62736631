//! How a request ended, as one value ([`Outcome`]: refused, not published, or published), in a
//! [`Report`] with what the log line says of the webhook. The response, the one log line and
//! the metrics document are each derived from it once.
//!
//! The events topic is the system of record: its answer alone decides the status. What the
//! other topics answered is reported (in the 202, the log line and the metrics), never fatal.
//! Nothing here decides what to publish or talks to AWS.

use std::time::Duration;

use lambda_http::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::{Method, StatusCode};
use lambda_http::tracing::{self, Level};
use lambda_http::{Body, Response};

use crate::auth::{Admitted, AuthError};
use crate::enrichment::Enrichment;
use crate::fanout::Companions;
use crate::lambda::logging::error_chain;
use crate::message::MessageError;
use crate::metrics::{self, Emf, Sample};
use crate::publisher::{Answer, Cause, PublishError};
use crate::qase::{Webhook, WebhookError};
use crate::rotation::Judged;

/// Project codes in the log are cut to this many characters (Qase's have 2 to 10).
pub const MAX_LOGGED_CODE_CHARS: usize = 32;

/// Why a request was not published. Each variant knows its status and stable code.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Only `POST` is accepted.
    #[error("method {0} is not allowed; Qase sends POST")]
    MethodNotAllowed(Method),
    /// The caller is not let in (source address or secret).
    #[error(transparent)]
    Auth(#[from] AuthError),
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
    /// The events topic refused in a way that parks, and the parking queue refused too.
    #[error("could not publish to SNS, nor park the event")]
    NotParked(#[source] PublishError, Cause),
}

impl RequestError {
    /// The HTTP status this failure is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Auth(AuthError::ForbiddenSource) => StatusCode::FORBIDDEN,
            Self::Auth(AuthError::MissingSecret | AuthError::WrongSecret) => {
                StatusCode::UNAUTHORIZED
            }
            Self::NotUtf8
            | Self::Webhook(_)
            | Self::Message(MessageError::UnsupportedCharacter { .. }) => StatusCode::BAD_REQUEST,
            Self::Message(MessageError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Publish(e) | Self::NotParked(e, _) if e.is_retryable() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Publish(_) | Self::NotParked(..) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The stable, machine-readable code in the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Auth(e) => e.code(),
            Self::NotUtf8 => "invalid_utf8",
            Self::Webhook(e) => e.code(),
            Self::Message(e) => e.code(),
            Self::Publish(e) | Self::NotParked(e, _) => e.code(),
        }
    }
}

/// How a request ended.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing was asked of SNS (4xx; a 5xx never ends here).
    Refused(RequestError),
    /// The events topic did not take the event (5xx); what the companion topics answered.
    NotPublished(RequestError, Companions<Answer>),
    /// The event is on the events topic: its message id, what the companion topics answered,
    /// and how long the publishes took (all topics, concurrently).
    Published(String, Companions<Answer>, Duration),
    /// The events topic refused in a way that parks (the error), and the parking queue keeps
    /// the plan (202): its queue message id, what the companion topics answered.
    Parked(String, PublishError, Companions<Answer>),
}

impl Outcome {
    /// The `Outcome` dimension of the metrics.
    fn dimension(&self) -> &'static str {
        match self {
            Self::Refused(_) => "rejected",
            Self::NotPublished(..) => "failed",
            Self::Published(..) => "published",
            Self::Parked(..) => "parked",
        }
    }
}

/// How the request's `X-Qase-Secret` was judged, as the log line and the metrics say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretCheck {
    /// Which secret let it in; `None` when none did.
    pub admitted: Option<Admitted>,
    /// Whether the secrets were read again for it (a rotation): `Some(false)` when the read
    /// failed.
    pub reread: Option<bool>,
}

impl SecretCheck {
    /// What `judged` says.
    pub fn of(judged: &Judged) -> Self {
        Self {
            admitted: judged.result.ok(),
            reread: judged.reread.as_ref().map(Result::is_ok),
        }
    }

    /// The log line's `secret` field: `previous` when the previous secret let the request in,
    /// else `reread` or `reread_failed` when the secrets were read again for it.
    fn label(self) -> Option<&'static str> {
        match (self.admitted, self.reread) {
            (Some(Admitted::Previous), _) => Some("previous"),
            (_, Some(true)) => Some("reread"),
            (_, Some(false)) => Some("reread_failed"),
            _ => None,
        }
    }
}

/// A request's outcome, with what the log line says of the webhook.
#[derive(Debug)]
pub struct Report {
    /// The webhook, once parsed.
    pub webhook: Option<Webhook>,
    /// The Qase API lookup, when there was one.
    pub enrichment: Option<Enrichment>,
    /// How the secret was judged, when it was checked.
    pub secret: Option<SecretCheck>,
    /// How it ended.
    pub outcome: Outcome,
}

impl Report {
    /// Logs the request's one line, writes its metrics to `emf` and answers its response.
    /// `latency` is the whole request's.
    pub fn answer(self, latency: Duration, emf: Option<&Emf>) -> Response<Body> {
        if let Some(emf) = emf {
            emf.emit(&self.sample());
        }
        self.log(latency);
        self.response()
    }

    /// The response: the error's `{"error": code, "message": what to fix}` (with `Allow` on a
    /// 405, `Retry-After` on a 503), or 202 with the message ids and what failed.
    fn response(&self) -> Response<Body> {
        let mut response = Response::builder().header(CONTENT_TYPE, "application/json");
        let body = match &self.outcome {
            Outcome::Refused(error) | Outcome::NotPublished(error, _) => {
                let status = error.status();
                response = response.status(status);
                if let RequestError::MethodNotAllowed(_) = error {
                    response = response.header(ALLOW, "POST");
                }
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    response = response.header(RETRY_AFTER, "5");
                }
                serde_json::json!({ "error": error.code(), "message": error.to_string() })
            }
            Outcome::Parked(parked, refused, _) => {
                response = response.status(StatusCode::ACCEPTED);
                let event_name = self.webhook.as_ref().map(|w| w.event_name.as_str());
                serde_json::json!({
                    "parked": true,
                    "queue_message_id": parked,
                    "event_name": event_name,
                    "refused": refused.code(),
                })
            }
            Outcome::Published(message_id, companions, _) => {
                response = response.status(StatusCode::ACCEPTED);
                let event_name = self.webhook.as_ref().map(|w| w.event_name.as_str());
                let mut body =
                    serde_json::json!({ "message_id": message_id, "event_name": event_name });
                for (topic, answer) in companions.iter() {
                    match answer {
                        Ok(id) => body[format!("{topic}_id")] = id.as_str().into(),
                        Err(e) => body[format!("{topic}_error")] = e.code().into(),
                    }
                }
                body
            }
        };
        (response.body(Body::Text(body.to_string()))).expect("status and headers are valid")
    }

    /// The metrics of the request. Publish latency and the other topics' fate are counted for
    /// published webhooks only (a failed publish's latency is its timeout).
    fn sample(&self) -> Sample<'_> {
        let (code, latency, companions) = match &self.outcome {
            Outcome::Published(_, companions, latency) => (None, Some(*latency), Some(companions)),
            Outcome::NotPublished(e, _) | Outcome::Refused(e) => (Some(e.code()), None, None),
            Outcome::Parked(..) => (None, None, None),
        };
        let failed = |answer: &Option<Answer>| answer.as_ref().map(Result::is_err);
        Sample {
            outcome: self.outcome.dimension(),
            code,
            publish_latency: latency,
            notification_failed: companions.and_then(|c| failed(&c.notification)),
            chat_failed: companions.and_then(|c| failed(&c.chat)),
            previous_secret_used: (self.secret)
                .and_then(|s| s.admitted)
                .map(|a| a == Admitted::Previous),
            enrichment: self.enrichment.as_ref().map(|lookup| metrics::Lookup {
                code: lookup.code(),
                failed: lookup.is_failure(),
            }),
        }
    }

    /// The one log line: `warn` for 4xx, `error` for 5xx and for a published event whose
    /// notification or chat message was not, `warn` when the lookup added nothing, else `info`.
    fn log(&self, latency: Duration) {
        let webhook = self.webhook.as_ref();
        let (error, message_id, answers) = match &self.outcome {
            Outcome::Refused(e) => (Some(e), None, None),
            Outcome::NotPublished(e, answers) => (Some(e), None, Some(answers)),
            Outcome::Published(id, answers, _) => (None, Some(id.as_str()), Some(answers)),
            Outcome::Parked(_, _, answers) => (None, None, Some(answers)),
        };
        let parked_id = match &self.outcome {
            Outcome::Parked(parked, ..) => Some(parked.as_str()),
            _ => None,
        };
        let notification = answers.and_then(|a| a.notification.as_ref());
        let chat = answers.and_then(|a| a.chat.as_ref());
        let notification_failed = notification.and_then(|a| a.as_ref().err());
        let chat_failed = chat.and_then(|a| a.as_ref().err());
        let (enrichment, secret) = (self.enrichment.as_ref(), self.secret);
        let (level, what, cause) = self.verdict(notification_failed, chat_failed);
        // Every field the line can have (an absent one is not written); tracing's macros take
        // the level as a name, so one arm a level.
        macro_rules! log_at {
            ($level:ident) => {
                tracing::$level!(
                    event_name = webhook.map(|w| w.event_name.as_str()),
                    project_code =
                        webhook.and_then(|w| w.project_code_prefix(MAX_LOGGED_CODE_CHARS)),
                    entity_id = webhook.and_then(|w| w.payload.id),
                    enrichment = enrichment.map(Enrichment::code),
                    secret = secret.and_then(SecretCheck::label),
                    latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                    status = error.map_or(202, |e| e.status().as_u16()),
                    error = error.map(RequestError::code),
                    message_id,
                    parked_id,
                    notification_id = notification.and_then(|a| a.as_deref().ok()),
                    notification_error = notification_failed.map(PublishError::code),
                    chat_id = chat.and_then(|a| a.as_deref().ok()),
                    chat_error = chat_failed.map(PublishError::code),
                    cause = cause.as_deref(),
                    "{what}"
                )
            };
        }
        match level {
            Level::ERROR => log_at!(error),
            Level::WARN => log_at!(warn),
            _ => log_at!(info),
        }
    }

    /// The log line's level, what it says, and the cause, given the companions' failures.
    fn verdict(
        &self,
        notification_failed: Option<&PublishError>,
        chat_failed: Option<&PublishError>,
    ) -> (Level, &'static str, Option<String>) {
        match (
            &self.outcome,
            companion_failures(notification_failed, chat_failed),
        ) {
            (Outcome::Refused(_), _) => (Level::WARN, "rejected", None),
            // A person may have been told of an event the events topic did not take.
            (Outcome::NotPublished(RequestError::NotParked(refused, parking), _), _) => {
                let cause = format!(
                    "{}; parking: {}",
                    error_chain(refused),
                    error_chain(parking.as_ref())
                );
                (Level::ERROR, "neither published nor parked", Some(cause))
            }
            (Outcome::NotPublished(e, _), _) => {
                (Level::ERROR, "not published", Some(error_chain(e)))
            }
            // Kept: the delivery handler publishes it when the events topic takes it again.
            (Outcome::Parked(_, refused, _), _) => {
                (Level::WARN, "parked", Some(error_chain(refused)))
            }
            (Outcome::Published(..), Some((what, cause))) => (Level::ERROR, what, Some(cause)),
            // Published all the same, without what the lookup would have added.
            (Outcome::Published(..), None) => {
                match self.enrichment.as_ref().and_then(Enrichment::error) {
                    Some(failed) => (
                        Level::WARN,
                        "published without enrichment",
                        Some(error_chain(failed)),
                    ),
                    None => (Level::INFO, "published", None),
                }
            }
        }
    }
}

/// When a published event's notification or chat message was not: what to say, and the cause
/// of each failure.
fn companion_failures(
    notification: Option<&PublishError>,
    chat: Option<&PublishError>,
) -> Option<(&'static str, String)> {
    match (notification, chat) {
        (None, None) => None,
        (Some(n), None) => Some(("published; the notification was not", error_chain(n))),
        (None, Some(c)) => Some(("published; the chat message was not", error_chain(c))),
        (Some(n), Some(c)) => Some((
            "published; the notification and the chat message were not",
            format!("notification: {}; chat: {}", error_chain(n), error_chain(c)),
        )),
    }
}
