//! Reads secret strings from AWS Secrets Manager: the Qase API token (`QASE_API_TOKEN_ARN`)
//! once at cold start ([`resolve`]), and the webhook secret (`QASE_WEBHOOK_SECRET_ARN`), its
//! `AWSCURRENT` and `AWSPREVIOUS` versions, at cold start and again whenever the handler's
//! [`SecretStore`] asks ([`webhook_secrets`]); a value given directly is passed through.
//!
//! The value is the secret's `SecretString`, used as it is (no JSON key lookup) and checked as
//! a value from the environment is (the [`Sourced`]'s check). Nothing here logs it, and no
//! error contains it.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use crate::auth::{Check, Secret, Secrets, UnusableSecret};
use crate::config::{SecretArn, Sourced};
use crate::rotation::{Reread, RereadError, SecretStore};

/// The staging label of a secret's current version.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The staging label Secrets Manager moves to the version a rotation replaced.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// Why the secret could not be read. Each message names the variable to look at.
#[derive(Debug, thiserror::Error)]
pub enum SecretFetchError {
    /// Secrets Manager refused or could not be reached (permissions, wrong ARN, network).
    #[error("{0}: cannot read the secret from Secrets Manager")]
    Unreadable(
        &'static str,
        #[source] Box<dyn std::error::Error + Send + Sync>,
    ),
    /// The secret holds binary data, not a string.
    #[error("{0}: the secret has no string value (binary secrets are not supported)")]
    NotAString(&'static str),
    /// The secret's string cannot be used (blank, too short, not a header value).
    #[error("{0}: the secret's value cannot be used")]
    Unusable(&'static str, #[source] UnusableSecret),
}

/// The value `sourced` stands for: itself, or the current value of the secret it names, read
/// with `config`'s credentials, endpoint, timeouts and retries (see [`super::sdk_config`]) and
/// checked as its source says.
pub async fn resolve<T>(
    config: &aws_config::SdkConfig,
    sourced: Sourced<T>,
) -> Result<T, SecretFetchError> {
    let (variable, arn, check) = match sourced {
        Sourced::Value(value) => return Ok(value),
        Sourced::SecretsManager {
            variable,
            arn,
            check,
        } => (variable, arn, check),
    };
    let reader = Reader::new(config, variable, arn);
    reader.current(reader.stage(AWSCURRENT).await?, check)
}

/// The webhook secrets the handler checks against: the value and `previous` from the
/// environment, fixed; or the secret's `AWSCURRENT` and `AWSPREVIOUS` versions, read now and
/// again when a request carries neither.
pub async fn webhook_secrets(
    config: &aws_config::SdkConfig,
    source: Sourced<Secret>,
    previous: Option<Secret>,
) -> Result<SecretStore, SecretFetchError> {
    match source {
        Sourced::Value(current) => Ok(SecretStore::fixed(Secrets { current, previous })),
        Sourced::SecretsManager {
            variable,
            arn,
            check,
        } => {
            let reader = WebhookSecrets {
                reader: Reader::new(config, variable, arn),
                check,
            };
            let secrets = reader.read().await?;
            Ok(SecretStore::rereading(secrets, Box::new(reader)))
        }
    }
}

/// One secret, read with one client.
#[derive(Debug)]
struct Reader {
    client: aws_sdk_secretsmanager::Client,
    variable: &'static str,
    arn: SecretArn,
}

impl Reader {
    fn new(config: &aws_config::SdkConfig, variable: &'static str, arn: SecretArn) -> Self {
        let config = aws_sdk_secretsmanager::config::Builder::from(config)
            .region(aws_config::Region::new(arn.region().to_owned()))
            .build();
        Self {
            client: aws_sdk_secretsmanager::Client::from_conf(config),
            variable,
            arn,
        }
    }

    /// The value of the `AWSCURRENT` version, which must be there, checked with `check`.
    fn current<T>(&self, value: Option<String>, check: Check<T>) -> Result<T, SecretFetchError> {
        let value = value.ok_or_else(|| {
            SecretFetchError::Unreadable(self.variable, "no AWSCURRENT version".into())
        })?;
        check(&value).map_err(|unusable| SecretFetchError::Unusable(self.variable, unusable))
    }

    /// The `SecretString` of the version labelled `stage`; `None` when no version has it
    /// (a secret never rotated has no `AWSPREVIOUS`).
    async fn stage(&self, stage: &str) -> Result<Option<String>, SecretFetchError> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(self.arn.as_str())
            .version_stage(stage)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(e)
                if stage != AWSCURRENT
                    && e.as_service_error()
                        .is_some_and(GetSecretValueError::is_resource_not_found_exception) =>
            {
                return Ok(None);
            }
            Err(e) => {
                let cause = DisplayErrorContext(e).to_string().into();
                return Err(SecretFetchError::Unreadable(self.variable, cause));
            }
        };
        output
            .secret_string
            .map(Some)
            .ok_or(SecretFetchError::NotAString(self.variable))
    }
}

/// The webhook secret's current and previous versions.
#[derive(Debug)]
struct WebhookSecrets {
    reader: Reader,
    check: Check<Secret>,
}

impl WebhookSecrets {
    /// Both versions, read at once. The current one must be usable; a previous one that is
    /// not (a weak secret a rotation replaced) is not accepted.
    async fn read(&self) -> Result<Secrets, SecretFetchError> {
        let (current, previous) = tokio::join!(
            self.reader.stage(AWSCURRENT),
            self.reader.stage(AWSPREVIOUS)
        );
        let current = self.reader.current(current?, self.check)?;
        let previous = previous?.and_then(|previous| (self.check)(&previous).ok());
        Ok(Secrets { current, previous })
    }
}

impl Reread for WebhookSecrets {
    fn reread(&self) -> Pin<Box<dyn Future<Output = Result<Secrets, RereadError>> + Send + '_>> {
        Box::pin(async move { self.read().await.map_err(RereadError::from) })
    }
}
