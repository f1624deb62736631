//! What we send to SNS, as plain data, and the port that sends it.
//!
//! [`Outbound::for_webhook`] decides the message, its attributes, the subject and the FIFO
//! keys; it is pure and unit-tested with literals. Messages are published with
//! `MessageStructure=json`: email subscribers get the [`crate::summary`] text, every other
//! protocol (SQS, Lambda, HTTP/S, Firehose) the request body byte for byte. [`Publisher`] is the one-method port the
//! handler depends on; [`SnsPublisher`] is its only production adapter and the only code in
//! the crate that touches AWS SDK types.

use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::summary;
use crate::webhook::Webhook;

/// Attribute: the full event name, e.g. `defect.created` (String, always present).
pub const ATTR_EVENT_NAME: &str = "event_name";
/// Attribute: the part of the event name before the dot, e.g. `defect` (String).
pub const ATTR_ENTITY: &str = "entity";
/// Attribute: the part of the event name after the dot, e.g. `created` (String).
pub const ATTR_ACTION: &str = "action";
/// Attribute: the Qase project code, e.g. `DEMO` (String).
pub const ATTR_PROJECT_CODE: &str = "project_code";
/// Attribute: `payload.id`, the id of the defect, case, run... (Number).
pub const ATTR_ENTITY_ID: &str = "entity_id";
/// Attribute: `payload.severity` when it is a string, e.g. `critical` (String).
pub const ATTR_SEVERITY: &str = "severity";
/// Attribute: who triggered the event; 0 for an automation token (Number).
pub const ATTR_TEAM_MEMBER_ID: &str = "team_member_id";

/// The most SNS accepts in one `Publish`: message plus attributes, 256 KiB.
pub const MAX_PUBLISH_BYTES: usize = 256 * 1024;
/// The longest string attribute value we send; longer values are omitted, not cut.
pub const MAX_ATTRIBUTE_CHARS: usize = 256;
/// `MessageGroupId` on FIFO topics when the webhook carries no usable project code.
pub const FALLBACK_MESSAGE_GROUP: &str = "qase";

/// The SNS data type of a message attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `String`: matched by string filter policies.
    String,
    /// `Number`: matched by numeric filter policies.
    Number,
}

impl DataType {
    /// The name SNS uses for this type.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::Number => "Number",
        }
    }
}

/// One message attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// One of the `ATTR_*` names.
    pub name: &'static str,
    /// Its SNS data type.
    pub data_type: DataType,
    /// Its value, as SNS carries it (numbers in decimal).
    pub value: String,
}

/// The FIFO-only publish parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoKeys {
    /// One ordered stream per Qase project.
    pub message_group_id: String,
    /// Hex SHA-256 of the body: a redelivered webhook is deduplicated by SNS.
    pub message_deduplication_id: String,
}

/// `MessageStructure` for every publish: `message` holds one text per protocol.
pub const MESSAGE_STRUCTURE: &str = "json";

/// Everything one `Publish` call carries, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound<'a> {
    /// The request body, exactly as received: what machines (the `default` key) receive.
    pub body: &'a str,
    /// The short text email subscribers receive (the `email` key).
    pub email: String,
    /// The `Message` parameter: `{"default": body, "email": email}` as JSON.
    pub message: String,
    /// A short ASCII summary for email subscribers.
    pub subject: String,
    /// The routing attributes; absent values are left out.
    pub attributes: Vec<Attribute>,
    /// Set when the topic is FIFO.
    pub fifo: Option<FifoKeys>,
}

/// The message would not fit in one SNS publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("message and attributes take {size} bytes; SNS accepts at most {limit}")]
pub struct TooLarge {
    /// The bytes the publish would take.
    pub size: usize,
    /// [`MAX_PUBLISH_BYTES`].
    pub limit: usize,
}

impl<'a> Outbound<'a> {
    /// Builds the publish for `webhook`, whose raw body is `body`.
    pub fn for_webhook(webhook: &Webhook, body: &'a str, fifo: bool) -> Result<Self, TooLarge> {
        let name = &webhook.event_name;
        let mut attributes = vec![
            Attribute::string(ATTR_EVENT_NAME, name.as_str()),
            Attribute::string(ATTR_ENTITY, name.entity()),
            Attribute::string(ATTR_ACTION, name.action()),
        ];
        let project_code = webhook.project_code.as_deref().filter(|s| is_clean(s));
        attributes.extend(project_code.map(|v| Attribute::string(ATTR_PROJECT_CODE, v)));
        attributes.extend(
            webhook
                .payload
                .id
                .map(|v| Attribute::number(ATTR_ENTITY_ID, v)),
        );
        let severity = webhook.payload.severity.as_deref().filter(|s| is_clean(s));
        attributes.extend(severity.map(|v| Attribute::string(ATTR_SEVERITY, v)));
        let member = webhook.team_member_id;
        attributes.extend(member.map(|v| Attribute::number(ATTR_TEAM_MEMBER_ID, v)));

        let email = summary::email(webhook);
        let message = serde_json::json!({ "default": body, "email": email }).to_string();
        let outbound = Self {
            body,
            email,
            message,
            subject: summary::subject(webhook),
            attributes,
            fifo: fifo.then(|| FifoKeys {
                message_group_id: message_group_id(project_code),
                message_deduplication_id: sha256_hex(body),
            }),
        };
        let size = outbound.size();
        if size > MAX_PUBLISH_BYTES {
            return Err(TooLarge {
                size,
                limit: MAX_PUBLISH_BYTES,
            });
        }
        Ok(outbound)
    }

    /// The bytes SNS counts against [`MAX_PUBLISH_BYTES`]: the message (JSON-escaped body and
    /// email text together) and, for every
    /// attribute, its name, data type and value.
    #[must_use]
    pub fn size(&self) -> usize {
        let attributes: usize = self
            .attributes
            .iter()
            .map(|a| a.name.len() + a.data_type.as_str().len() + a.value.len())
            .sum();
        self.message.len() + attributes
    }

    /// The value of the attribute called `name`, if it is set.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }
}

impl Attribute {
    fn string(name: &'static str, value: &str) -> Self {
        Self {
            name,
            data_type: DataType::String,
            value: value.to_owned(),
        }
    }

    fn number(name: &'static str, value: impl std::fmt::Display) -> Self {
        Self {
            name,
            data_type: DataType::Number,
            value: value.to_string(),
        }
    }
}

/// Whether a string may be sent as an attribute value: non-empty, not too long, and free of
/// control characters (SNS rejects some, and none belong in a routing value).
fn is_clean(value: &str) -> bool {
    !value.is_empty()
        && value.chars().count() <= MAX_ATTRIBUTE_CHARS
        && !value.chars().any(char::is_control)
}

fn message_group_id(project_code: Option<&str>) -> String {
    // SNS allows 1-128 characters from ASCII letters, digits and punctuation.
    project_code
        .filter(|code| code.len() <= 128 && code.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or(FALLBACK_MESSAGE_GROUP)
        .to_owned()
}

fn sha256_hex(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// Why SNS did not take a message. Whether it is worth retrying decides the HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// SNS (or KMS behind it) throttled us; retrying later will work.
    #[error("sns throttled the publish")]
    Throttled(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// SNS could not be reached in time or failed on its side; retrying may work.
    #[error("sns was unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// SNS refused the publish (permissions, missing topic, invalid parameter).
    #[error("sns rejected the publish")]
    Rejected(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// SNS answered success without a message id, so delivery cannot be confirmed.
    #[error("sns answered without a message id")]
    NoMessageId,
}

impl PublishError {
    /// Whether the same request may succeed if Qase (or anyone) sends it again.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled(_) | Self::Unavailable(_))
    }
}

/// The port: publish one message, answer its SNS message id.
pub trait Publisher {
    /// Publishes `outbound` once (the adapter may retry internally within its budget).
    fn publish(
        &self,
        outbound: &Outbound<'_>,
    ) -> impl Future<Output = Result<String, PublishError>> + Send;
}

/// Connect timeout for one attempt at reaching SNS.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Budget for one attempt (connect, send, read the answer).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(2500);
/// Budget for the whole publish, retries and back-off included. Well under Qase's 15 s.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(7);
/// Attempts per publish, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

#[cfg(feature = "aws")]
pub use adapter::{
    AWS_TRUST_ROOTS, CaBundleError, EndpointUrls, SnsPublisher, https_client, read_ca_bundle,
    sdk_config,
};

/// The SNS adapter: the only code here that touches AWS SDK types (feature `aws`, on by
/// default; off, the crate's pure core builds without the SDK, e.g. for fuzzing).
#[cfg(feature = "aws")]
mod adapter {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::time::Duration;

    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_sdk_sns::config::{ProvideCredentials, SharedCredentialsProvider};
    use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

    use aws_sdk_sns::config::SharedHttpClient;
    use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use aws_sdk_sns::operation::publish::PublishError as SdkPublishError;
    use aws_sdk_sns::types::MessageAttributeValue;
    use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::{
        ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, MAX_ATTEMPTS, MESSAGE_STRUCTURE, Outbound,
        PUBLISH_TIMEOUT, PublishError, Publisher,
    };
    use crate::config::TopicArn;

    /// The root certificates of Amazon Trust Services, which issue every AWS endpoint's
    /// certificate: the function's whole TLS trust store unless `AWS_CA_BUNDLE` adds to it.
    pub const AWS_TRUST_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

    /// The HTTPS client every AWS call uses: rustls with ring, verifying servers against
    /// [`AWS_TRUST_ROOTS`] plus `extra_pem` (the file named by `AWS_CA_BUNDLE`, if any).
    ///
    /// Not the SDK's default client, which loads and parses the whole system trust store
    /// (hundreds of certificates, milliseconds of cold start) to reach endpoints that only
    /// ever present Amazon Trust Services chains. Verification is the same rustls `WebPKI`
    /// check; only the set of trusted roots is smaller.
    #[must_use]
    pub fn https_client(extra_pem: Option<Vec<u8>>) -> SharedHttpClient {
        let mut trust = TrustStore::empty().with_native_roots(false);
        trust.add_pem_certificate(AWS_TRUST_ROOTS);
        if let Some(pem) = extra_pem {
            trust.add_pem_certificate(pem);
        }
        let tls = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .expect("a TLS context with only a trust store always builds");
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .tls_context(tls)
            .build_https()
    }

    /// Why the `AWS_CA_BUNDLE` file cannot be used.
    #[derive(Debug, thiserror::Error)]
    pub enum CaBundleError {
        /// The file cannot be read.
        #[error("AWS_CA_BUNDLE: cannot read {path}")]
        Unreadable {
            /// The file named.
            path: String,
            /// The I/O error.
            #[source]
            source: std::io::Error,
        },
        /// The file holds no PEM certificate, or one that is not a usable X.509 root.
        #[error("AWS_CA_BUNDLE: {path} is not a PEM file of root certificates: {reason}")]
        Invalid {
            /// The file named.
            path: String,
            /// What is wrong with it.
            reason: String,
        },
    }

    /// Reads the `AWS_CA_BUNDLE` file and checks, at cold start, that every certificate in it
    /// is a usable trust anchor: the SDK would otherwise fail on it only at the first request.
    pub fn read_ca_bundle(path: &Path) -> Result<Vec<u8>, CaBundleError> {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| CaBundleError::Unreadable {
            path: shown.clone(),
            source,
        })?;
        let invalid = |reason: String| CaBundleError::Invalid {
            path: shown.clone(),
            reason,
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| invalid(format!("{e:?}")))?;
            roots.add(cert).map_err(|e| invalid(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(invalid("no CERTIFICATE section".to_owned()));
        }
        Ok(pem)
    }

    /// The `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` variables, the only service
    /// settings the function takes from its environment (it has no AWS profile files). The SDK
    /// asks for them by service when it builds each client: `AWS_ENDPOINT_URL_SNS`, then
    /// `AWS_ENDPOINT_URL`. Holds nothing else, so its `Debug` output is safe to log.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct EndpointUrls(BTreeMap<String, String>);

    impl EndpointUrls {
        /// Keeps the non-empty `AWS_ENDPOINT_URL*` variables of `vars`.
        pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
            Self(
                vars.into_iter()
                    .filter(|(name, value)| {
                        name.starts_with("AWS_ENDPOINT_URL") && !value.is_empty()
                    })
                    .collect(),
            )
        }

        /// Reads the process environment (variables that are not Unicode are skipped).
        #[must_use]
        pub fn from_env() -> Self {
            Self::from_vars(std::env::vars_os().filter_map(|(name, value)| {
                Some((name.into_string().ok()?, value.into_string().ok()?))
            }))
        }

        /// The URL for the service the SDK calls `service_id` (e.g. `SNS`, `Secrets Manager`).
        #[must_use]
        pub fn for_service(&self, service_id: &str) -> Option<&str> {
            let specific = format!(
                "AWS_ENDPOINT_URL_{}",
                service_id.to_ascii_uppercase().replace(' ', "_")
            );
            self.0
                .get(&specific)
                .or_else(|| self.0.get("AWS_ENDPOINT_URL"))
                .map(String::as_str)
        }
    }

    impl LoadServiceConfig for EndpointUrls {
        fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
            if key.env() != "AWS_ENDPOINT_URL" {
                return None;
            }
            self.for_service(key.service_id()).map(str::to_owned)
        }
    }

    /// The configuration every AWS client of the function is built from: `credentials`,
    /// `endpoints`, the `http` client, and this crate's timeouts and retries (the constants
    /// above). The region is the client's own (each resource's ARN says it).
    ///
    /// Built directly rather than through `aws_config::defaults().load()`: the default chain
    /// reads profile files and links STS, SSO and IMDS clients, none of which a Lambda
    /// function uses (its credentials are in the environment), and `make bench` measured
    /// them in cold start and package size.
    #[must_use]
    pub fn sdk_config(
        http: SharedHttpClient,
        credentials: impl ProvideCredentials + 'static,
        endpoints: EndpointUrls,
    ) -> SdkConfig {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(PUBLISH_TIMEOUT)
            .build();
        let retries = RetryConfig::standard()
            .with_max_attempts(MAX_ATTEMPTS)
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(1));
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .http_client(http)
            .service_config(endpoints)
            .timeout_config(timeouts)
            .retry_config(retries)
            .build()
    }

    /// Publishes to one SNS topic with the AWS SDK.
    #[derive(Debug, Clone)]
    pub struct SnsPublisher {
        client: aws_sdk_sns::Client,
        topic_arn: String,
    }

    impl SnsPublisher {
        /// Builds the client once from `config` (see [`sdk_config`]), in the topic's region.
        #[must_use]
        pub fn from_config(config: &SdkConfig, topic: &TopicArn) -> Self {
            let sns = aws_sdk_sns::config::Builder::from(config)
                .region(Region::new(topic.region().to_owned()))
                .build();
            Self::new(aws_sdk_sns::Client::from_conf(sns), topic.as_str())
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
                .message(&outbound.message)
                .message_structure(MESSAGE_STRUCTURE)
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
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(body: &str) -> Webhook {
        Webhook::parse(body).expect("test body is a valid webhook")
    }

    #[test]
    fn defect_created_gets_every_attribute_with_its_type() {
        let body = r#"{"event_name":"defect.created","payload":{"id":42,"title":"Login button does nothing","severity":"critical"},"team_member_id":0,"project_code":"DEMO"}"#;
        let out = Outbound::for_webhook(&webhook(body), body, false).unwrap();
        let got: Vec<_> = out
            .attributes
            .iter()
            .map(|a| (a.name, a.data_type, a.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (ATTR_EVENT_NAME, DataType::String, "defect.created"),
                (ATTR_ENTITY, DataType::String, "defect"),
                (ATTR_ACTION, DataType::String, "created"),
                (ATTR_PROJECT_CODE, DataType::String, "DEMO"),
                (ATTR_ENTITY_ID, DataType::Number, "42"),
                (ATTR_SEVERITY, DataType::String, "critical"),
                (ATTR_TEAM_MEMBER_ID, DataType::Number, "0"),
            ]
        );
        assert_eq!(out.body, body);
        assert_eq!(out.fifo, None);
    }

    #[test]
    fn omits_absent_empty_and_unclean_values_instead_of_sending_them_empty() {
        let body = r#"{"event":"defect.resolved","payload":{"id":"x","severity":"bad\u0000value"},"project_code":""}"#;
        let out = Outbound::for_webhook(&webhook(body), body, false).unwrap();
        let names: Vec<_> = out.attributes.iter().map(|a| a.name).collect();
        assert_eq!(names, [ATTR_EVENT_NAME, ATTR_ENTITY, ATTR_ACTION]);
    }

    #[test]
    fn message_structure_gives_machines_the_body_and_email_the_summary() {
        let body = "{\"event_name\":\"defect.created\",\n \"payload\":{\"id\":42,\"title\":\"Quote \\\" and é\"},\"project_code\":\"DEMO\"}";
        let out = Outbound::for_webhook(&webhook(body), body, false).unwrap();
        let structure: serde_json::Value = serde_json::from_str(&out.message).unwrap();
        assert_eq!(structure.as_object().unwrap().len(), 2, "{structure}");
        assert_eq!(structure["default"].as_str(), Some(body), "byte for byte");
        assert_eq!(structure["email"].as_str(), Some(out.email.as_str()));
        assert!(
            out.email.contains("Defect #42: Quote \" and é"),
            "{}",
            out.email
        );
        assert!(
            out.size() > out.body.len() + out.email.len(),
            "escaping is counted"
        );
    }

    #[test]
    fn fifo_groups_by_project_and_deduplicates_by_body_hash() {
        let body = r#"{"event_name":"defect.deleted","payload":{"id":1},"project_code":"DEMO"}"#;
        let out = Outbound::for_webhook(&webhook(body), body, true).unwrap();
        let fifo = out.fifo.unwrap();
        assert_eq!(fifo.message_group_id, "DEMO");
        assert_eq!(fifo.message_deduplication_id.len(), 64);
        assert_eq!(fifo.message_deduplication_id, sha256_hex(body));
        assert_ne!(
            fifo.message_deduplication_id,
            sha256_hex(&body.replace('1', "2"))
        );
        // Known vector: SHA-256 of "abc".
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn fifo_without_a_project_code_uses_the_fallback_group() {
        let body = r#"{"event":"defect.deleted","payload":{"id":1}}"#;
        let out = Outbound::for_webhook(&webhook(body), body, true).unwrap();
        assert_eq!(out.fifo.unwrap().message_group_id, FALLBACK_MESSAGE_GROUP);
    }

    #[test]
    fn refuses_a_message_that_with_its_attributes_exceeds_the_sns_limit() {
        let envelope = |pad: usize| {
            format!(
                r#"{{"event_name":"defect.created","payload":{{"id":1,"pad":"{}"}},"project_code":"DEMO"}}"#,
                "x".repeat(pad)
            )
        };
        let probe = envelope(0);
        let fixed = Outbound::for_webhook(&webhook(&probe), &probe, false)
            .unwrap()
            .size();
        let fits = envelope(MAX_PUBLISH_BYTES - fixed);
        let out = Outbound::for_webhook(&webhook(&fits), &fits, false).unwrap();
        assert_eq!(out.size(), MAX_PUBLISH_BYTES);
        let over = envelope(MAX_PUBLISH_BYTES - fixed + 1);
        let err = Outbound::for_webhook(&webhook(&over), &over, false).unwrap_err();
        assert_eq!(err.size, MAX_PUBLISH_BYTES + 1);
    }
}

#[cfg(all(test, feature = "aws"))]
mod trust_tests {
    use std::fmt::Write as _;

    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use sha2::{Digest, Sha256};

    use super::*;

    /// SHA-256 fingerprints published at <https://www.amazontrust.com/repository/>.
    const AMAZON_TRUST_SERVICES: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services G2
    ];

    fn scratch_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn the_compiled_in_roots_are_exactly_amazon_trust_services() {
        let fingerprints: Vec<String> = CertificateDer::pem_slice_iter(AWS_TRUST_ROOTS)
            .map(|cert| {
                Sha256::digest(cert.unwrap())
                    .iter()
                    .fold(String::new(), |mut s, b| {
                        write!(s, "{b:02x}").unwrap();
                        s
                    })
            })
            .collect();
        assert_eq!(fingerprints, AMAZON_TRUST_SERVICES);
    }

    fn vars(pairs: &[(&str, &str)]) -> EndpointUrls {
        EndpointUrls::from_vars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn a_service_specific_endpoint_wins_over_the_global_one() {
        let urls = vars(&[
            ("AWS_ENDPOINT_URL", "http://global"),
            ("AWS_ENDPOINT_URL_SNS", "http://sns"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://sm"),
        ]);
        assert_eq!(urls.for_service("SNS"), Some("http://sns"));
        assert_eq!(urls.for_service("Secrets Manager"), Some("http://sm"));
        assert_eq!(urls.for_service("SQS"), Some("http://global"));
        assert_eq!(vars(&[]).for_service("SNS"), None);
        assert_eq!(
            vars(&[("AWS_ENDPOINT_URL_SNS", "")]).for_service("SNS"),
            None,
            "empty means unset"
        );
    }

    #[test]
    fn endpoint_urls_keep_nothing_else_from_the_environment() {
        let urls = vars(&[
            ("AWS_SECRET_ACCESS_KEY", "do-not-keep"),
            ("QASE_WEBHOOK_SECRET", "do-not-keep"),
            ("AWS_ENDPOINT_URL", "http://x"),
        ]);
        assert_eq!(urls, vars(&[("AWS_ENDPOINT_URL", "http://x")]));
        assert!(!format!("{urls:?}").contains("do-not-keep"));
    }

    #[test]
    fn a_ca_bundle_of_root_certificates_is_read() {
        let path = scratch_file("bundle.pem", AWS_TRUST_ROOTS);
        let pem = read_ca_bundle(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(pem, AWS_TRUST_ROOTS);
    }

    #[test]
    fn an_unusable_ca_bundle_is_refused_at_cold_start_naming_the_variable() {
        let missing = read_ca_bundle(std::path::Path::new("/nonexistent/bundle.pem")).unwrap_err();
        assert!(
            matches!(missing, CaBundleError::Unreadable { .. }),
            "{missing}"
        );
        assert!(
            missing.to_string().starts_with("AWS_CA_BUNDLE: "),
            "{missing}"
        );

        let not_a_cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        for (name, contents) in [
            ("empty.pem", &b""[..]),
            ("text.pem", &b"just text\n"[..]),
            ("garbage.pem", &not_a_cert[..]),
        ] {
            let path = scratch_file(name, contents);
            let err = read_ca_bundle(&path).unwrap_err();
            std::fs::remove_file(&path).unwrap();
            assert!(
                matches!(err, CaBundleError::Invalid { .. }),
                "{name}: {err}"
            );
            assert!(
                err.to_string().starts_with("AWS_CA_BUNDLE: "),
                "{name}: {err}"
            );
        }
    }
}
