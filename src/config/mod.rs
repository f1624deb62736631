//! Typed configuration, read from the environment once at cold start: the only code in the
//! crate that reads the environment.
//!
//! Every problem is reported with the name of the variable to fix, so a misconfigured
//! function fails its init with a clear message instead of failing requests later. By what it
//! reads: the topics and the webhook secret here; [`qase_api`] (enrichment); [`aws`] (the AWS
//! SDK's own variables the function honours: credentials, `AWS_ENDPOINT_URL[_<SERVICE>]`,
//! `AWS_CA_BUNDLE`); [`logging`]; [`arn`] parses the ARNs they name. Nothing here logs, and no
//! error names a secret's value.

pub mod arn;
pub mod aws;
pub mod logging;
pub mod qase_api;
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
pub use topics::{
    ENV_CHAT_FILTER_POLICY, ENV_CHAT_TOPIC_ARN, ENV_NOTIFICATION_TOPIC_ARN, ENV_TOPIC_ARN,
    TopicConfig,
};

use crate::auth::{Check, Secret, UnusableSecret};
use crate::filter::FilterPolicyError;

/// The value Qase sends in `X-Qase-Secret` (required unless explicitly disabled).
pub const ENV_SECRET: &str = "QASE_WEBHOOK_SECRET";
/// The secret Qase had before [`ENV_SECRET`], accepted too while Qase is switched over
/// (optional; only with [`ENV_SECRET`]).
pub const ENV_SECRET_PREVIOUS: &str = "QASE_WEBHOOK_SECRET_PREVIOUS";
/// The ARN of a Secrets Manager secret holding the value instead of [`ENV_SECRET`]: its
/// `AWSCURRENT` and `AWSPREVIOUS` versions are accepted, read at cold start and again when a
/// request carries neither.
pub const ENV_SECRET_ARN: &str = "QASE_WEBHOOK_SECRET_ARN";
/// `true` to accept webhooks without a secret; anything but `true`/`false` is an error.
pub const ENV_SECRET_DISABLED: &str = "QASE_WEBHOOK_SECRET_DISABLED";
/// The Lambda function's name, as Lambda sets it: the `FunctionName` dimension of the metrics.
pub const ENV_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The `FunctionName` of the metrics when [`ENV_FUNCTION_NAME`] is unset (run by hand).
pub const DEFAULT_FUNCTION_NAME: &str = "qase-defect-fanout";
/// Comma-separated addresses or CIDR blocks allowed to call; unset or empty = anyone.
pub const ENV_ALLOWED_SOURCE_IPS: &str = "ALLOWED_SOURCE_IPS";

/// A configuration value is missing or malformed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable is set to something we cannot use.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with its value (never the value itself, which may be secret).
        reason: &'static str,
    },
    /// A filter policy the function cannot evaluate.
    #[error("{name} is invalid")]
    FilterPolicy {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        #[source]
        source: FilterPolicyError,
    },
    /// A secret or token cannot be used (blank, too short, not a header value).
    #[error("{name} is invalid")]
    Unusable {
        /// The variable.
        name: &'static str,
        /// What is wrong with it (never the value).
        #[source]
        source: UnusableSecret,
    },
}

/// A secret or token: given as its value, or as a Secrets Manager secret to read at cold
/// start (`crate::aws::secrets_manager::resolve`), checked the same way either way.
#[derive(Debug, Clone)]
pub enum Sourced<T> {
    /// The value itself, checked.
    Value(T),
    /// The secret that holds it, named by `variable`.
    SecretsManager {
        /// The variable that named the secret: every error names it.
        variable: &'static str,
        /// The secret's ARN.
        arn: SecretArn,
        /// How its value is checked once read.
        check: Check<T>,
    },
}

impl<T> Sourced<T> {
    /// The value of `variable`, checked with `check`.
    fn value(variable: &'static str, value: &str, check: Check<T>) -> Result<Self, ConfigError> {
        check(value)
            .map(Self::Value)
            .map_err(|source| ConfigError::Unusable {
                name: variable,
                source,
            })
    }

    /// The secret `arn` named by `variable`, to read at cold start and check with `check`.
    fn secret(variable: &'static str, arn: &str, check: Check<T>) -> Result<Self, ConfigError> {
        let arn = SecretArn::parse(arn).map_err(|reason| ConfigError::Invalid {
            name: variable,
            reason,
        })?;
        Ok(Self::SecretsManager {
            variable,
            arn,
            check,
        })
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
            topics: TopicConfig::from_vars(&vars)?,
            secret: secret(&vars)?,
            previous_secret: previous_secret(&vars)?,
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
            topics: TopicConfig::from_vars(&vars)?,
            qase_api: QaseApiConfig::from_vars(&vars)?.ok_or(ConfigError::Missing(
                "QASE_API_TOKEN (or QASE_API_TOKEN_ARN)",
            ))?,
            aws: AwsEnvironment::from_vars(&vars)?,
        })
    }
}

/// The previous webhook secret, when set: with [`ENV_SECRET`] only (a secret in Secrets
/// Manager has its own previous version, `AWSPREVIOUS`).
fn previous_secret(vars: &Vars) -> Result<Option<Secret>, ConfigError> {
    let Some(previous) = vars.get(ENV_SECRET_PREVIOUS) else {
        return Ok(None);
    };
    if vars.get(ENV_SECRET).is_none() {
        return Err(ConfigError::Invalid {
            name: ENV_SECRET_PREVIOUS,
            reason: "is set without QASE_WEBHOOK_SECRET (with QASE_WEBHOOK_SECRET_ARN, the \
                     secret's AWSPREVIOUS version is the previous one)",
        });
    }
    Secret::new(previous)
        .map(Some)
        .map_err(|source| ConfigError::Unusable {
            name: ENV_SECRET_PREVIOUS,
            source,
        })
}

/// The webhook secret's source: the value, a secret's ARN, or none when checking is
/// explicitly disabled (exactly one of the three).
fn secret(vars: &Vars) -> Result<Option<Sourced<Secret>>, ConfigError> {
    let disabled = match vars.get(ENV_SECRET_DISABLED) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: ENV_SECRET_DISABLED,
                reason: "must be `true` or `false`",
            });
        }
    };
    match (vars.get(ENV_SECRET), vars.get(ENV_SECRET_ARN), disabled) {
        (Some(value), None, false) => Sourced::value(ENV_SECRET, value, Secret::new).map(Some),
        (None, Some(arn), false) => Sourced::secret(ENV_SECRET_ARN, arn, Secret::new).map(Some),
        (None, None, true) => Ok(None),
        (None, None, false) => Err(ConfigError::Missing(ENV_SECRET)),
        (Some(_), Some(_), _) => Err(ConfigError::Invalid {
            name: ENV_SECRET_ARN,
            reason: "is set together with QASE_WEBHOOK_SECRET; set only one of them",
        }),
        (_, _, true) => Err(ConfigError::Invalid {
            name: ENV_SECRET_DISABLED,
            reason: "is `true` while a secret is configured; unset one of them",
        }),
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
                .map_err(|_| ConfigError::Invalid {
                    name: ENV_ALLOWED_SOURCE_IPS,
                    reason: "expected IP addresses or CIDR blocks separated by commas",
                })
        })
        .collect()
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
    fn reads_the_previous_secret_only_beside_the_current_value() {
        let old = "old-secret-old-secret";
        let c = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (ENV_SECRET_PREVIOUS, old),
        ]);
        assert!(c.unwrap().previous_secret.unwrap().matches(old.as_bytes()));
        let none = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)]).unwrap();
        assert!(none.previous_secret.is_none());
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-AbCdEf";
        for (vars, starts) in [
            (
                vec![(ENV_SECRET_ARN, arn), (ENV_SECRET_PREVIOUS, old)],
                "QASE_WEBHOOK_SECRET_PREVIOUS is invalid: is set without QASE_WEBHOOK_SECRET",
            ),
            (
                vec![(ENV_SECRET, SECRET), (ENV_SECRET_PREVIOUS, "short")],
                "QASE_WEBHOOK_SECRET_PREVIOUS is invalid",
            ),
        ] {
            let mut all = vec![(ENV_TOPIC_ARN, ARN)];
            all.extend(vars);
            let err = config(&all).unwrap_err().to_string();
            assert!(err.starts_with(starts), "{err}");
            assert!(!err.contains(old), "{err}");
        }
    }

    #[test]
    fn a_blank_or_short_secret_is_refused_naming_the_variable_never_the_value() {
        for (value, why) in [
            ("   ", UnusableSecret::Blank),
            ("short-secret-15", UnusableSecret::TooShort),
        ] {
            let err = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, value)]).unwrap_err();
            assert_eq!(
                err,
                ConfigError::Unusable {
                    name: ENV_SECRET,
                    source: why
                }
            );
            assert_eq!(err.to_string(), "QASE_WEBHOOK_SECRET is invalid");
            let cause = std::error::Error::source(&err).unwrap().to_string();
            assert!(
                !cause.contains(value.trim()) || value.trim().is_empty(),
                "{cause}"
            );
        }
    }

    #[test]
    fn a_fifo_arn_switches_on_fifo_publishing() {
        let arn = "arn:aws:sns:us-east-1:123456789012:qase-defects.fifo";
        let c = config(&[(ENV_TOPIC_ARN, arn), (ENV_SECRET, SECRET)]).unwrap();
        assert!(c.topics.events.is_fifo());
    }

    #[test]
    fn reads_an_optional_standard_notification_topic() {
        let none = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)]).unwrap();
        assert_eq!(none.topics.notifications, None);
        let people = "arn:aws:sns:eu-west-1:123456789012:qase-notifications";
        let some = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_NOTIFICATION_TOPIC_ARN, people),
            (ENV_SECRET, SECRET),
        ])
        .unwrap();
        assert_eq!(some.topics.notifications.unwrap().as_str(), people);

        for (arn, why) in [
            (
                "arn:aws:sns:eu-west-1:123456789012:people.fifo",
                "must be a standard topic",
            ),
            ("people", "expected arn:"),
        ] {
            let err = config(&[
                (ENV_TOPIC_ARN, ARN),
                (ENV_NOTIFICATION_TOPIC_ARN, arn),
                (ENV_SECRET, SECRET),
            ])
            .unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("NOTIFICATION_TOPIC_ARN is invalid: "),
                "{text}"
            );
            assert!(text.contains(why), "{text}");
        }
    }

    #[test]
    fn reads_an_optional_standard_chat_topic_and_its_filter_policy() {
        let chat = "arn:aws:sns:eu-west-1:123456789012:qase-chat";
        let none = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)]).unwrap();
        assert_eq!((none.topics.chat, none.topics.chat_filter), (None, None));
        let policy = r#"{"event_name":["defect.created","defect.resolved"]}"#;
        let c = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (ENV_CHAT_TOPIC_ARN, chat),
            (ENV_CHAT_FILTER_POLICY, policy),
        ])
        .unwrap();
        assert_eq!(c.topics.chat.unwrap().as_str(), chat);
        assert_eq!(
            c.topics.chat_filter,
            Some(crate::filter::FilterPolicy::parse(policy).unwrap())
        );

        for (vars, starts) in [
            (
                vec![(ENV_CHAT_TOPIC_ARN, "arn:aws:sns:eu-west-1:1:chat.fifo")],
                "CHAT_TOPIC_ARN is invalid: must be a standard topic",
            ),
            (
                vec![(ENV_CHAT_FILTER_POLICY, policy)],
                "CHAT_FILTER_POLICY is invalid: is set without CHAT_TOPIC_ARN",
            ),
            (
                vec![
                    (ENV_CHAT_TOPIC_ARN, chat),
                    (ENV_CHAT_FILTER_POLICY, r#"{"a":[{"cidr":"10.0.0.0/8"}]}"#),
                ],
                "CHAT_FILTER_POLICY is invalid",
            ),
        ] {
            let mut all = vec![(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)];
            all.extend(vars);
            let err = config(&all).unwrap_err();
            assert!(err.to_string().starts_with(starts), "{err}");
        }
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
    fn rejects_malformed_topic_arns_naming_the_variable() {
        for arn in [
            "qase-defects",
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns::123456789012:t",
            "arn:aws:sns:eu-west-1:123456789012",
            "arn:aws:sns:eu-west-1:123456789012:t:extra",
        ] {
            let err = config(&[(ENV_TOPIC_ARN, arn), (ENV_SECRET, SECRET)]).unwrap_err();
            assert!(
                err.to_string().starts_with("TOPIC_ARN is invalid"),
                "{arn}: {err}"
            );
        }
    }

    #[test]
    fn runs_without_a_secret_only_when_explicitly_disabled() {
        let c = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_DISABLED, "true")]).unwrap();
        assert!(c.secret.is_none(), "{:?}", c.secret);
        let err = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_DISABLED, "false")]).unwrap_err();
        assert_eq!(err, ConfigError::Missing(ENV_SECRET));
        let err = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_DISABLED, "yes")]).unwrap_err();
        assert!(err.to_string().starts_with(ENV_SECRET_DISABLED), "{err}");
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

    #[test]
    fn reads_a_secrets_manager_arn_instead_of_the_value() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-AbCdEf";
        let c = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_ARN, arn)]).unwrap();
        let Some(Sourced::SecretsManager {
            arn: got, variable, ..
        }) = c.secret
        else {
            panic!("{:?}", c.secret)
        };
        assert_eq!((got.as_str(), got.region()), (arn, "eu-west-1"));
        assert_eq!(variable, ENV_SECRET_ARN);

        let both = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (ENV_SECRET_ARN, arn),
        ]);
        assert!(both.unwrap_err().to_string().starts_with(ENV_SECRET_ARN));
        let bad = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET_ARN, "arn:aws:ssm:eu-west-1:1:parameter/x"),
        ]);
        assert!(bad.unwrap_err().to_string().starts_with(ENV_SECRET_ARN));
        let disabled = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET_ARN, arn),
            (ENV_SECRET_DISABLED, "true"),
        ]);
        assert!(
            disabled
                .unwrap_err()
                .to_string()
                .starts_with(ENV_SECRET_DISABLED)
        );
    }

    #[test]
    fn refuses_a_secret_and_the_disable_switch_together() {
        let err = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (ENV_SECRET_DISABLED, "true"),
        ])
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: ENV_SECRET_DISABLED,
                ..
            }
        ));
        assert!(!err.to_string().contains(SECRET));
    }
}
