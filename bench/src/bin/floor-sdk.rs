//! The SDK floor for `make bench`: the function's own AWS SDK client configuration (its HTTPS
//! client and trust roots, credentials, endpoints, timeouts and retries: `aws::sdk_config`) and
//! its SNS adapter, publishing the same message per webhook as `floor-publish` does (the body
//! with the routing attributes and subject to `TOPIC_ARN`, the short text to
//! `NOTIFICATION_TOPIC_ARN` concurrently when that is set), and nothing else: no parsing beyond
//! the routing fields, no plan, no logging, no metrics.
//!
//! Between `floor-publish` (no SDK) and the function it splits what aws-sdk-sns costs from what
//! the function's own code adds. Built with the function's release profile.

use std::borrow::Cow;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::aws::{self, EndpointUrls, tls};
use qase_defect_fanout::config::{AwsCredentials, TopicArn};
use qase_defect_fanout::message::{Attribute, DataType, Outbound};
use qase_defect_fanout::publisher::Publisher as _;
use serde_json::{Value, json};

#[path = "../floor/mod.rs"]
mod floor;
use floor::{ApiEvent, Routing, Webhook, env};

struct Floor {
    secret: String,
    events: SnsPublisher,
    notifications: Option<SnsPublisher>,
}

impl Floor {
    fn from_env() -> Self {
        let topic = |name| env(name).map(|arn| TopicArn::parse(&arn).expect("a topic ARN"));
        let roots = env("AWS_CA_BUNDLE")
            .map(|path| tls::read_ca_bundle(path.as_ref()).expect("a usable AWS_CA_BUNDLE"));
        let credentials = AwsCredentials {
            access_key_id: env("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID"),
            secret_access_key: env("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY"),
            session_token: env("AWS_SESSION_TOKEN"),
        };
        let endpoints = std::env::vars()
            .filter(|(name, value)| name.starts_with("AWS_ENDPOINT_URL") && !value.is_empty())
            .collect();
        let sdk = aws::sdk_config(
            tls::https_client(roots.as_ref()),
            aws::credentials(&credentials),
            EndpointUrls(endpoints),
        );
        let events = SnsPublisher::from_config(&sdk, &topic("TOPIC_ARN").expect("TOPIC_ARN"));
        let notifications = topic("NOTIFICATION_TOPIC_ARN").map(|t| events.for_topic(&sdk, &t));
        Self {
            secret: env("QASE_WEBHOOK_SECRET").unwrap_or_default(),
            events,
            notifications,
        }
    }

    async fn handle(&self, event: LambdaEvent<ApiEvent>) -> Result<Value, Error> {
        let event = event.payload;
        if event.headers.get("x-qase-secret") != Some(&self.secret) {
            return Ok(json!({"statusCode": 401, "body": "{\"error\":\"unauthorized\"}"}));
        }
        let webhook: Webhook = serde_json::from_str(&event.body)?;
        let routing = Routing::of(&webhook);
        let attributes: Vec<Attribute> = (routing.attributes.iter())
            .map(|(name, kind, value)| Attribute {
                name,
                data_type: if *kind == "Number" {
                    DataType::Number
                } else {
                    DataType::String
                },
                value: value.clone(),
            })
            .collect();
        let message = |text: &str| Outbound {
            message: Cow::Owned(text.to_owned()),
            subject: routing.subject.clone(),
            attributes: attributes.clone(),
            fifo: None,
        };
        let event_message = message(&event.body);
        let events = self.events.publish(&event_message);
        let (message_id, notification_id) = match &self.notifications {
            Some(topic) => {
                let text = message(&routing.text);
                let (a, b) = tokio::join!(events, topic.publish(&text));
                (a?, Some(b?))
            }
            None => (events.await?, None),
        };
        let mut body = json!({ "message_id": message_id });
        if let Some(id) = notification_id {
            body["notification_id"] = json!(id);
        }
        Ok(json!({"statusCode": 202, "body": body.to_string()}))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let floor = &Floor::from_env();
    lambda_runtime::run(service_fn(move |event| floor.handle(event))).await
}
