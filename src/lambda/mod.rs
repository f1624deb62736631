//! The Lambda side: API Gateway events in, HTTP responses out, and the runtime loop.
//!
//! - [`event`]: Lambda event → `http::Request`, made safe for `lambda_http`'s conversion.
//! - [`handler`]: the request → response contract ([`handle`]).
//! - [`outcome`]: how a request ended, whence its response, log line and metrics.
//! - [`logging`]: the log output, and what it never shows.
//! - [`run`]: the runtime loop that feeds every invocation to [`handle`].

pub mod event;
pub mod handler;
pub mod logging;
pub mod outcome;

pub use event::{request_from_event, request_from_json};
pub use handler::{App, handle};
pub use outcome::RequestError;

use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt as _;
use lambda_http::{LambdaEvent, Request, service_fn};

use crate::publisher::Publisher;

/// Runs the Lambda runtime loop, answering every invocation with [`handle`].
pub async fn run<P: Publisher + Sync>(app: App<P>) -> Result<(), lambda_http::Error> {
    let app = &app;
    let handler = service_fn(move |request: Request| async move {
        Ok::<_, lambda_http::Error>(handle(app, request).await)
    });
    // The adapter converts the event itself: hand it one whose conversion cannot panic.
    let adapter =
        lambda_http::Adapter::from(handler).map_request(|mut event: LambdaEvent<LambdaRequest>| {
            event::normalize(&mut event.payload);
            event
        });
    lambda_http::lambda_runtime::run(adapter).await
}
