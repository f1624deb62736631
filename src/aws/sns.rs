//! The SNS adapter: [`SnsPublisher`] publishes one [`Outbound`] to one topic with the AWS SDK
//! and sorts the SDK's failures into [`PublishError`]s.

use aws_config::{Region, SdkConfig};
use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish::PublishError as SdkPublishError;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::config::{TopicArn, TopicConfig};
use crate::fanout::{Companions, Topics};
use crate::message::Outbound;
use crate::publisher::{Cause, PublishError, Publisher};

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
    pub fn new(client: aws_sdk_sns::Client, topic_arn: &str) -> Self {
        Self {
            client,
            topic_arn: topic_arn.to_owned(),
        }
    }
}

/// A publisher for each configured topic, the clients built once from `config`; topics in
/// the events topic's region share its client.
pub fn publishers(config: &SdkConfig, topics: &TopicConfig) -> Topics<SnsPublisher> {
    let events = SnsPublisher::from_config(config, &topics.events);
    let other = |topic: &Option<TopicArn>| (topic.as_ref()).map(|t| events.for_topic(config, t));
    let companions = Companions {
        notification: other(&topics.companions.notification),
        chat: other(&topics.companions.chat),
    };
    Topics {
        fifo_events: topics.fifo_events,
        companions,
        chat_filter: topics.chat_filter.clone(),
        events,
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

/// Sorts an SDK failure by the SDK's own typed variants: what went wrong, and whether
/// retrying may help.
fn classify(err: SdkError<SdkPublishError>) -> PublishError {
    use PublishError as P;
    use SdkPublishError as Sns;
    let kind: fn(Cause) -> PublishError = match &err {
        SdkError::ServiceError(service) => match service.err() {
            Sns::KmsThrottlingException(_) => P::Throttled,
            Sns::KmsDisabledException(_) => P::KmsDisabled,
            Sns::KmsNotFoundException(_) => P::KmsNotFound,
            Sns::KmsAccessDeniedException(_) => P::KmsAccessDenied,
            Sns::KmsInvalidStateException(_) => P::KmsInvalidState,
            Sns::KmsOptInRequired(_) => P::KmsOptInRequired,
            Sns::InternalErrorException(_) => P::Unavailable,
            // SNS's own throttling ("Throttling", 400) has no variant of its own in the
            // model: it is known by the codes the SDK's retry classifier treats as throttling.
            unmodeled
                if service.raw().status().as_u16() == 429
                    || unmodeled
                        .code()
                        .is_some_and(|code| THROTTLING_ERRORS.contains(&code)) =>
            {
                P::Throttled
            }
            _ if service.raw().status().is_server_error() => P::Unavailable,
            _ => P::Rejected,
        },
        // Timeouts, connection failures and unreadable answers: SNS may be fine a moment later.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            P::Unavailable
        }
        // Construction failures are ours; retrying the same request will not help.
        _ => P::Rejected,
    };
    kind(boxed(err))
}

/// Keeps the SDK's whole cause chain in one displayable error.
fn boxed(err: SdkError<SdkPublishError>) -> Cause {
    DisplayErrorContext(err).to_string().into()
}
