//! qase-defect-fanout: an AWS Lambda that receives Qase webhooks through API Gateway (or a
//! function URL) and publishes each one to SNS topics with routing attributes: the body byte
//! for byte on the events topic, a short text on the notifications topic.
//!
//! Crate map, in the order a webhook goes through it (each file says what lives in it and
//! what it may touch):
//! - [`lambda`]: API Gateway events in; the handler (admit → parse → enrich → plan → publish);
//!   one outcome, whence the response, the log line and the metrics; the runtime loop.
//! - [`auth`]: the webhook secret, the Qase API token, and the source-address check;
//!   [`rotation`]: the secrets kept current through a rotation.
//! - [`qase`]: Qase's wire format (envelope, event names, defect payloads, the API's defect);
//!   no HTTP, no secrets.
//! - [`enrichment`]: which defect events are looked up in the Qase API, the budget, the
//!   circuit breaker; [`qase_api`]: the Qase API client, the only code that talks to Qase.
//! - [`fanout`]: the plan: every message one webhook becomes (pure); [`filter`]: SNS filter
//!   policies, evaluated for the chat topic.
//! - [`summary`]: the subject and the text people read; [`message`]: what is published and the
//!   AWS limits on it, as plain data.
//! - [`publisher`]: the [`publisher::Publisher`] and [`publisher::Parking`] ports and their
//!   errors; [`parking`]: what the parking queue keeps when the events topic refuses; [`aws`]:
//!   the only code with AWS SDK types (TLS, SNS, SQS, Secrets Manager).
//! - [`metrics`]: one CloudWatch EMF document per request.
//! - [`config`]: the only reader of the environment; typed, checked once at cold start.
//!
//! `main.rs` only wires these together.

pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod backfill;
pub mod config;
pub mod enrichment;
pub mod fanout;
pub mod filter;
pub mod lambda;
pub mod message;
pub mod metrics;
pub mod parking;
pub mod publisher;
pub mod qase;
pub mod qase_api;
pub mod rotation;
pub mod summary;
