//! qase-defect-fanout: an AWS Lambda that receives Qase webhooks through API Gateway and
//! publishes each one, byte for byte, to an SNS topic with routing attributes.
//!
//! Crate map:
//! - [`config`]: typed configuration from the environment, checked once at cold start.
//! - [`webhook`]: Qase's wire format (envelope, event names, defect payloads, the secret).
//! - [`publish`]: what is sent to SNS, as plain data; the [`publish::Publisher`] port and its
//!   SNS adapter.
//! - [`secrets`]: the secret from AWS Secrets Manager, when configured so.
//! - [`summary`]: the subject and email text people read.
//! - [`handler`]: HTTP in, status and JSON out; the Lambda runtime loop.
//!
//! `main.rs` only wires these together.

pub mod config;
pub mod handler;
pub mod publish;
#[cfg(feature = "aws")]
pub mod secrets;
pub mod summary;
pub mod webhook;
