//! The AWS adapters: the only code in the crate that uses AWS SDK types (feature `aws`, on by
//! default; off, the pure core builds without the SDK, e.g. for fuzzing).
//!
//! - [`sdk_config`]: the one SDK configuration every client is built from (credentials,
//!   endpoints, TLS, timeouts, retries), from [`crate::config::AwsEnvironment`].
//! - [`tls`]: the HTTPS client and its trust roots.
//! - [`sns`]: the SNS [`crate::publisher::Publisher`].
//! - [`sqs`]: the parking queue, [`crate::publisher::Parking`].
//! - [`secrets_manager`]: the webhook secret from Secrets Manager, at cold start.

pub mod secrets_manager;
pub mod sns;
pub mod sqs;
pub mod tls;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sns::config::{Credentials, SharedCredentialsProvider, SharedHttpClient};
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use rustls::pki_types::CertificateDer;

use crate::config::{AwsCredentials, AwsEnvironment, ENV_ENDPOINT_URL_PREFIX};

/// Connect timeout for one attempt at reaching SNS.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Budget for one attempt (connect, send, read the answer).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(2500);
/// Budget for the whole publish, retries and back-off included. Well under Qase's 15 s.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(7);
/// Attempts per publish, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// The `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` values, the only service settings
/// the function takes from its environment (it has no AWS profile files). The SDK asks for
/// them by service when it builds each client: `AWS_ENDPOINT_URL_SNS`, then
/// `AWS_ENDPOINT_URL`. Holds nothing else, so its `Debug` output is safe to log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointUrls(pub BTreeMap<String, String>);

impl EndpointUrls {
    /// The URL for the service the SDK calls `service_id` (e.g. `SNS`, `Secrets Manager`).
    pub fn for_service(&self, service_id: &str) -> Option<&str> {
        let specific = format!(
            "{ENV_ENDPOINT_URL_PREFIX}_{}",
            service_id.to_ascii_uppercase().replace(' ', "_")
        );
        self.0
            .get(&specific)
            .or_else(|| self.0.get(ENV_ENDPOINT_URL_PREFIX))
            .map(String::as_str)
    }
}

impl LoadServiceConfig for EndpointUrls {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.env() != ENV_ENDPOINT_URL_PREFIX {
            return None;
        }
        self.for_service(key.service_id()).map(str::to_owned)
    }
}

/// Static credentials, as Lambda provides them in the environment for the life of the
/// execution environment.
pub fn credentials(from_env: &AwsCredentials) -> Credentials {
    Credentials::new(
        &from_env.access_key_id,
        &from_env.secret_access_key,
        from_env.session_token.clone(),
        None,
        "environment",
    )
}

/// The configuration every AWS client of the function is built from: `credentials`,
/// `endpoints`, the `http` client, and this crate's timeouts and retries (the constants
/// above). The region is the client's own (each resource's ARN says it).
///
/// Built directly rather than through `aws_config::defaults().load()`: the default chain
/// reads profile files and links STS, SSO and IMDS clients, none of which a Lambda function
/// uses (its credentials are in the environment), and `make bench` measured them in cold
/// start and package size.
pub fn sdk_config(
    http: SharedHttpClient,
    credentials: Credentials,
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

/// What both binaries build first from `environment`: the SDK configuration (its HTTPS client
/// trusting `AWS_CA_BUNDLE`'s roots besides the Amazon ones), and those extra roots, for the
/// Qase API client. The bundle is read once.
pub fn from_environment(
    environment: AwsEnvironment,
) -> Result<(SdkConfig, Vec<CertificateDer<'static>>), tls::CaBundleError> {
    let roots = (environment.ca_bundle.as_deref())
        .map(tls::read_ca_bundle)
        .transpose()?;
    let sdk = sdk_config(
        tls::https_client(roots.as_ref()),
        credentials(&environment.credentials),
        EndpointUrls(environment.endpoint_urls),
    );
    Ok((
        sdk,
        roots.map(tls::CaBundle::into_certs).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(pairs: &[(&str, &str)]) -> EndpointUrls {
        EndpointUrls(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_service_specific_endpoint_wins_over_the_global_one() {
        let only_global = urls(&[("AWS_ENDPOINT_URL", "http://x")]);
        let urls = urls(&[
            ("AWS_ENDPOINT_URL", "http://global"),
            ("AWS_ENDPOINT_URL_SNS", "http://sns"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://sm"),
        ]);
        assert_eq!(urls.for_service("SNS"), Some("http://sns"));
        assert_eq!(urls.for_service("Secrets Manager"), Some("http://sm"));
        assert_eq!(urls.for_service("SQS"), Some("http://global"));
        assert_eq!(EndpointUrls::default().for_service("SNS"), None);
        assert_eq!(only_global.for_service("SNS"), Some("http://x"));
    }
}
