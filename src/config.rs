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
use lambda_http::tracing::level_filters::LevelFilter;

use crate::auth::{ApiToken, Secret, WeakSecret};

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

/// A Qase API token: set, it switches enrichment of defect events on.
pub const ENV_QASE_API_TOKEN: &str = "QASE_API_TOKEN";
/// The ARN of a Secrets Manager secret holding the token, read once at cold start instead of
/// [`ENV_QASE_API_TOKEN`].
pub const ENV_QASE_API_TOKEN_ARN: &str = "QASE_API_TOKEN_ARN";
/// The Qase API's base URL (enterprise workspaces have their own host).
pub const ENV_QASE_API_URL: &str = "QASE_API_URL";
/// [`ENV_QASE_API_URL`] when unset.
pub const DEFAULT_QASE_API_URL: &str = "https://api.qase.io/v1";

/// The Lambda function's name, as Lambda sets it: the `FunctionName` dimension of the metrics.
pub const ENV_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The `FunctionName` of the metrics when [`ENV_FUNCTION_NAME`] is unset (run by hand).
pub const DEFAULT_FUNCTION_NAME: &str = "qase-defect-fanout";

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

/// Lambda's advanced logging controls: the level the function is deployed with
/// (`LoggingConfig.ApplicationLogLevel`: `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`).
pub const ENV_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
/// Lambda's advanced logging controls: `JSON` for one JSON object per line.
pub const ENV_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
/// `tracing` directives such as `info,aws_smithy_runtime=debug`; also the level when
/// [`ENV_LOG_LEVEL`] is unset (as `lambda_http`'s default subscriber reads them).
pub const ENV_RUST_LOG: &str = "RUST_LOG";

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
    /// The webhook secret is blank or too short to guard the endpoint.
    #[error("{name} is invalid")]
    WeakSecret {
        /// The variable.
        name: &'static str,
        /// What is wrong with it (never the value).
        #[source]
        source: WeakSecret,
    },
}

/// How the function logs: read before anything else, so that a configuration error is
/// logged like every other line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// The level of every target no directive names: [`ENV_LOG_LEVEL`], else
    /// [`ENV_RUST_LOG`] when it is a bare level, else `INFO` (`FATAL` is `ERROR`: `tracing` has
    /// no level above it).
    pub level: LevelFilter,
    /// [`ENV_RUST_LOG`]'s directives, applied on top of `level`.
    pub directives: String,
    /// One JSON object per line ([`ENV_LOG_FORMAT`] is `JSON`), else text.
    pub json: bool,
}

impl LogConfig {
    /// Reads the process environment.
    #[must_use]
    pub fn from_env() -> Self {
        Self::from_vars(process_vars())
    }

    /// Reads the logging variables from `vars` (name, value).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        let get = |name: &str| vars.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let level = match get(ENV_LOG_LEVEL).or(get(ENV_RUST_LOG)) {
            Some(text) if text.eq_ignore_ascii_case("fatal") => LevelFilter::ERROR,
            Some(text) => text.parse().unwrap_or(LevelFilter::INFO),
            None => LevelFilter::INFO,
        };
        Self {
            level,
            directives: get(ENV_RUST_LOG).unwrap_or_default().to_owned(),
            json: get(ENV_LOG_FORMAT).is_some_and(|f| f.eq_ignore_ascii_case("json")),
        }
    }
}

/// The process environment, but for variables whose name or value is not UTF-8: those are not
/// ours, and are skipped rather than read with a panic.
fn process_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
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

/// Where the Qase API token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// The token itself, from [`ENV_QASE_API_TOKEN`].
    Value(ApiToken),
    /// A Secrets Manager secret, from [`ENV_QASE_API_TOKEN_ARN`], to read at cold start.
    SecretsManager {
        /// The secret's ARN.
        arn: String,
        /// The secret's region (from the ARN).
        region: String,
    },
}

/// How to call the Qase API, when enrichment is on.
#[derive(Debug, Clone)]
pub struct QaseApiConfig {
    /// The base URL, without a trailing `/`: `https://`, or `http://` to a loopback address.
    pub url: String,
    /// Where the token comes from.
    pub token: TokenSource,
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
                SecretSource::Value(Secret::new(&value).map_err(|source| {
                    ConfigError::WeakSecret {
                        name: ENV_SECRET,
                        source,
                    }
                })?)
            }
            (None, Some(arn), false) => {
                let (arn, region) = secrets_manager_arn(ENV_SECRET_ARN, &arn)?;
                SecretSource::SecretsManager { arn, region }
            }
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
        let qase_api = qase_api(
            get(ENV_QASE_API_TOKEN),
            get(ENV_QASE_API_TOKEN_ARN),
            get(ENV_QASE_API_URL).as_deref(),
        )?;
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
            qase_api,
            function_name: get(ENV_FUNCTION_NAME)
                .unwrap_or_else(|| DEFAULT_FUNCTION_NAME.to_owned()),
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

/// Enrichment is on when a token or a token ARN is set (not both); the URL is checked even
/// when it is off, so a typo is found at once.
fn qase_api(
    token: Option<String>,
    token_arn: Option<String>,
    url: Option<&str>,
) -> Result<Option<QaseApiConfig>, ConfigError> {
    let url = api_url(url.unwrap_or(DEFAULT_QASE_API_URL))?;
    let token = match (token, token_arn) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                name: ENV_QASE_API_TOKEN_ARN,
                reason: "is set together with QASE_API_TOKEN; set only one of them",
            });
        }
        (Some(token), None) => {
            TokenSource::Value(ApiToken::new(&token).ok_or(ConfigError::Invalid {
                name: ENV_QASE_API_TOKEN,
                reason: "is blank",
            })?)
        }
        (None, Some(arn)) => {
            let (arn, region) = secrets_manager_arn(ENV_QASE_API_TOKEN_ARN, &arn)?;
            TokenSource::SecretsManager { arn, region }
        }
    };
    Ok(Some(QaseApiConfig { url, token }))
}

/// An `https://` URL, or `http://` to a loopback address (a local stand-in), with no user,
/// query or fragment; answered without a trailing `/`.
fn api_url(text: &str) -> Result<String, ConfigError> {
    let invalid = |reason| ConfigError::Invalid {
        name: ENV_QASE_API_URL,
        reason,
    };
    let url = url::Url::parse(text).map_err(|_| invalid("is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback => {}
        _ => {
            return Err(invalid(
                "must be https://, or http:// to a loopback address",
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not hold a user or password (the token is separate)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`, from the variable
/// `name`: the ARN and the secret's region.
fn secrets_manager_arn(name: &'static str, arn: &str) -> Result<(String, String), ConfigError> {
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
            Ok((arn.to_owned(), region.to_owned()))
        }
        _ => Err(ConfigError::Invalid {
            name,
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
    const SECRET: &str = "s3cr3t-s3cr3t-42";

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
        let c = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)]).unwrap();
        assert_eq!(c.topic.as_str(), ARN);
        assert_eq!(c.topic.region(), "eu-west-1");
        assert!(!c.topic.is_fifo());
        let SecretSource::Value(secret) = c.secret else {
            panic!("{:?}", c.secret)
        };
        assert!(secret.matches(SECRET.as_bytes()));
    }

    #[test]
    fn a_blank_or_short_secret_is_refused_naming_the_variable_never_the_value() {
        for (value, why) in [
            ("   ", WeakSecret::Blank),
            ("short-secret-15", WeakSecret::TooShort),
        ] {
            let err = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, value)]).unwrap_err();
            assert_eq!(
                err,
                ConfigError::WeakSecret {
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
    fn logs_at_lambdas_level_else_rust_logs_else_info() {
        let log = |vars: &[(&str, &str)]| {
            LogConfig::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
        };
        assert_eq!(
            log(&[]),
            LogConfig {
                level: LevelFilter::INFO,
                directives: String::new(),
                json: false
            }
        );
        let lambda = log(&[
            (ENV_LOG_LEVEL, "TRACE"),
            (ENV_RUST_LOG, "warn,aws_smithy_runtime=debug"),
            (ENV_LOG_FORMAT, "JSON"),
        ]);
        assert_eq!(lambda.level, LevelFilter::TRACE);
        assert_eq!(lambda.directives, "warn,aws_smithy_runtime=debug");
        assert!(lambda.json);
        assert_eq!(log(&[(ENV_RUST_LOG, "debug")]).level, LevelFilter::DEBUG);
        assert_eq!(log(&[(ENV_LOG_LEVEL, "FATAL")]).level, LevelFilter::ERROR);
        assert_eq!(log(&[(ENV_LOG_LEVEL, "loud")]).level, LevelFilter::INFO);
        assert!(!log(&[(ENV_LOG_FORMAT, "Text")]).json);
    }

    #[test]
    fn a_fifo_arn_switches_on_fifo_publishing() {
        let arn = "arn:aws:sns:us-east-1:123456789012:qase-defects.fifo";
        let c = config(&[(ENV_TOPIC_ARN, arn), (ENV_SECRET, SECRET)]).unwrap();
        assert!(c.topic.is_fifo());
    }

    #[test]
    fn reads_an_optional_standard_notification_topic() {
        let none = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)]).unwrap();
        assert_eq!(none.notification_topic, None);
        let people = "arn:aws:sns:eu-west-1:123456789012:qase-notifications";
        let some = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_NOTIFICATION_TOPIC_ARN, people),
            (ENV_SECRET, SECRET),
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
            (ENV_SECRET, SECRET),
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
        let SecretSource::SecretsManager { arn: got, region } = c.secret else {
            panic!("{:?}", c.secret)
        };
        assert_eq!((got.as_str(), region.as_str()), (arn, "eu-west-1"));

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

    #[test]
    fn reads_credentials_as_lambda_provides_them_and_never_shows_the_secret_parts() {
        let c = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
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
            (ENV_SECRET.to_owned(), SECRET.to_owned()),
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
            (ENV_SECRET, SECRET),
            ("AWS_ENDPOINT_URL", "http://global"),
            ("AWS_ENDPOINT_URL_SNS", "http://sns"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", ""),
            ("AWS_ENDPOINT_URLX", "http://not-an-endpoint-variable"),
        ])
        .unwrap();
        let names: Vec<_> = c.aws.endpoint_urls.keys().map(String::as_str).collect();
        assert_eq!(names, ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS"]);
    }

    #[test]
    fn enrichment_is_off_without_a_token_and_on_with_one() {
        let base = [(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)];
        assert!(config(&base).unwrap().qase_api.is_none());

        let on = config(&[base[0], base[1], (ENV_QASE_API_TOKEN, "qase-token")]).unwrap();
        assert!(!format!("{on:?}").contains("qase-token"), "{on:?}");
        let api = on.qase_api.unwrap();
        assert_eq!(api.url, "https://api.qase.io/v1");
        let TokenSource::Value(token) = api.token else {
            panic!("{:?}", api.token)
        };
        assert_eq!(token.expose(), "qase-token");

        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-api-AbCd";
        let from_arn = config(&[base[0], base[1], (ENV_QASE_API_TOKEN_ARN, arn)]).unwrap();
        let TokenSource::SecretsManager { region, .. } = from_arn.qase_api.unwrap().token else {
            panic!("the ARN source")
        };
        assert_eq!(region, "eu-west-1");

        let both = config(&[
            base[0],
            base[1],
            (ENV_QASE_API_TOKEN, "t"),
            (ENV_QASE_API_TOKEN_ARN, arn),
        ]);
        let text = both.unwrap_err().to_string();
        assert!(text.starts_with("QASE_API_TOKEN_ARN is invalid"), "{text}");
        let bad_arn = config(&[base[0], base[1], (ENV_QASE_API_TOKEN_ARN, "arn:aws:ssm:x")]);
        assert!(
            bad_arn
                .unwrap_err()
                .to_string()
                .starts_with("QASE_API_TOKEN_ARN")
        );
    }

    #[test]
    fn the_api_url_is_https_or_loopback_http() {
        let with_url = |url: &str| {
            config(&[
                (ENV_TOPIC_ARN, ARN),
                (ENV_SECRET, SECRET),
                (ENV_QASE_API_TOKEN, "t"),
                (ENV_QASE_API_URL, url),
            ])
            .map(|c| c.qase_api.unwrap().url)
        };
        for (url, kept) in [
            (
                "https://api-acme.qase.io/v1/",
                "https://api-acme.qase.io/v1",
            ),
            ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
            ("http://[::1]:9/v1", "http://[::1]:9/v1"),
            ("http://localhost:9/v1", "http://localhost:9/v1"),
        ] {
            assert_eq!(with_url(url).unwrap(), kept, "{url}");
        }
        for url in [
            "http://api.qase.io/v1",
            "http://10.0.0.1/v1",
            "ftp://api.qase.io",
            "api.qase.io/v1",
            "https://user:pw@api.qase.io/v1",
            "https://api.qase.io/v1?x=1",
        ] {
            let err = with_url(url).unwrap_err().to_string();
            assert!(err.starts_with("QASE_API_URL is invalid"), "{url}: {err}");
        }
        let off_but_typo = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (ENV_QASE_API_URL, "http://api.qase.io"),
        ]);
        assert!(off_but_typo.is_err(), "checked even with enrichment off");
    }
}
