//! Reads a secret string from AWS Secrets Manager, once, at cold start: the webhook secret
//! (`QASE_WEBHOOK_SECRET_ARN`) or the Qase API token (`QASE_API_TOKEN_ARN`).
//!
//! The value is the secret's `SecretString`, used as it is (no JSON key lookup). Nothing here
//! logs it, and no error contains it.

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::auth::{Secret, WeakSecret};

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
    /// The secret's string is empty.
    #[error("{0}: the secret's value is empty")]
    Empty(&'static str),
    /// The string cannot be the webhook secret (blank, or too short).
    #[error("{0}: the secret's value cannot be the webhook secret")]
    Weak(&'static str, #[source] WeakSecret),
}

/// The webhook secret held by the secret `arn` (in `region`), named by the variable
/// `variable`: fetched as [`fetch`] does, and refused when it is blank or too short.
pub async fn webhook_secret(
    config: &aws_config::SdkConfig,
    variable: &'static str,
    arn: &str,
    region: &str,
) -> Result<Secret, SecretFetchError> {
    let value = fetch(config, variable, arn, region).await?;
    Secret::new(&value).map_err(|weak| SecretFetchError::Weak(variable, weak))
}

/// Fetches the current value of the secret `arn` (in `region`), named by the variable
/// `variable`, with `config`'s credentials, endpoint, timeouts and retries (see
/// [`super::sdk_config`]).
pub async fn fetch(
    config: &aws_config::SdkConfig,
    variable: &'static str,
    arn: &str,
    region: &str,
) -> Result<String, SecretFetchError> {
    let config = aws_sdk_secretsmanager::config::Builder::from(config)
        .region(aws_config::Region::new(region.to_owned()))
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            SecretFetchError::Unreadable(variable, DisplayErrorContext(e).to_string().into())
        })?;
    match output.secret_string() {
        None => Err(SecretFetchError::NotAString(variable)),
        Some("") => Err(SecretFetchError::Empty(variable)),
        Some(value) => Ok(value.to_owned()),
    }
}
