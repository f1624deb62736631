//! The webhook secret: its value, the previous one during a switch, or a Secrets Manager
//! secret holding both; and [`Sourced`], how any secret or token is given.

use super::{ConfigError, SecretArn, Vars};
use crate::auth::{Check, Secret};

/// The value Qase sends in `X-Qase-Secret` (required unless explicitly disabled).
pub const ENV_SECRET: &str = "QASE_WEBHOOK_SECRET";
/// The secret Qase had before [`ENV_SECRET`], accepted too while Qase is switched over
/// (optional; only with [`ENV_SECRET`]).
pub const ENV_SECRET_PREVIOUS: &str = "QASE_WEBHOOK_SECRET_PREVIOUS";
/// The ARN of a Secrets Manager secret holding the value instead of [`ENV_SECRET`]: its
/// `AWSCURRENT` and `AWSPREVIOUS` versions are accepted, read at cold start and again when a
/// request carries neither.
pub const ENV_SECRET_ARN: &str = "QASE_WEBHOOK_SECRET_ARN";
/// `true` to accept webhooks without a secret; anything but `true`/`false` is an error.
pub const ENV_SECRET_DISABLED: &str = "QASE_WEBHOOK_SECRET_DISABLED";

/// A secret or token: given as its value, or as a Secrets Manager secret to read at cold
/// start (`crate::aws::secrets_manager::resolve`), checked the same way either way.
#[derive(Debug, Clone)]
pub enum Sourced<T> {
    /// The value itself, checked.
    Value(T),
    /// The secret that holds it, named by `variable`.
    SecretsManager {
        /// The variable that named the secret: every error names it.
        variable: &'static str,
        /// The secret's ARN.
        arn: SecretArn,
        /// How its value is checked once read.
        check: Check<T>,
    },
}

impl<T> Sourced<T> {
    /// The value of `variable`, checked with `check`.
    pub(super) fn value(
        variable: &'static str,
        value: &str,
        check: Check<T>,
    ) -> Result<Self, ConfigError> {
        checked(variable, value, check).map(Self::Value)
    }

    /// The secret `arn` named by `variable`, to read at cold start and check with `check`.
    pub(super) fn secret(
        variable: &'static str,
        arn: &str,
        check: Check<T>,
    ) -> Result<Self, ConfigError> {
        let arn = SecretArn::parse(arn).map_err(|reason| ConfigError::invalid(variable, reason))?;
        Ok(Self::SecretsManager {
            variable,
            arn,
            check,
        })
    }
}

/// The previous webhook secret, when set: with [`ENV_SECRET`] only (a secret in Secrets
/// Manager has its own previous version, `AWSPREVIOUS`).
pub(super) fn previous_secret(vars: &Vars) -> Result<Option<Secret>, ConfigError> {
    let Some(previous) = vars.get(ENV_SECRET_PREVIOUS) else {
        return Ok(None);
    };
    if vars.get(ENV_SECRET).is_none() {
        return Err(ConfigError::invalid(
            ENV_SECRET_PREVIOUS,
            "is set without QASE_WEBHOOK_SECRET (with QASE_WEBHOOK_SECRET_ARN, the \
                     secret's AWSPREVIOUS version is the previous one)",
        ));
    }
    checked(ENV_SECRET_PREVIOUS, previous, Secret::new).map(Some)
}

/// `value`, the value of `variable`, checked with `check`.
fn checked<T>(variable: &'static str, value: &str, check: Check<T>) -> Result<T, ConfigError> {
    check(value).map_err(|source| ConfigError::Unusable {
        name: variable,
        source,
    })
}

/// The webhook secret's source: the value, a secret's ARN, or none when checking is
/// explicitly disabled (exactly one of the three).
pub(super) fn secret(vars: &Vars) -> Result<Option<Sourced<Secret>>, ConfigError> {
    let disabled = match vars.get(ENV_SECRET_DISABLED) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ConfigError::invalid(
                ENV_SECRET_DISABLED,
                "must be `true` or `false`",
            ));
        }
    };
    match (vars.get(ENV_SECRET), vars.get(ENV_SECRET_ARN), disabled) {
        (Some(value), None, false) => Sourced::value(ENV_SECRET, value, Secret::new).map(Some),
        (None, Some(arn), false) => Sourced::secret(ENV_SECRET_ARN, arn, Secret::new).map(Some),
        (None, None, true) => Ok(None),
        (None, None, false) => Err(ConfigError::Missing(ENV_SECRET)),
        (Some(_), Some(_), _) => Err(ConfigError::invalid(
            ENV_SECRET_ARN,
            "is set together with QASE_WEBHOOK_SECRET; set only one of them",
        )),
        (_, _, true) => Err(ConfigError::invalid(
            ENV_SECRET_DISABLED,
            "is `true` while a secret is configured; unset one of them",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{ARN, SECRET, config};
    use super::*;
    use crate::auth::UnusableSecret;
    use crate::config::ENV_TOPIC_ARN;

    #[test]
    fn reads_the_previous_secret_only_beside_the_current_value() {
        let old = "old-secret-old-secret";
        let c = config(&[
            (ENV_TOPIC_ARN, ARN),
            (ENV_SECRET, SECRET),
            (ENV_SECRET_PREVIOUS, old),
        ]);
        assert!(c.unwrap().previous_secret.unwrap().matches(old.as_bytes()));
        let none = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, SECRET)]).unwrap();
        assert!(none.previous_secret.is_none());
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-AbCdEf";
        for (vars, starts) in [
            (
                vec![(ENV_SECRET_ARN, arn), (ENV_SECRET_PREVIOUS, old)],
                "QASE_WEBHOOK_SECRET_PREVIOUS is invalid: is set without QASE_WEBHOOK_SECRET",
            ),
            (
                vec![(ENV_SECRET, SECRET), (ENV_SECRET_PREVIOUS, "short")],
                "QASE_WEBHOOK_SECRET_PREVIOUS is invalid",
            ),
        ] {
            let mut all = vec![(ENV_TOPIC_ARN, ARN)];
            all.extend(vars);
            let err = config(&all).unwrap_err().to_string();
            assert!(err.starts_with(starts), "{err}");
            assert!(!err.contains(old), "{err}");
        }
    }
    #[test]
    fn a_blank_or_short_secret_is_refused_naming_the_variable_never_the_value() {
        for (value, why) in [
            ("   ", UnusableSecret::Blank),
            ("short-secret-15", UnusableSecret::TooShort),
        ] {
            let err = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET, value)]).unwrap_err();
            assert_eq!(
                err,
                ConfigError::Unusable {
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
    fn runs_without_a_secret_only_when_explicitly_disabled() {
        let c = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_DISABLED, "true")]).unwrap();
        assert!(c.secret.is_none(), "{:?}", c.secret);
        let err = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_DISABLED, "false")]).unwrap_err();
        assert_eq!(err, ConfigError::Missing(ENV_SECRET));
        let err = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_DISABLED, "yes")]).unwrap_err();
        assert!(err.to_string().starts_with(ENV_SECRET_DISABLED), "{err}");
    }
    #[test]
    fn reads_a_secrets_manager_arn_instead_of_the_value() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-AbCdEf";
        let c = config(&[(ENV_TOPIC_ARN, ARN), (ENV_SECRET_ARN, arn)]).unwrap();
        let Some(Sourced::SecretsManager {
            arn: got, variable, ..
        }) = c.secret
        else {
            panic!("{:?}", c.secret)
        };
        assert_eq!((got.as_str(), got.region()), (arn, "eu-west-1"));
        assert_eq!(variable, ENV_SECRET_ARN);

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
}
