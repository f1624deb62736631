//! Credentials and who may call: the webhook secret with the `X-Qase-Secret` and
//! source-address checks, and the Qase API token the function calls Qase with.
//!
//! Pure functions over header values and addresses, so the rules read (and are tested) apart
//! from HTTP and Lambda. Nothing here logs, and no error message ever contains a secret.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use lambda_http::http::HeaderValue;
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// The request header in which Qase echoes the webhook's secret (matched case-insensitively).
pub const SECRET_HEADER: &str = "x-qase-secret";

/// The fewest characters a webhook secret may have. The template's `QaseWebhookSecret`
/// states the same minimum (`AllowedPattern`), and a test keeps the two equal; this one also
/// holds for a secret read from Secrets Manager, which the template cannot see.
pub const MIN_SECRET_CHARS: usize = 16;

/// The shared secret Qase echoes in [`SECRET_HEADER`]. Its `Debug` output is redacted and
/// it is compared in constant time. It keeps only the value's SHA-256 digest, computed once:
/// a request's value is compared as a digest too, always 32 bytes, since subtle's slice
/// comparison returns at once on a length difference, which would tell how long it is.
#[derive(Clone)]
pub struct Secret([u8; 32]);

fn digest(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

/// Why a value cannot be the webhook secret or the Qase API token. The message never holds
/// the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnusableSecret {
    /// Empty, or only whitespace: a webhook secret would admit a request with a blank header.
    #[error("the secret is blank")]
    Blank,
    /// A webhook secret of fewer than [`MIN_SECRET_CHARS`] characters: guessable.
    #[error("the secret has fewer than {MIN_SECRET_CHARS} characters")]
    TooShort,
    /// A token that no HTTP header can carry (a control character inside it).
    #[error("the secret is not a valid HTTP header value")]
    NotAHeaderValue,
}

/// How a secret value is checked and wrapped, wherever it comes from (the environment or
/// Secrets Manager): [`Secret::new`], [`ApiToken::new`].
pub type Check<T> = fn(&str) -> Result<T, UnusableSecret>;

impl Secret {
    /// Wraps a secret value: at least [`MIN_SECRET_CHARS`] characters, not all whitespace.
    pub fn new(value: &str) -> Result<Self, UnusableSecret> {
        if value.trim().is_empty() {
            return Err(UnusableSecret::Blank);
        }
        if value.chars().count() < MIN_SECRET_CHARS {
            return Err(UnusableSecret::TooShort);
        }
        Ok(Self(digest(value.as_bytes())))
    }

    /// Whether `candidate` is exactly the secret, compared in constant time.
    #[must_use]
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.same(&digest(candidate)).into()
    }

    /// Whether `candidate` is the secret's digest, in constant time.
    fn same(&self, candidate: &[u8; 32]) -> Choice {
        self.0.as_slice().ct_eq(candidate.as_slice())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A Qase API token (`Token` header). Its `Debug` output is redacted and it has no `Display`:
/// it can only be read on purpose, with [`ApiToken::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(Box<str>);

impl ApiToken {
    /// Wraps a token, without the whitespace around it (a newline pasted into a secret with
    /// it); a token that is empty then, or that no header can carry, is refused.
    pub fn new(value: &str) -> Result<Self, UnusableSecret> {
        let value = value.trim();
        if value.is_empty() {
            return Err(UnusableSecret::Blank);
        }
        if HeaderValue::from_str(value).is_err() {
            return Err(UnusableSecret::NotAHeaderValue);
        }
        Ok(Self(value.into()))
    }

    /// The token itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// Why a caller is not let in. Each variant maps to a stable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The caller's address is not in `ALLOWED_SOURCE_IPS`.
    #[error("requests from this address are not allowed (ALLOWED_SOURCE_IPS)")]
    ForbiddenSource,
    /// No `X-Qase-Secret` header.
    #[error("the X-Qase-Secret header is missing")]
    MissingSecret,
    /// `X-Qase-Secret` is present but is not the configured secret (or is sent twice).
    #[error("the X-Qase-Secret header does not match the configured secret")]
    WrongSecret,
}

impl AuthError {
    /// The stable, machine-readable code clients see in the error body.
    pub fn code(self) -> &'static str {
        match self {
            Self::ForbiddenSource => "forbidden_source",
            Self::MissingSecret => "missing_secret",
            Self::WrongSecret => "wrong_secret",
        }
    }
}

/// The webhook secrets a request may carry: the current one and, while Qase is being switched
/// over to it, the previous one.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// The secret Qase is configured with, or is being switched to.
    pub current: Secret,
    /// The one it had, accepted too until it is removed.
    pub previous: Option<Secret>,
}

/// Which secret let a request in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// `QASE_WEBHOOK_SECRET` (or the secret's `AWSCURRENT` version).
    Current,
    /// The previous secret: Qase has not been switched over yet.
    Previous,
}

impl Secrets {
    /// Only `current`.
    pub fn only(current: Secret) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    /// Exactly one `X-Qase-Secret` value (of all those the request carried), equal to one of
    /// the secrets. Both are compared, each in constant time, whichever matches: how long the
    /// check takes does not tell which one a value was close to (as digests: see [`Secret`]).
    pub fn check<'a>(
        &self,
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Admitted, AuthError> {
        let mut values = values.into_iter();
        let value = digest(values.next().ok_or(AuthError::MissingSecret)?);
        let current = self.current.same(&value);
        let previous = (self.previous.as_ref()).map_or_else(|| Choice::from(0), |p| p.same(&value));
        if values.next().is_some() {
            return Err(AuthError::WrongSecret);
        }
        match (bool::from(current), bool::from(previous)) {
            (true, _) => Ok(Admitted::Current),
            (false, true) => Ok(Admitted::Previous),
            (false, false) => Err(AuthError::WrongSecret),
        }
    }
}

/// The caller's address, as API Gateway reports it, is in one of the `allowed` blocks. An
/// absent or unparseable address is never allowed.
pub fn check_source(allowed: &[IpNet], source_ip: Option<&str>) -> Result<(), AuthError> {
    match source_ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
        Some(ip) if allowed.iter().any(|net| net.contains(&ip)) => Ok(()),
        _ => Err(AuthError::ForbiddenSource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_matches_only_the_exact_bytes() {
        let secret = Secret::new("s3cr3t-s3cr3t-42").unwrap();
        assert!(secret.matches(b"s3cr3t-s3cr3t-42"));
        for wrong in [
            &b""[..],
            b"s3cr3t-s3cr3t-4",
            b"s3cr3t-s3cr3t-42 ",
            b"S3CR3T-S3CR3T-42",
            b"s3cr3t-s3cr3t-43",
        ] {
            assert!(!secret.matches(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn secret_refuses_a_blank_or_short_value_and_redacts_debug() {
        for blank in ["", "   ", "\t\n", &" ".repeat(40)] {
            assert_eq!(
                Secret::new(blank).err(),
                Some(UnusableSecret::Blank),
                "{blank:?}"
            );
        }
        // 15 and 16 characters; 16 characters of two bytes each (32 bytes) are still 16.
        assert_eq!(
            Secret::new("abcdefghijklmno").err(),
            Some(UnusableSecret::TooShort)
        );
        assert!(Secret::new("abcdefghijklmnop").is_ok());
        assert_eq!(
            Secret::new(&"é".repeat(15)).err(),
            Some(UnusableSecret::TooShort)
        );
        assert!(Secret::new(&"é".repeat(16)).is_ok());
        let shown = format!("{:?}", Secret::new("hunter2-hunter2-hunter2").unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        let why = UnusableSecret::TooShort.to_string();
        assert_eq!(why, "the secret has fewer than 16 characters");
    }

    #[test]
    fn the_api_token_is_redacted_and_refuses_empty() {
        assert_eq!(ApiToken::new("").err(), Some(UnusableSecret::Blank));
        assert_eq!(ApiToken::new(" \n").err(), Some(UnusableSecret::Blank));
        assert_eq!(
            ApiToken::new("a\nb").err(),
            Some(UnusableSecret::NotAHeaderValue),
            "no header carries a line break inside a value"
        );
        assert_eq!(ApiToken::new("tok\n").unwrap().expose(), "tok");
        let token = ApiToken::new("qase-token-value").unwrap();
        assert_eq!(token.expose(), "qase-token-value");
        assert!(!format!("{token:?}").contains("qase-token-value"));
    }

    #[test]
    fn exactly_one_matching_secret_header_is_let_in() {
        const GOOD: &str = "s3cr3t-s3cr3t-42";
        let secrets = Secrets::only(Secret::new(GOOD).unwrap());
        let check = |values: &[&str]| secrets.check(values.iter().map(|v| v.as_bytes()));
        assert_eq!(check(&[GOOD]), Ok(Admitted::Current));
        assert_eq!(check(&[]), Err(AuthError::MissingSecret));
        assert_eq!(check(&["nope"]), Err(AuthError::WrongSecret));
        assert_eq!(check(&[GOOD, GOOD]), Err(AuthError::WrongSecret));
        assert_eq!(check(&["nope", GOOD]), Err(AuthError::WrongSecret));
    }

    #[test]
    fn the_previous_secret_is_let_in_too_and_said_so() {
        const NEW: &str = "new-secret-new-secret";
        const OLD: &str = "old-secret-old-secret";
        let secrets = Secrets {
            current: Secret::new(NEW).unwrap(),
            previous: Some(Secret::new(OLD).unwrap()),
        };
        let check = |values: &[&str]| secrets.check(values.iter().map(|v| v.as_bytes()));
        assert_eq!(check(&[NEW]), Ok(Admitted::Current));
        assert_eq!(check(&[OLD]), Ok(Admitted::Previous));
        assert_eq!(check(&["neither-of-them-42"]), Err(AuthError::WrongSecret));
        assert_eq!(
            check(&[OLD, NEW]),
            Err(AuthError::WrongSecret),
            "sent twice"
        );
    }

    #[test]
    fn only_addresses_inside_an_allowed_block_are_let_in() {
        let allowed: Vec<IpNet> = vec![
            "3.141.66.247/32".parse().unwrap(),
            "10.1.0.0/16".parse().unwrap(),
        ];
        assert_eq!(check_source(&allowed, Some("3.141.66.247")), Ok(()));
        assert_eq!(check_source(&allowed, Some("10.1.200.3")), Ok(()));
        for refused in [
            Some("3.141.66.248"),
            Some("2001:db8::1"),
            Some("not-an-ip"),
            None,
        ] {
            assert_eq!(
                check_source(&allowed, refused),
                Err(AuthError::ForbiddenSource),
                "{refused:?}"
            );
        }
    }
}
