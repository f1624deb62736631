//! Typed configuration, read from the environment once at cold start: the only code in the
//! crate that reads the environment.
//!
//! Every problem is reported with the name of the variable to fix, so a misconfigured
//! function fails its init with a clear message instead of failing requests later. The AWS
//! SDK's own variables that the function honours (credentials, `AWS_ENDPOINT_URL[_<SERVICE>]`,
//! `AWS_CA_BUNDLE`) are read here too, into [`AwsEnvironment`], as plain data; `crate::aws`
//! turns them into SDK configuration. Nothing here logs, and no error names a secret's value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use ipnet::IpNet;

use crate::auth::Secret;

/// The SNS topic to publish to (required).
pub const ENV_TOPIC_ARN: &str = "TOPIC_ARN";
/// The SNS topic for people: the short text of each event (optional; a standard topic).
pub const ENV_NOTIFICATION_TOPIC_ARN: &str = "NOTIFICATION_TOPIC_ARN";
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
/// Credentials, as Lambda provides them (required).
pub const ENV_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// Credentials, as Lambda provides them (required).
pub const ENV_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// Credentials, as Lambda provides them (temporary credentials have one).
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// `AWS_ENDPOINT_URL` and every `AWS_ENDPOINT_URL_<SERVICE>`: where AWS calls go instead.
pub const ENV_ENDPOINT_URL_PREFIX: &str = "AWS_ENDPOINT_URL";

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
    /// Parses and checks an SNS topic ARN; the error says what is wrong with it.
    pub fn parse(arn: &str) -> Result<Self, &'static str> {
        const SHAPE: &str = "expected arn:<partition>:sns:<region>:<account-id>:<topic-name>";
        let parts: Vec<&str> = arn.split(':').collect();
        let [prefix, partition, service, region, account, name] = parts[..] else {
            return Err(SHAPE);
        };
        if prefix != "arn" || partition.is_empty() || service != "sns" {
            return Err(SHAPE);
        }
        if region.is_empty() || account.is_empty() || name.is_empty() {
            return Err("the region, account id and topic name must be set");
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

/// Static credentials from the environment. `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, when set.
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What the AWS clients take from the environment, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsEnvironment {
    /// The credentials every AWS call is signed with.
    pub credentials: AwsCredentials,
    /// The non-empty `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables, by name.
    pub endpoint_urls: BTreeMap<String, String>,
    /// Extra trusted root certificates ([`ENV_CA_BUNDLE`]); read and checked at cold start.
    pub ca_bundle: Option<PathBuf>,
}

/// Everything the function needs, checked once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The events topic: every webhook, byte for byte.
    pub topic: TopicArn,
    /// The notifications topic, when configured: the text people read.
    pub notification_topic: Option<TopicArn>,
    /// Where the expected `X-Qase-Secret` comes from.
    pub secret: SecretSource,
    /// The source addresses allowed to call; `None` means any.
    pub allowed_sources: Option<Vec<IpNet>>,
    /// Credentials, endpoints and trust roots for the AWS clients.
    pub aws: AwsEnvironment,
}

impl Config {
    /// Reads the process environment (variables whose name or value is not UTF-8 are not ours,
    /// and are skipped rather than read with a panic).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    /// Reads configuration from `vars` (name, value), so tests need not touch the real
    /// environment. Empty values count as unset.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .collect();
        let get = |name: &str| vars.get(name).cloned();

        let topic_from = |name: &'static str, arn: &str| {
            TopicArn::parse(arn).map_err(|reason| ConfigError::Invalid { name, reason })
        };
        let topic = topic_from(
            ENV_TOPIC_ARN,
            &get(ENV_TOPIC_ARN).ok_or(ConfigError::Missing(ENV_TOPIC_ARN))?,
        )?;
        let notification_topic = get(ENV_NOTIFICATION_TOPIC_ARN)
            .map(|arn| topic_from(ENV_NOTIFICATION_TOPIC_ARN, &arn))
            .transpose()?;
        if notification_topic.as_ref().is_some_and(TopicArn::is_fifo) {
            return Err(ConfigError::Invalid {
                name: ENV_NOTIFICATION_TOPIC_ARN,
                reason: "must be a standard topic: SNS cannot deliver a FIFO topic to email",
            });
        }

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
        let credentials = AwsCredentials {
            access_key_id: get(ENV_ACCESS_KEY_ID).ok_or(ConfigError::Missing(ENV_ACCESS_KEY_ID))?,
            secret_access_key: get(ENV_SECRET_ACCESS_KEY)
                .ok_or(ConfigError::Missing(ENV_SECRET_ACCESS_KEY))?,
            session_token: get(ENV_SESSION_TOKEN),
        };
        let endpoint_urls = vars
            .iter()
            .filter(|(name, _)| is_endpoint_variable(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Ok(Self {
            topic,
            notification_topic,
            secret,
            allowed_sources,
            aws: AwsEnvironment {
                credentials,
                endpoint_urls,
                ca_bundle: get(ENV_CA_BUNDLE).map(PathBuf::from),
            },
        })
    }
}

/// `AWS_ENDPOINT_URL` itself or `AWS_ENDPOINT_URL_<SERVICE>`.
fn is_endpoint_variable(name: &str) -> bool {
    name.strip_prefix(ENV_ENDPOINT_URL_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
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

    /// Credentials Lambda always provides, plus `vars`.
    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
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
    fn reads_an_optional_standard_notification_topic() {
        let none = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, "s")]).unwrap();
        assert_eq!(none.notification_topic, None);
        let people = "arn:aws:sns:eu-west-1:123456789012:qase-notifications";
        let some = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_NOTIFICATION_TOPIC_ARN, people),
            (ENV_SECRET, "s"),
        ])
        .unwrap();
        assert_eq!(some.notification_topic.unwrap().as_str(), people);

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
                (ENV_SECRET, "s"),
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
        assert_eq!(config(&base).unwrap().aws.ca_bundle, None);
        let with = [base[0], base[1], (ENV_CA_BUNDLE, "/opt/ca.pem")];
        assert_eq!(
            config(&with).unwrap().aws.ca_bundle,
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

    #[test]
    fn reads_credentials_as_lambda_provides_them_and_never_shows_the_secret_parts() {
        let c = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, "s"),
            (ENV_SESSION_TOKEN, "token-value"),
        ])
        .unwrap();
        assert_eq!(c.aws.credentials.access_key_id, "AKIDEXAMPLE");
        assert_eq!(c.aws.credentials.secret_access_key, "wJalr");
        assert_eq!(
            c.aws.credentials.session_token.as_deref(),
            Some("token-value")
        );
        let shown = format!("{c:?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(
            !shown.contains("wJalr") && !shown.contains("token-value"),
            "{shown}"
        );

        let without = Config::from_vars([
            (ENV_TOPIC_ARN.to_owned(), ARN.to_owned()),
            (ENV_SECRET.to_owned(), "s".to_owned()),
        ]);
        assert_eq!(
            without.unwrap_err(),
            ConfigError::Missing(ENV_ACCESS_KEY_ID)
        );
    }

    #[test]
    fn keeps_the_endpoint_variables_and_nothing_else() {
        let c = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, "s"),
            ("AWS_ENDPOINT_URL", "http://global"),
            ("AWS_ENDPOINT_URL_SNS", "http://sns"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", ""),
            ("AWS_ENDPOINT_URLX", "http://not-an-endpoint-variable"),
        ])
        .unwrap();
        let names: Vec<_> = c.aws.endpoint_urls.keys().map(String::as_str).collect();
        assert_eq!(names, ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS"]);
    }
}
