//! How to call the Qase API, when enrichment is on: its URL and where the token comes from.

use super::{ConfigError, Sourced, Vars};
use crate::auth::ApiToken;

/// A Qase API token: set, it switches enrichment of defect events on.
pub const ENV_QASE_API_TOKEN: &str = "QASE_API_TOKEN";
/// The ARN of a Secrets Manager secret holding the token, read once at cold start instead of
/// [`ENV_QASE_API_TOKEN`].
pub const ENV_QASE_API_TOKEN_ARN: &str = "QASE_API_TOKEN_ARN";
/// The Qase API's base URL (enterprise workspaces have their own host).
pub const ENV_QASE_API_URL: &str = "QASE_API_URL";
/// [`ENV_QASE_API_URL`] when unset.
pub const DEFAULT_QASE_API_URL: &str = "https://api.qase.io/v1";

/// How to call the Qase API, when enrichment is on.
#[derive(Debug, Clone)]
pub struct QaseApiConfig {
    /// The base URL, without a trailing `/`: `https://`, or `http://` to a loopback address.
    pub url: String,
    /// The token, or the secret that holds it.
    pub token: Sourced<ApiToken>,
}

impl QaseApiConfig {
    /// Enrichment is on when a token or a token ARN is set (not both); the URL is checked even
    /// when it is off, so a typo is found at once.
    pub(super) fn from_vars(vars: &Vars) -> Result<Option<Self>, ConfigError> {
        let url = api_url(vars.get(ENV_QASE_API_URL).unwrap_or(DEFAULT_QASE_API_URL))?;
        let token = match (
            vars.get(ENV_QASE_API_TOKEN),
            vars.get(ENV_QASE_API_TOKEN_ARN),
        ) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    ENV_QASE_API_TOKEN_ARN,
                    "is set together with QASE_API_TOKEN; set only one of them",
                ));
            }
            (Some(token), None) => Sourced::value(ENV_QASE_API_TOKEN, token, ApiToken::new)?,
            (None, Some(arn)) => Sourced::secret(ENV_QASE_API_TOKEN_ARN, arn, ApiToken::new)?,
        };
        Ok(Some(Self { url, token }))
    }
}

/// An `https://` URL, or `http://` to a loopback address (a local stand-in), with no user,
/// query or fragment; answered without a trailing `/`.
fn api_url(text: &str) -> Result<String, ConfigError> {
    let invalid = |reason| ConfigError::invalid(ENV_QASE_API_URL, reason);
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

#[cfg(test)]
mod tests {
    use super::super::testing::{ARN, SECRET, config};
    use super::*;
    use crate::config::{ENV_SECRET, ENV_TOPIC_ARN};

    #[test]
    fn enrichment_is_off_without_a_token_and_on_with_one() {
        let base = [(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)];
        assert!(config(&base).unwrap().qase_api.is_none());

        let on = config(&[base[0], base[1], (ENV_QASE_API_TOKEN, "qase-token")]).unwrap();
        assert!(!format!("{on:?}").contains("qase-token"), "{on:?}");
        let api = on.qase_api.unwrap();
        assert_eq!(api.url, "https://api.qase.io/v1");
        let Sourced::Value(token) = api.token else {
            panic!("{:?}", api.token)
        };
        assert_eq!(token.expose(), "qase-token");

        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-api-AbCd";
        let from_arn = config(&[base[0], base[1], (ENV_QASE_API_TOKEN_ARN, arn)]).unwrap();
        let Sourced::SecretsManager { arn: secret, .. } = from_arn.qase_api.unwrap().token else {
            panic!("the ARN source")
        };
        assert_eq!(secret.region(), "eu-west-1");

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
