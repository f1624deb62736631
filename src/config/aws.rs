//! What the AWS clients take from the environment, as plain data: credentials, endpoints,
//! extra trust roots. `crate::aws` turns them into SDK configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::{ConfigError, Vars};

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

impl AwsEnvironment {
    /// Reads the AWS SDK's variables the function honours.
    pub(super) fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let required = |name| vars.get(name).ok_or(ConfigError::Missing(name));
        let credentials = AwsCredentials {
            access_key_id: required(ENV_ACCESS_KEY_ID)?.to_owned(),
            secret_access_key: required(ENV_SECRET_ACCESS_KEY)?.to_owned(),
            session_token: vars.get(ENV_SESSION_TOKEN).map(str::to_owned),
        };
        let endpoint_urls = vars
            .iter()
            .filter(|(name, _)| is_endpoint_variable(name))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Ok(Self {
            credentials,
            endpoint_urls,
            ca_bundle: vars.get(ENV_CA_BUNDLE).map(PathBuf::from),
        })
    }
}

/// `AWS_ENDPOINT_URL` itself or `AWS_ENDPOINT_URL_<SERVICE>`.
fn is_endpoint_variable(name: &str) -> bool {
    name.strip_prefix(ENV_ENDPOINT_URL_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::testing::{ARN, SECRET, config};
    use super::*;
    use crate::config::{Config, ENV_SECRET, ENV_TOPIC_ARN};

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
}
