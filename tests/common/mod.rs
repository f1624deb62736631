//! Test support shared by the integration tests: a recording publisher, API Gateway event
//! builders, the Qase fixtures, and the local SNS/SQS emulator (moto's server mode).
#![allow(dead_code, missing_docs)] // each test binary uses a different part of this module
#![allow(clippy::too_many_lines)] // the 60-line limit (clippy.toml) is for src/

pub mod chat_schema;
pub mod corpus;
pub mod demo;
pub mod emf;
pub mod faults;
pub mod http1;
pub mod moto;
pub mod oracle;
pub mod publish;
pub mod qase_mock;
pub mod runtime_api;
pub mod throwaway_ca;

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use ipnet::IpNet;
use lambda_http::{Body, Request, Response};
use qase_defect_fanout::auth::{Secret, Secrets};
use qase_defect_fanout::enrichment::Enricher;
use qase_defect_fanout::fanout::{Companions, Topics};
use qase_defect_fanout::filter::FilterPolicy;
use qase_defect_fanout::lambda::{self, App};
use qase_defect_fanout::message::Outbound;
use qase_defect_fanout::metrics::Emf;
use qase_defect_fanout::publisher::{Cause, Parking, PublishError, Publisher};
use qase_defect_fanout::rotation::SecretStore;
use serde_json::{Value, json};

pub use demo::SECRET;

/// The topic a [`RecordingPublisher`] stands for, unless told otherwise.
pub const RECORDED_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:recorded";

/// A publisher that records every call and answers as told. Every message it is given is
/// first held to the AWS contract ([`oracle::violations`]): a handler test fails on a publish
/// SNS would refuse or a subscriber would not receive as sent, whatever else it checks.
pub struct RecordingPublisher {
    topic_arn: &'static str,
    calls: Mutex<Vec<Outbound<'static>>>,
    fail_with: Option<fn() -> PublishError>,
}

impl RecordingPublisher {
    pub fn ok() -> Self {
        Self {
            topic_arn: RECORDED_TOPIC,
            calls: Mutex::new(Vec::new()),
            fail_with: None,
        }
    }

    pub fn failing(fail_with: fn() -> PublishError) -> Self {
        Self {
            fail_with: Some(fail_with),
            ..Self::ok()
        }
    }

    /// Stands for the topic `arn` (a FIFO one when it ends in `.fifo`).
    pub fn on_topic(self, arn: &'static str) -> Self {
        Self {
            topic_arn: arn,
            ..self
        }
    }

    /// Every message it was given, in order.
    pub fn calls(&self) -> Vec<Outbound<'static>> {
        self.calls.lock().unwrap().clone()
    }
}

impl Publisher for RecordingPublisher {
    async fn publish(&self, outbound: &Outbound<'_>) -> Result<String, PublishError> {
        let mut calls = self.calls.lock().unwrap();
        let message_id = format!("msg-{}", calls.len() + 1);
        let sent = oracle::Publish::from_outbound(self.topic_arn, outbound, &message_id);
        let broken = oracle::violations(&sent);
        assert!(
            broken.is_empty(),
            "the handler asked for a publish that breaks the AWS contract: {broken:?} in {sent:?}"
        );
        calls.push(Outbound {
            message: Cow::Owned(outbound.message.to_string()),
            ..outbound.clone()
        });
        match self.fail_with {
            Some(fail) => Err(fail()),
            None => Ok(message_id),
        }
    }
}

/// The handler as deployed with the sample secret, publishing events to `events`; the
/// methods of [`TestApp`] add the rest.
pub fn app<P>(events: P) -> App<P> {
    checking(events, Some(demo_secret()))
}

/// The handler publishing to `events` alone, checking `secret` (`None`: explicitly disabled).
pub fn checking<P>(events: P, secret: Option<Secret>) -> App<P> {
    let topics = Topics {
        events,
        fifo_events: false,
        companions: Companions::default(),
        chat_filter: None,
    };
    App {
        secret: secret.map(|secret| SecretStore::fixed(Secrets::only(secret))),
        allowed_sources: None,
        topics,
        enricher: None,
        metrics: None,
        parking: None,
    }
}

/// What the tests add to an [`App`] (`main.rs` builds it from the environment).
pub trait TestApp<P>: Sized {
    /// Checks `X-Qase-Secret` against `secrets` (a rotation's two, or a store that rereads).
    fn with_secrets(self, secrets: SecretStore) -> Self;
    /// Only requests from `allowed` source addresses are let in.
    fn with_allowed_sources(self, allowed: Vec<IpNet>) -> Self;
    /// With the Qase API lookup of defect events.
    fn with_enricher(self, enricher: Enricher) -> Self;
    /// With each request's metrics written to `metrics`.
    fn with_metrics(self, metrics: Emf) -> Self;
    /// With a FIFO events topic: its messages carry group and deduplication ids.
    fn with_fifo_events(self) -> Self;
    /// With a notifications topic.
    fn with_notifications(self, notifications: P) -> Self;
    /// With a chat topic, to which only what `filter` selects is published (every event when
    /// `None`).
    fn with_chat(self, chat: P, filter: Option<FilterPolicy>) -> Self;
    /// With the parking queue `queue`.
    fn with_parking<Q>(self, queue: Q) -> App<P, Q>;
}

impl<P> TestApp<P> for App<P> {
    fn with_secrets(self, secrets: SecretStore) -> Self {
        App {
            secret: Some(secrets),
            ..self
        }
    }
    fn with_allowed_sources(self, allowed: Vec<IpNet>) -> Self {
        App {
            allowed_sources: Some(allowed),
            ..self
        }
    }
    fn with_enricher(self, enricher: Enricher) -> Self {
        App {
            enricher: Some(enricher),
            ..self
        }
    }
    fn with_metrics(self, metrics: Emf) -> Self {
        App {
            metrics: Some(metrics),
            ..self
        }
    }
    fn with_fifo_events(mut self) -> Self {
        self.topics.fifo_events = true;
        self
    }
    fn with_notifications(mut self, notifications: P) -> Self {
        self.topics.companions.notification = Some(notifications);
        self
    }
    fn with_chat(mut self, chat: P, filter: Option<FilterPolicy>) -> Self {
        self.topics.companions.chat = Some(chat);
        self.topics.chat_filter = filter;
        self
    }
    fn with_parking<Q>(self, queue: Q) -> App<P, Q> {
        App {
            secret: self.secret,
            allowed_sources: self.allowed_sources,
            topics: self.topics,
            enricher: self.enricher,
            metrics: self.metrics,
            parking: Some(queue),
        }
    }
}

/// The most a message SQS keeps may hold: "The maximum size is 1 MiB or 1,048,576 bytes" (SQS
/// API Reference, `SendMessage`, `MessageBody`).
pub const MAX_SQS_MESSAGE_BYTES: usize = 1_048_576;

/// A parking queue that records what it is given and answers as told. Every parked document
/// is first held to SQS's rules for a message body (`SendMessage`: at most
/// [`MAX_SQS_MESSAGE_BYTES`], and only `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
/// #x10000-#x10FFFF`), stated here, not taken from the code under test.
#[derive(Default)]
pub struct RecordingQueue {
    parked: Mutex<Vec<String>>,
    retries: Mutex<Vec<(String, std::time::Duration)>>,
    refusing: bool,
}

impl RecordingQueue {
    /// A queue that refuses every message.
    pub fn refusing() -> Self {
        Self {
            refusing: true,
            ..Self::default()
        }
    }

    /// Every document it was given, in order.
    pub fn parked(&self) -> Vec<String> {
        self.parked.lock().unwrap().clone()
    }

    /// Every delayed retry it was asked for: the receipt and the delay.
    pub fn retries(&self) -> Vec<(String, std::time::Duration)> {
        self.retries.lock().unwrap().clone()
    }
}

impl Parking for RecordingQueue {
    async fn park(&self, parked: &str) -> Result<String, Cause> {
        assert!(
            parked.len() <= MAX_SQS_MESSAGE_BYTES,
            "{} bytes",
            parked.len()
        );
        let sqs = |c: char| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
        assert!(parked.chars().all(sqs), "SQS would not keep {parked:?}");
        if self.refusing {
            return Err("sqs refused the message (test)".into());
        }
        let mut all = self.parked.lock().unwrap();
        all.push(parked.to_owned());
        Ok(format!("parked-{}", all.len()))
    }

    async fn retry_in(&self, receipt: &str, delay: std::time::Duration) -> Result<(), Cause> {
        self.retries
            .lock()
            .unwrap()
            .push((receipt.to_owned(), delay));
        Ok(())
    }
}

/// [`SECRET`] as the handler holds it.
pub fn demo_secret() -> Secret {
    Secret::new(SECRET).expect("the demo secret is long enough")
}

/// Every documented Qase payload shipped in `tests/fixtures/qase/`, as `(event name, body)`.
pub fn qase_fixtures() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/qase");
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/fixtures/qase exists")
        .map(|entry| {
            let path = entry.expect("readable fixture entry").path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            (
                stem,
                std::fs::read_to_string(&path).expect("readable fixture"),
            )
        })
        .collect();
    all.sort();
    all
}

pub fn qase_fixture(event_name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/qase/{event_name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A thin `defect.resolved` of project DEMO, defect `id`, as Qase sends it.
pub fn resolved(id: u64) -> String {
    format!(
        r#"{{"event_name":"defect.resolved","timestamp":1763800000,"payload":{{"id":{id}}},"team_member_id":40,"project_code":"DEMO"}}"#
    )
}

/// `defect.created` with payload id `n`: a body of its own, so that copies can be told apart.
pub fn numbered_webhook(n: usize) -> String {
    qase_fixture("defect.created").replace(r#""id": 1,"#, &format!(r#""id": {n},"#))
}

/// How the request reaches the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// API Gateway REST API (payload v1): headers keep the sender's casing.
    Rest,
    /// API Gateway HTTP API (payload v2): headers lower-cased.
    Http,
    /// Lambda Function URL (payload v2 with a lambda-url domain).
    FunctionUrl,
}

/// A request as API Gateway would hand it to the function.
pub struct EventBuilder {
    api: Api,
    method: &'static str,
    headers: Vec<(String, String)>,
    body: Option<String>,
    base64: bool,
    source_ip: String,
    path: String,
    query: String,
    stage: Option<String>,
}

impl EventBuilder {
    pub fn new(api: Api) -> Self {
        Self {
            api,
            method: "POST",
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: None,
            base64: false,
            source_ip: "3.141.66.247".into(),
            path: "/qase/webhook".into(),
            query: String::new(),
            stage: None,
        }
    }

    /// The request path as API Gateway reports it (`path` or `rawPath`).
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.into();
        self
    }

    /// The raw query string (HTTP API, Function URL) or its one parameter `q` (REST API).
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.into();
        self
    }

    /// The stage in the request context (default: `prod` for REST, `$default` otherwise).
    pub fn stage(mut self, stage: &str) -> Self {
        self.stage = Some(stage.into());
        self
    }

    /// A POST from Qase with the right secret and `body`.
    pub fn qase(api: Api, body: &str) -> Self {
        Self::with_secret(api, SECRET, body)
    }

    /// A POST from Qase carrying `secret` in `X-Qase-Secret` and `body`.
    pub fn with_secret(api: Api, secret: &str, body: &str) -> Self {
        Self::new(api).header("X-Qase-Secret", secret).body(body)
    }

    pub fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// The caller's address as API Gateway reports it (default: one of Qase's).
    pub fn source_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.into();
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = Some(body.into());
        self.base64 = false;
        self
    }

    /// The body base64-encoded, as API Gateway sends binary bodies.
    pub fn base64_body(mut self, bytes: &[u8]) -> Self {
        self.body = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.base64 = true;
        self
    }

    /// A body marked base64 that is taken verbatim (may be invalid).
    pub fn raw_base64_body(mut self, text: &str) -> Self {
        self.body = Some(text.into());
        self.base64 = true;
        self
    }

    /// The Lambda event JSON.
    pub fn event(&self) -> Value {
        let source_ip = self.source_ip.as_str();
        let path = self.path.as_str();
        match self.api {
            Api::Rest => {
                let mut single = serde_json::Map::new();
                let mut multi = serde_json::Map::new();
                for (name, value) in &self.headers {
                    single.insert(name.clone(), json!(value));
                    let all = multi.entry(name.clone()).or_insert_with(|| json!([]));
                    all.as_array_mut().unwrap().push(json!(value));
                }
                let query = (!self.query.is_empty()).then(|| json!({"q": self.query}));
                let multi_query = (!self.query.is_empty()).then(|| json!({"q": [self.query]}));
                let stage = self.stage.as_deref().unwrap_or("prod");
                json!({
                    "resource": "/qase/webhook",
                    "path": path,
                    "httpMethod": self.method,
                    "headers": single,
                    "multiValueHeaders": multi,
                    "queryStringParameters": query,
                    "multiValueQueryStringParameters": multi_query,
                    "pathParameters": null,
                    "stageVariables": null,
                    "requestContext": {
                        "accountId": "123456789012",
                        "apiId": "a1b2c3d4e5",
                        "resourceId": "r3s0urc3",
                        "resourcePath": "/qase/webhook",
                        "httpMethod": self.method,
                        "path": format!("/{stage}{path}"),
                        "protocol": "HTTP/1.1",
                        "stage": stage,
                        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                        "requestTimeEpoch": 1_650_532_563_000_i64,
                        "identity": {"sourceIp": source_ip, "userAgent": "Qase"}
                    },
                    "body": self.body,
                    "isBase64Encoded": self.base64
                })
            }
            Api::Http | Api::FunctionUrl => {
                let mut headers = serde_json::Map::new();
                for (name, value) in &self.headers {
                    let name = name.to_ascii_lowercase();
                    // API Gateway v2 joins repeated headers with commas.
                    let joined = match headers.get(&name).and_then(Value::as_str) {
                        Some(prev) => format!("{prev},{value}"),
                        None => value.clone(),
                    };
                    headers.insert(name, json!(joined));
                }
                let (route, domain) = match self.api {
                    Api::Http => (
                        "POST /qase/webhook",
                        "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
                    ),
                    _ => ("$default", "abcdefghijklmnop.lambda-url.us-east-1.on.aws"),
                };
                json!({
                    "version": "2.0",
                    "routeKey": route,
                    "rawPath": path,
                    "rawQueryString": self.query,
                    "headers": headers,
                    "requestContext": {
                        "accountId": "123456789012",
                        "apiId": "a1b2c3d4e5",
                        "domainName": domain,
                        "domainPrefix": domain.split('.').next().unwrap(),
                        "http": {
                            "method": self.method,
                            "path": path,
                            "protocol": "HTTP/1.1",
                            "sourceIp": source_ip,
                            "userAgent": "Qase"
                        },
                        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                        "routeKey": route,
                        "stage": self.stage.as_deref().unwrap_or("$default"),
                        "time": "21/Apr/2022:09:16:03 +0000",
                        "timeEpoch": 1_650_532_563_000_i64
                    },
                    "body": self.body,
                    "isBase64Encoded": self.base64
                })
            }
        }
    }

    /// The request the handler sees, converted exactly as in production.
    pub fn request(&self) -> Request {
        request_from_json(&self.event().to_string())
            .expect("the builder makes events lambda_http accepts")
    }
}

/// Sends `event` through the real handler.
pub async fn send<P: Publisher, Q: Parking>(
    app: &App<P, Q>,
    event: &EventBuilder,
) -> Response<Body> {
    lambda::handle(app, event.request()).await
}

/// The JSON body of a response.
pub fn json_body(response: &Response<Body>) -> Value {
    let bytes: &[u8] = response.body().as_ref();
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "response body is not JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// Everything a log subscriber wrote, shared with the test.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// Held for its whole run by every test of a binary that captures logs: tracing's callsite
/// interest is global, and a test logging on another thread while a capture starts can make
/// the capture miss events (seen in CI: 0 of 8 lines captured).
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Captures this thread's logs at `level` and above until the guard drops (use a
/// current-thread runtime so that every log of the test lands here).
pub fn capture_logs(
    level: lambda_http::tracing::Level,
) -> (Captured, lambda_http::tracing::dispatcher::DefaultGuard) {
    use lambda_http::tracing::subscriber::util::SubscriberInitExt as _;
    let logs = Captured::default();
    let writer = logs.clone();
    let collector = lambda_http::tracing::subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = collector.set_default();
    // Recompute every callsite's cached interest against the new collector.
    lambda_http::tracing::callsite::rebuild_interest_cache();
    (logs, guard)
}

/// Converts a Lambda event, as JSON, into a request as the runtime loop does: `lambda_http`'s
/// conversion, after `lambda::keep_repeated_secret`.
pub fn request_from_json(event: &str) -> Result<Request, serde_json::Error> {
    let mut event: lambda_http::request::LambdaRequest = serde_json::from_str(event)?;
    lambda::keep_repeated_secret(&mut event);
    Ok(event.into())
}
