//! Typed configuration, read from the environment once at cold start: the only code in the
//! crate that reads the environment.
//!
//! Every problem is reported with the name of the variable to fix, so a misconfigured
//! function fails its init with a clear message instead of failing requests later. By what it
//! reads: the function's and the backfill's [`Config`]s and the allowed sources here;
//! [`topics`]; [`secrets`] (the webhook secret); [`qase_api`] (enrichment); [`aws`] (the AWS
//! SDK's own variables the function honours: credentials, `AWS_ENDPOINT_URL[_<SERVICE>]`,
//! `AWS_CA_BUNDLE`); [`logging`]; [`arn`] parses the ARNs they name. Nothing here logs, and no
//! error names a secret's value.

pub mod arn;
pub mod aws;
pub mod logging;
pub mod qase_api;
pub mod secrets;
pub mod topics;

use std::collections::BTreeMap;

use ipnet::IpNet;

pub use arn::{SecretArn, TopicArn};
pub use aws::{
    AwsCredentials, AwsEnvironment, ENV_ACCESS_KEY_ID, ENV_CA_BUNDLE, ENV_ENDPOINT_URL_PREFIX,
    ENV_SECRET_ACCESS_KEY, ENV_SESSION_TOKEN,
};
pub use logging::{ENV_LOG_FORMAT, ENV_LOG_LEVEL, ENV_RUST_LOG, LogConfig};
pub use qase_api::{
    DEFAULT_QASE_API_URL, ENV_QASE_API_TOKEN, ENV_QASE_API_TOKEN_ARN, ENV_QASE_API_URL,
    QaseApiConfig,
};
pub use secrets::{ENV_SECRET, ENV_SECRET_ARN, ENV_SECRET_DISABLED, ENV_SECRET_PREVIOUS, Sourced};
pub use topics::{
    ENV_CHAT_FILTER_POLICY, ENV_CHAT_TOPIC_ARN, ENV_NOTIFICATION_TOPIC_ARN, ENV_TOPIC_ARN,
    TopicConfig,
};

use crate::auth::{Secret, UnusableSecret};
use crate::filter::FilterPolicyError;

/// The Lambda function's name, as Lambda sets it: the `FunctionName` dimension of the metrics.
pub const ENV_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The `FunctionName` of the metrics when [`ENV_FUNCTION_NAME`] is unset (run by hand).
pub const DEFAULT_FUNCTION_NAME: &str = "qase-defect-fanout";
/// Comma-separated addresses or CIDR blocks allowed to call; unset or empty = anyone.
pub const ENV_ALLOWED_SOURCE_IPS: &str = "ALLOWED_SOURCE_IPS";
/// The URL of the parking queue (SQS), in the events topic's region: where a webhook the
/// events topic refuses for a while is kept, and whence the delivery handler publishes it
/// (`crate::parking`). Unset: such a webhook is answered `5xx`, as Qase then loses it.
pub const ENV_PARKING_QUEUE_URL: &str = "PARKING_QUEUE_URL";

/// A configuration value is missing or malformed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable is set to something we cannot use.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The environment variable to fix.
        name: &'static str,
        /// What is wrong with its value (never the value itself, which may be secret).
        reason: &'static str,
    },
    /// A filter policy the function cannot evaluate.
    #[error("{name} is invalid")]
    FilterPolicy {
        /// The environment variable to fix.
        name: &'static str,
        /// What is wrong with it.
        #[source]
        source: FilterPolicyError,
    },
    /// A secret or token cannot be used (blank, too short, not a header value).
    #[error("{name} is invalid")]
    Unusable {
        /// The environment variable to fix.
        name: &'static str,
        /// What is wrong with it (never the value).
        #[source]
        source: UnusableSecret,
    },
}

impl ConfigError {
    /// `name` is set to something we cannot use, because `reason`.
    pub(crate) fn invalid(name: &'static str, reason: &'static str) -> Self {
        Self::Invalid { name, reason }
    }
}

/// Everything the function needs, checked once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The topics to publish to.
    pub topics: TopicConfig,
    /// The expected `X-Qase-Secret`; `None` when checking is explicitly disabled.
    pub secret: Option<Sourced<Secret>>,
    /// The previous secret, accepted too while Qase is switched over (value source only).
    pub previous_secret: Option<Secret>,
    /// The source addresses allowed to call; `None` means any.
    pub allowed_sources: Option<Vec<IpNet>>,
    /// The Qase API, when a token is configured (enrichment on); `None`: enrichment off.
    pub qase_api: Option<QaseApiConfig>,
    /// The function's name, for the metrics.
    pub function_name: String,
    /// Credentials, endpoints and trust roots for the AWS clients.
    pub aws: AwsEnvironment,
    /// [`ENV_PARKING_QUEUE_URL`].
    pub parking_queue: Option<String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(process_vars())
    }

    /// Reads configuration from `vars` (name, value), so tests need not touch the real
    /// environment. Empty values count as unset.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars = Vars::new(vars);
        Ok(Self {
            topics: topics::from_vars(&vars)?,
            secret: secrets::secret(&vars)?,
            previous_secret: secrets::previous_secret(&vars)?,
            allowed_sources: vars
                .get(ENV_ALLOWED_SOURCE_IPS)
                .map(parse_sources)
                .transpose()?
                .filter(|nets| !nets.is_empty()),
            qase_api: QaseApiConfig::from_vars(&vars)?,
            function_name: vars
                .get(ENV_FUNCTION_NAME)
                .unwrap_or(DEFAULT_FUNCTION_NAME)
                .to_owned(),
            aws: AwsEnvironment::from_vars(&vars)?,
            parking_queue: vars
                .get(ENV_PARKING_QUEUE_URL)
                .map(parse_queue_url)
                .transpose()?,
        })
    }
}

/// What `qase-backfill` needs, read by the same code from the same variables as the function:
/// the topics, the Qase API (a token is required here), and the AWS SDK's settings.
#[derive(Debug, Clone)]
pub struct BackfillConfig {
    /// The topics to publish to.
    pub topics: TopicConfig,
    /// The Qase API to list the defects with.
    pub qase_api: QaseApiConfig,
    /// Credentials, endpoints and trust roots for the AWS clients.
    pub aws: AwsEnvironment,
}

impl BackfillConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(process_vars())
    }

    /// Reads configuration from `vars` (name, value); empty values count as unset.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars = Vars::new(vars);
        Ok(Self {
            topics: topics::from_vars(&vars)?,
            qase_api: QaseApiConfig::from_vars(&vars)?.ok_or(ConfigError::Missing(
                "QASE_API_TOKEN (or QASE_API_TOKEN_ARN)",
            ))?,
            aws: AwsEnvironment::from_vars(&vars)?,
        })
    }
}

/// The variables, by name; empty values count as unset.
pub(crate) struct Vars(BTreeMap<String, String>);

impl Vars {
    fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(
            vars.into_iter()
                .filter(|(_, value)| !value.is_empty())
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

/// The process environment, but for variables whose name or value is not UTF-8: those are not
/// ours, and are skipped rather than read with a panic.
fn process_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
}

/// `3.141.66.247, 10.0.0.0/8 2001:db8::/32`: addresses (a host each) or CIDR blocks,
/// separated by commas or spaces.
fn parse_sources(list: &str) -> Result<Vec<IpNet>, ConfigError> {
    list.split([',', ' ', '\n', '\t'])
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::invalid(
                        ENV_ALLOWED_SOURCE_IPS,
                        "expected IP addresses or CIDR blocks separated by commas",
                    )
                })
        })
        .collect()
}

/// An SQS queue URL: `https://` (or `http://`, for a local emulator) and a path.
fn parse_queue_url(value: &str) -> Result<String, ConfigError> {
    let invalid = || {
        ConfigError::invalid(
            ENV_PARKING_QUEUE_URL,
            "expected the queue's URL, https://sqs.<region>.amazonaws.com/<account>/<name>",
        )
    };
    let url = url::Url::parse(value).map_err(|_| invalid())?;
    let named = url
        .path_segments()
        .is_some_and(|mut s| s.any(|s| !s.is_empty()));
    if !matches!(url.scheme(), "https" | "http") || !named {
        return Err(invalid());
    }
    Ok(value.to_owned())
}

/// The configuration the tests of this module and its children read.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Config, ConfigError, ENV_ACCESS_KEY_ID, ENV_SECRET_ACCESS_KEY};

    pub const ARN: &str = "arn:aws:sns:eu-west-1:123456789012:qase-defects";
    pub const SECRET: &str = "s3cr3t-s3cr3t-42";

    /// Credentials Lambda always provides, plus `vars`.
    pub fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let lambda = [
            (ENV_ACCESS_KEY_ID, "AKIDEXAMPLE"),
            (ENV_SECRET_ACCESS_KEY, "wJalr"),
        ];
        Config::from_vars(
            lambda
                .iter()
                .chain(vars)
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{ARN, SECRET, config};
    use super::*;

    #[test]
    fn reads_topic_and_secret() {
        let c = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)]).unwrap();
        assert_eq!(c.topics.events.as_str(), ARN);
        assert_eq!(c.topics.events.region(), "eu-west-1");
        assert!(!c.topics.events.is_fifo());
        let Some(Sourced::Value(secret)) = c.secret else {
            panic!("{:?}", c.secret)
        };
        assert!(secret.matches(SECRET.as_bytes()));
    }
    #[test]
    fn names_the_missing_variable() {
        assert_eq!(
            config(&[(ENV_SECRET, SECRET)]).unwrap_err(),
            ConfigError::Missing(ENV_TOPIC_ARN)
        );
        assert_eq!(
            config(&[(ENV_TOPIC_ARN, ARN)]).unwrap_err(),
            ConfigError::Missing(ENV_SECRET)
        );
        assert_eq!(
            config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, "")]).unwrap_err(),
            ConfigError::Missing(ENV_SECRET)
        );
    }
    #[test]
    fn reads_allowed_sources_as_addresses_and_blocks() {
        let c = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (
                ENV_ALLOWED_SOURCE_IPS,
                "3.141.66.247, 10.0.0.0/8 2001:db8::/32",
            ),
        ])
        .unwrap();
        let nets: Vec<String> = c
            .allowed_sources
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["3.141.66.247/32", "10.0.0.0/8", "2001:db8::/32"]);
        let open = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (ENV_ALLOWED_SOURCE_IPS, " , "),
        ]);
        assert_eq!(open.unwrap().allowed_sources, None, "empty means anyone");
        let err = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (ENV_ALLOWED_SOURCE_IPS, "3.141.66.300"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with(ENV_ALLOWED_SOURCE_IPS), "{err}");
    }
}
