//! Typed configuration, read from the environment once at cold start.
//!
//! Every problem is reported with the name of the variable to fix, so a misconfigured
//! function fails its init with a clear message instead of failing requests later. Of the
//! AWS SDK's own variables, only `AWS_CA_BUNDLE` is read here; credentials and
//! `AWS_ENDPOINT_URL[_<SERVICE>]` are read where the SDK configuration is built
//! (`publish::sdk_config`).

use std::path::PathBuf;

use ipnet::IpNet;

use crate::webhook::Secret;

/// The SNS topic to publish to (required).
pub const ENV_TOPIC_ARN: &str = "TOPIC_ARN";
/// The value Qase sends in `X-Qase-Secret` (required unless explicitly disabled).
pub const ENV_SECRET: &str = "QASE_WEBHOOK_SECRET";
/// The ARN of a Secrets Manager secret holding the value, read once at cold start instead of
/// [`ENV_SECRET`].
pub const ENV_SECRET_ARN: &str = "QASE_WEBHOOK_SECRET_ARN";
/// `true` to accept webhooks without a secret; anything but `true`/`false` is an error.
pub const ENV_SECRET_DISABLED: &str = "QASE_WEBHOOK_SECRET_DISABLED";

/// Comma-separated addresses or CIDR blocks allowed to call; unset or empty = anyone.
pub const ENV_ALLOWED_SOURCE_IPS: &str = "ALLOWED_SOURCE_IPS";

/// The standard AWS SDK variable: a PEM file of extra root certificates to trust, on top of
/// the compiled-in Amazon Trust Services roots (e.g. for a TLS-inspecting proxy).
pub const ENV_CA_BUNDLE: &str = "AWS_CA_BUNDLE";

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
}

/// A parsed SNS topic ARN: `arn:<partition>:sns:<region>:<account>:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    arn: String,
    region: String,
    fifo: bool,
}

impl TopicArn {
    /// Parses and checks an SNS topic ARN.
    pub fn parse(arn: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::Invalid {
            name: ENV_TOPIC_ARN,
            reason,
        };
        let parts: Vec<&str> = arn.split(':').collect();
        let [prefix, partition, service, region, account, name] = parts[..] else {
            return Err(invalid(
                "expected arn:<partition>:sns:<region>:<account-id>:<topic-name>",
            ));
        };
        if prefix != "arn" || partition.is_empty() || service != "sns" {
            return Err(invalid(
                "expected arn:<partition>:sns:<region>:<account-id>:<topic-name>",
            ));
        }
        if region.is_empty() || account.is_empty() || name.is_empty() {
            return Err(invalid("the region, account id and topic name must be set"));
        }
        #[expect(
            clippy::case_sensitive_file_extension_comparisons,
            reason = "SNS names FIFO topics with exactly the lower-case suffix .fifo"
        )]
        let fifo = name.ends_with(".fifo");
        Ok(Self {
            arn: arn.to_owned(),
            region: region.to_owned(),
            fifo,
        })
    }

    /// The full ARN.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The topic's region; the SNS client must use it.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether the topic is FIFO (its name ends in `.fifo`).
    #[must_use]
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }
}

/// Where the expected `X-Qase-Secret` comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// The value itself, from [`ENV_SECRET`].
    Value(Secret),
    /// A Secrets Manager secret, from [`ENV_SECRET_ARN`], to read at cold start.
    SecretsManager {
        /// The secret's ARN.
        arn: String,
        /// The secret's region (from the ARN).
        region: String,
    },
    /// No check: [`ENV_SECRET_DISABLED`] is `true`.
    Disabled,
}

/// Everything the function needs, checked once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to publish.
    pub topic: TopicArn,
    /// Where the expected `X-Qase-Secret` comes from.
    pub secret: SecretSource,
    /// The source addresses allowed to call; `None` means any.
    pub allowed_sources: Option<Vec<IpNet>>,
    /// Extra trusted root certificates ([`ENV_CA_BUNDLE`]); read and checked at cold start.
    pub ca_bundle: Option<PathBuf>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the real environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name| lookup(name).filter(|v| !v.is_empty());

        let topic =
            TopicArn::parse(&get(ENV_TOPIC_ARN).ok_or(ConfigError::Missing(ENV_TOPIC_ARN))?)?;

        let disabled = match get(ENV_SECRET_DISABLED).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: ENV_SECRET_DISABLED,
                    reason: "must be `true` or `false`",
                });
            }
        };
        let secret = match (get(ENV_SECRET), get(ENV_SECRET_ARN), disabled) {
            (Some(value), None, false) => {
                SecretSource::Value(Secret::new(&value).expect("value is non-empty"))
            }
            (None, Some(arn), false) => secrets_manager_source(&arn)?,
            (None, None, true) => SecretSource::Disabled,
            (None, None, false) => return Err(ConfigError::Missing(ENV_SECRET)),
            (Some(_), Some(_), _) => {
                return Err(ConfigError::Invalid {
                    name: ENV_SECRET_ARN,
                    reason: "is set together with QASE_WEBHOOK_SECRET; set only one of them",
                });
            }
            (_, _, true) => {
                return Err(ConfigError::Invalid {
                    name: ENV_SECRET_DISABLED,
                    reason: "is `true` while a secret is configured; unset one of them",
                });
            }
        };
        let allowed_sources = get(ENV_ALLOWED_SOURCE_IPS)
            .map(|list| parse_sources(&list))
            .transpose()?
            .filter(|nets| !nets.is_empty());
        Ok(Self {
            topic,
            secret,
            allowed_sources,
            ca_bundle: get(ENV_CA_BUNDLE).map(PathBuf::from),
        })
    }
}

/// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`.
fn secrets_manager_source(arn: &str) -> Result<SecretSource, ConfigError> {
    match arn.split(':').collect::<Vec<_>>()[..] {
        [
            "arn",
            partition,
            "secretsmanager",
            region,
            account,
            "secret",
            name,
        ] if !partition.is_empty()
            && !region.is_empty()
            && !account.is_empty()
            && !name.is_empty() =>
        {
            Ok(SecretSource::SecretsManager {
                arn: arn.to_owned(),
                region: region.to_owned(),
            })
        }
        _ => Err(ConfigError::Invalid {
            name: ENV_SECRET_ARN,
            reason: "expected arn:<partition>:secretsmanager:<region>:<account-id>:secret:<name>",
        }),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sns:eu-west-1:123456789012:qase-defects";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn reads_topic_and_secret() {
        let c = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, "s3cr3t")]).unwrap();
        assert_eq!(c.topic.as_str(), ARN);
        assert_eq!(c.topic.region(), "eu-west-1");
        assert!(!c.topic.is_fifo());
        let SecretSource::Value(secret) = c.secret else {
            panic!("{:?}", c.secret)
        };
        assert!(secret.matches(b"s3cr3t"));
    }

    #[test]
    fn a_fifo_arn_switches_on_fifo_publishing() {
        let arn = "arn:aws:sns:us-east-1:123456789012:qase-defects.fifo";
        let c = config(&[(ENV_TOPIC_ARN, arn), (ENV_SECRET, "s")]).unwrap();
        assert!(c.topic.is_fifo());
    }

    #[test]
    fn names_the_missing_variable() {
        assert_eq!(
            config(&[(ENV_SECRET, "s")]).unwrap_err(),
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
            let err = config(&[(ENV_TOPIC_ARN, arn), (ENV_SECRET, "s")]).unwrap_err();
            assert!(
                err.to_string().starts_with("TOPIC_ARN is invalid"),
                "{arn}: {err}"
            );
        }
    }

    #[test]
    fn runs_without_a_secret_only_when_explicitly_disabled() {
        let c = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_DISABLED, "true")]).unwrap();
        assert!(matches!(c.secret, SecretSource::Disabled));
        let err = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_DISABLED, "false")]).unwrap_err();
        assert_eq!(err, ConfigError::Missing(ENV_SECRET));
        let err = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_DISABLED, "yes")]).unwrap_err();
        assert!(err.to_string().starts_with(ENV_SECRET_DISABLED), "{err}");
    }

    #[test]
    fn reads_the_extra_ca_bundle_path() {
        let base = [
            (ENV_TOPIC_ARN, "arn:aws:sns:eu-west-1:123456789012:t"),
            (ENV_SECRET, "s"),
        ];
        assert_eq!(config(&base).unwrap().ca_bundle, None);
        let with = [base[0], base[1], (ENV_CA_BUNDLE, "/opt/ca.pem")];
        assert_eq!(
            config(&with).unwrap().ca_bundle,
            Some(PathBuf::from("/opt/ca.pem"))
        );
    }

    #[test]
    fn reads_allowed_sources_as_addresses_and_blocks() {
        let c = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, "s"),
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
            (ENV_SECRET, "s"),
            (ENV_ALLOWED_SOURCE_IPS, " , "),
        ]);
        assert_eq!(open.unwrap().allowed_sources, None, "empty means anyone");
        let err = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, "s"),
            (ENV_ALLOWED_SOURCE_IPS, "3.141.66.300"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with(ENV_ALLOWED_SOURCE_IPS), "{err}");
    }

    #[test]
    fn reads_a_secrets_manager_arn_instead_of_the_value() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-AbCdEf";
        let c = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_ARN, arn)]).unwrap();
        let SecretSource::SecretsManager { arn: got, region } = c.secret else {
            panic!("{:?}", c.secret)
        };
        assert_eq!((got.as_str(), region.as_str()), (arn, "eu-west-1"));

        let both = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, "s"),
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
            (ENV_SECRET, "s"),
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
        assert!(!err.to_string().contains("\"s\""));
    }
}
