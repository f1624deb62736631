//! The SQS adapter: [`SqsQueue`], the parking queue ([`crate::publisher::Parking`]).

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{Region, SdkConfig};
use aws_sdk_sqs::error::DisplayErrorContext;

use crate::config::TopicArn;
use crate::publisher::{Cause, Parking};

/// Budget for keeping one parked webhook, retries included: after the events topic's
/// ([`super::PUBLISH_TIMEOUT`]) and a lookup's, the answer still reaches Qase within its 15 s.
pub const PARK_TIMEOUT: Duration = Duration::from_secs(3);

/// The parking queue, by its URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`, in the region of the events topic (`topic`: the template creates
    /// both in one stack), its client built once from `config` with [`PARK_TIMEOUT`].
    pub fn from_config(config: &SdkConfig, topic: &TopicArn, url: &str) -> Self {
        let timeouts = (config.timeout_config())
            .map_or_else(TimeoutConfig::builder, TimeoutConfig::to_builder)
            .operation_timeout(PARK_TIMEOUT)
            .build();
        let sqs = aws_sdk_sqs::config::Builder::from(config)
            .region(Region::new(topic.region().to_owned()))
            .timeout_config(timeouts)
            .build();
        Self {
            client: aws_sdk_sqs::Client::from_conf(sqs),
            url: url.to_owned(),
        }
    }
}

impl Parking for SqsQueue {
    async fn park(&self, parked: &str) -> Result<String, Cause> {
        let sent = (self.client.send_message())
            .queue_url(&self.url)
            .message_body(parked)
            .send()
            .await
            .map_err(|e| Cause::from(DisplayErrorContext(e).to_string()))?;
        sent.message_id
            .ok_or_else(|| "sqs answered without a message id".into())
    }

    async fn retry_in(&self, receipt: &str, delay: Duration) -> Result<(), Cause> {
        let seconds = i32::try_from(delay.as_secs()).unwrap_or(i32::MAX);
        (self.client.change_message_visibility())
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| Cause::from(DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
