//! qase-defect-fanout: an AWS Lambda that receives Qase webhooks through API Gateway and
//! publishes each one, byte for byte, to an SNS topic with routing attributes.
//!
//! Crate map (each file says what lives in it and what it may touch):
//! - [`config`]: the only reader of the environment; typed, checked once at cold start.
//! - [`qase`]: Qase's wire format (envelope, event names, defect payloads, the API's defect);
//!   no HTTP, no secrets.
//! - [`auth`]: the webhook secret, the Qase API token, and the source-address check.
//! - [`message`]: what is published and the AWS limits on it, as plain data.
//! - [`summary`]: the subject and the text people read.
//! - [`publisher`]: the [`publisher::Publisher`] port and its error.
//! - [`metrics`]: one CloudWatch EMF document per request.
//! - [`enrichment`]: which defect events are looked up in the Qase API, the budget, the
//!   circuit breaker.
//! - [`qase_api`]: the Qase API client, the only code that talks to Qase.
//! - [`aws`]: the only code with AWS SDK types (TLS, SNS, Secrets Manager).
//! - [`lambda`]: API Gateway events in, status and JSON out; the runtime loop.
//!
//! `main.rs` only wires these together.

pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod enrichment;
pub mod lambda;
pub mod message;
pub mod metrics;
pub mod publisher;
pub mod qase;
pub mod qase_api;
pub mod summary;
