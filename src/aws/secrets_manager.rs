//! Reads the webhook secret from AWS Secrets Manager, once, at cold start.
//!
//! Used when `QASE_WEBHOOK_SECRET_ARN` is set instead of `QASE_WEBHOOK_SECRET`. The secret's
//! value is its `SecretString`, used as it is (no JSON key lookup). Nothing here logs it.

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::auth::Secret;

/// Why the secret could not be read. Each message names the variable to look at.
#[derive(Debug, thiserror::Error)]
pub enum SecretFetchError {
    /// Secrets Manager refused or could not be reached (permissions, wrong ARN, network).
    #[error("QASE_WEBHOOK_SECRET_ARN: cannot read the secret from Secrets Manager")]
    Unreadable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The secret holds binary data, not a string.
    #[error(
        "QASE_WEBHOOK_SECRET_ARN: the secret has no string value (binary secrets are not supported)"
    )]
    NotAString,
    /// The secret's string is empty.
    #[error("QASE_WEBHOOK_SECRET_ARN: the secret's value is empty")]
    Empty,
}

/// Fetches the current value of the secret `arn` (in `region`) with `config`'s credentials,
/// endpoint, timeouts and retries (see [`super::sdk_config`]).
pub async fn fetch(
    config: &aws_config::SdkConfig,
    arn: &str,
    region: &str,
) -> Result<Secret, SecretFetchError> {
    let config = aws_sdk_secretsmanager::config::Builder::from(config)
        .region(aws_config::Region::new(region.to_owned()))
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| SecretFetchError::Unreadable(DisplayErrorContext(e).to_string().into()))?;
    let value = output.secret_string().ok_or(SecretFetchError::NotAString)?;
    Secret::new(value).ok_or(SecretFetchError::Empty)
}
