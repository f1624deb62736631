//! Reads a secret string from AWS Secrets Manager, once, at cold start: the webhook secret
//! (`QASE_WEBHOOK_SECRET_ARN`) or the Qase API token (`QASE_API_TOKEN_ARN`), whichever a
//! [`Sourced`] names; a value given directly is passed through.
//!
//! The value is the secret's `SecretString`, used as it is (no JSON key lookup) and checked as
//! a value from the environment is (the [`Sourced`]'s check). Nothing here logs it, and no
//! error contains it.

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::auth::UnusableSecret;
use crate::config::{SecretArn, Sourced};

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
    let value = fetch(config, variable, &arn).await?;
    check(&value).map_err(|unusable| SecretFetchError::Unusable(variable, unusable))
}

/// The `SecretString` of the secret `arn`, named by the variable `variable`.
async fn fetch(
    config: &aws_config::SdkConfig,
    variable: &'static str,
    arn: &SecretArn,
) -> Result<String, SecretFetchError> {
    let config = aws_sdk_secretsmanager::config::Builder::from(config)
        .region(aws_config::Region::new(arn.region().to_owned()))
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let output = client
        .get_secret_value()
        .secret_id(arn.as_str())
        .send()
        .await
        .map_err(|e| {
            SecretFetchError::Unreadable(variable, DisplayErrorContext(e).to_string().into())
        })?;
    output
        .secret_string
        .ok_or(SecretFetchError::NotAString(variable))
}
