//! The Lambda side: API Gateway events in, HTTP responses out, and the runtime loop.
//!
//! - [`handler`]: the request → response contract ([`handle`]).
//! - [`outcome`]: how a request ended, whence its response, log line and metrics.
//! - [`logging`]: the log output, and what it never shows.
//! - [`run`]: the runtime loop that feeds every invocation to [`handle`].
//!
//! `lambda_http` converts each event into a request. Where it cannot (an event no API Gateway
//! sends: a body marked base64 that is not, a `Host` that makes no URI), its conversion
//! panics; the function is built to unwind (`Cargo.toml`, `[profile.release]`), so
//! `lambda_runtime` catches the panic and answers that invocation with an error. Nothing is
//! published, and the process goes on with the next invocation.

pub mod handler;
pub mod logging;
pub mod outcome;

pub use handler::{App, handle};
pub use outcome::RequestError;

use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt as _;
use lambda_http::{LambdaEvent, Request, service_fn};

use crate::auth::SECRET_HEADER;
use crate::publisher::Publisher;

/// Runs the Lambda runtime loop, answering every invocation with [`handle`].
pub async fn run<P: Publisher + Sync>(app: App<P>) -> Result<(), lambda_http::Error> {
    let app = &app;
    let handler = service_fn(move |request: Request| async move {
        Ok::<_, lambda_http::Error>(handle(app, request).await)
    });
    let adapter =
        lambda_http::Adapter::from(handler).map_request(|mut event: LambdaEvent<LambdaRequest>| {
            keep_repeated_secret(&mut event.payload);
            event
        });
    lambda_http::lambda_runtime::run(adapter).await
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
