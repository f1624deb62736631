//! The Lambda side: API Gateway events in, HTTP responses out, and the runtime loop.
//!
//! - [`handler`]: the request → response contract ([`handle`]).
//! - [`outcome`]: how a request ended, whence its response, log line and metrics.
//! - [`logging`]: the log output, and what it never shows.
//! - [`delivery`]: the parking queue's batches, each parked plan published ([`deliver`]).
//! - [`run`]: the runtime loop that feeds every invocation to [`handle`], or a batch of the
//!   parking queue to [`deliver`].
//!
//! `lambda_http` converts each event into a request. Where it cannot (an event no API Gateway
//! sends: a body marked base64 that is not, a `Host` that makes no URI), its conversion
//! panics; the function is built to unwind (`Cargo.toml`, `[profile.release]`), so
//! `lambda_runtime` catches the panic and answers that invocation with an error. Nothing is
//! published, and the process goes on with the next invocation.

pub mod delivery;
pub mod handler;
pub mod logging;
pub mod outcome;

pub use delivery::deliver;
pub use handler::{App, handle};
pub use outcome::RequestError;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_http::request::LambdaRequest;
use lambda_http::{BoxFuture, Error, LambdaEvent, Request, Service as _, service_fn};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::auth::SECRET_HEADER;
use crate::publisher::{Parking, Publisher};

/// Runs the Lambda runtime loop: an API Gateway event goes to [`handle`] (through
/// `lambda_http`), a batch of the parking queue to [`deliver`]. One bootstrap serves both
/// functions of the template: `sam build` builds it once, and each function's event source
/// decides what it is sent.
pub async fn run<P, Q>(app: App<P, Q>) -> Result<(), Error>
where
    P: Publisher + Sync,
    Q: Parking + Sync,
{
    let app = &app;
    let handler =
        service_fn(
            move |request: Request| async move { Ok::<_, Error>(handle(app, request).await) },
        );
    let mut http = lambda_http::Adapter::from(handler);
    let invocation = service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let answer: BoxFuture<'_, Result<Answer<_>, Error>> = match read(&event.payload) {
            Ok(Invocation::Batch(batch)) => {
                Box::pin(async move { Ok(Answer::Batch(deliver(app, batch).await)) })
            }
            Ok(Invocation::Http(mut request)) => {
                keep_repeated_secret(&mut request);
                let response = http.call(LambdaEvent::new(*request, event.context));
                Box::pin(async move { Ok(Answer::Http(response.await?)) })
            }
            Err(unreadable) => Box::pin(async move { Err(unreadable.into()) }),
        };
        answer
    });
    lambda_http::lambda_runtime::run(invocation).await
}

/// What an invocation is: a batch of the parking queue (SQS events carry `Records`, which no
/// API Gateway event has, each from `aws:sqs`), or a request.
enum Invocation {
    Batch(SqsEvent),
    Http(Box<LambdaRequest>),
}

/// What an invocation is answered: `lambda_http`'s response to a request (`H`), or the
/// records of a batch to be tried again.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer<H> {
    Http(H),
    Batch(SqsBatchResponse),
}

/// Reads `event` as what it is.
fn read(event: &RawValue) -> Result<Invocation, serde_json::Error> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "Records")]
        records: Option<serde::de::IgnoredAny>,
    }
    let text = event.get();
    if serde_json::from_str::<Probe>(text)?.records.is_none() {
        return Ok(Invocation::Http(Box::new(serde_json::from_str(text)?)));
    }
    let batch: SqsEvent = serde_json::from_str(text)?;
    let from_sqs = |r: &SqsMessage| r.event_source.as_deref() == Some("aws:sqs");
    if batch.records.is_empty() || !batch.records.iter().all(from_sqs) {
        return Err(serde::de::Error::custom(
            "the event is neither an API Gateway event nor a batch of an SQS queue",
        ));
    }
    Ok(Invocation::Batch(batch))
}

/// A REST API event carries each header twice: in `multiValueHeaders`, every value, and in
/// `headers`, the last one. `lambda_http` lets the one replace the many, so a request that
/// sent `X-Qase-Secret` twice would be judged by its last value alone: this drops the single
/// copy, so that the handler sees both values and refuses the request.
pub fn keep_repeated_secret(event: &mut LambdaRequest) {
    if let LambdaRequest::ApiGatewayV1(event) = event
        && event
            .multi_value_headers
            .get_all(SECRET_HEADER)
            .iter()
            .count()
            > 1
    {
        event.headers.remove(SECRET_HEADER);
    }
}
