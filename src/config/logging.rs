//! How the function logs: Lambda's advanced logging controls, or `RUST_LOG`.

use lambda_http::tracing::level_filters::LevelFilter;

/// Lambda's advanced logging controls: the level the function is deployed with
/// (`LoggingConfig.ApplicationLogLevel`: `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`).
pub const ENV_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
/// Lambda's advanced logging controls: `JSON` for one JSON object per line.
pub const ENV_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
/// `tracing` directives such as `info,aws_smithy_runtime=debug`; also the level when
/// [`ENV_LOG_LEVEL`] is unset (as `lambda_http`'s default subscriber reads them).
pub const ENV_RUST_LOG: &str = "RUST_LOG";

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
    pub fn from_env() -> Self {
        Self::from_vars(super::process_vars())
    }

    /// Reads the logging variables from `vars` (name, value).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars = super::Vars::new(vars);
        let level = match vars.get(ENV_LOG_LEVEL).or(vars.get(ENV_RUST_LOG)) {
            Some(text) if text.eq_ignore_ascii_case("fatal") => LevelFilter::ERROR,
            Some(text) => text.parse().unwrap_or(LevelFilter::INFO),
            None => LevelFilter::INFO,
        };
        Self {
            level,
            directives: vars.get(ENV_RUST_LOG).unwrap_or_default().to_owned(),
            json: vars
                .get(ENV_LOG_FORMAT)
                .is_some_and(|f| f.eq_ignore_ascii_case("json")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
