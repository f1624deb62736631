//! The SNS adapter: [`SnsPublisher`] publishes one [`Outbound`] to one topic with the AWS SDK
//! and sorts the SDK's failures into [`PublishError`]s.

use aws_config::{Region, SdkConfig};
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish::PublishError as SdkPublishError;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::config::TopicArn;
use crate::message::Outbound;
use crate::publisher::{PublishError, Publisher};

/// Publishes to one SNS topic with the AWS SDK.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

/// The region the client of `topic` must use: the one in its ARN.
fn region(topic: &TopicArn) -> Region {
    Region::new(topic.region().to_owned())
}

impl SnsPublisher {
    /// Builds the client once from `config` (see [`super::sdk_config`]), in the topic's region.
    #[must_use]
    pub fn from_config(config: &SdkConfig, topic: &TopicArn) -> Self {
        let sns = aws_sdk_sns::config::Builder::from(config)
            .region(region(topic))
            .build();
        Self::new(aws_sdk_sns::Client::from_conf(sns), topic.as_str())
    }

    /// A publisher to another `topic`: it shares this one's client (connection pool
    /// included) when the topic is in the same region, and gets its own from `config`
    /// otherwise.
    #[must_use]
    pub fn for_topic(&self, config: &SdkConfig, topic: &TopicArn) -> Self {
        if self.client.config().region() == Some(&region(topic)) {
            Self::new(self.client.clone(), topic.as_str())
        } else {
            Self::from_config(config, topic)
        }
    }

    /// Wraps an existing client.
    #[must_use]
    pub fn new(client: aws_sdk_sns::Client, topic_arn: &str) -> Self {
        Self {
            client,
            topic_arn: topic_arn.to_owned(),
        }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, outbound: &Outbound<'_>) -> Result<String, PublishError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(outbound.message.as_ref())
            .subject(&outbound.subject);
        for attribute in &outbound.attributes {
            let value = MessageAttributeValue::builder()
                .data_type(attribute.data_type.as_str())
                .string_value(&attribute.value)
                .build()
                .expect("data_type is always set");
            request = request.message_attributes(attribute.name, value);
        }
        if let Some(fifo) = &outbound.fifo {
            request = request
                .message_group_id(&fifo.message_group_id)
                .message_deduplication_id(&fifo.message_deduplication_id);
        }
        let output = request.send().await.map_err(classify)?;
        output.message_id.ok_or(PublishError::NoMessageId)
    }
}

/// Sorts an SDK failure into throttled, unavailable (retryable) or rejected.
fn classify(err: SdkError<SdkPublishError>) -> PublishError {
    const THROTTLING: &[&str] = &[
        "Throttled",
        "ThrottledException",
        "Throttling",
        "ThrottlingException",
        "KMSThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    ];
    let server_side = match &err {
        SdkError::ServiceError(e) => {
            if THROTTLING.contains(&e.err().code().unwrap_or_default())
                || e.raw().status().as_u16() == 429
            {
                return PublishError::Throttled(boxed(err));
            }
            e.raw().status().is_server_error()
                || matches!(e.err(), SdkPublishError::InternalErrorException(_))
        }
        // Timeouts, connection failures and unreadable answers: SNS may be fine a moment later.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        // Construction failures are ours; retrying the same request will not help.
        _ => false,
    };
    if server_side {
        PublishError::Unavailable(boxed(err))
    } else {
        PublishError::Rejected(boxed(err))
    }
}

/// Keeps the SDK's whole cause chain in one displayable error.
fn boxed(err: SdkError<SdkPublishError>) -> Box<dyn std::error::Error + Send + Sync> {
    DisplayErrorContext(err).to_string().into()
}
