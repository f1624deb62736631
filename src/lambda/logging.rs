//! The function's log output, set up once at cold start, and the cause chains its lines carry.
//!
//! What `lambda_http`'s default subscriber does (one line per event, JSON when Lambda's log
//! format is JSON, no timestamps or targets: CloudWatch adds its own; the level from
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`), with one difference: the library lines that print
//! what a request carried are never shown, whatever the level (see [`shown`]). The function's
//! own lines are not filtered here: they never hold a secret (see `crate::lambda::handler`).

use lambda_http::tracing::subscriber::EnvFilter;
use lambda_http::tracing::subscriber::filter::filter_fn;
use lambda_http::tracing::subscriber::fmt::MakeWriter;
use lambda_http::tracing::subscriber::layer::SubscriberExt as _;
use lambda_http::tracing::{Dispatch, Level, Metadata};

use crate::config::LogConfig;

/// Installs the function's subscriber, writing to standard output (Lambda sends it to
/// CloudWatch Logs). Called once, first thing at cold start.
pub fn init(config: &LogConfig) {
    let dispatch = dispatch(config, std::io::stdout);
    // Only fails when a subscriber is already set: then that one stays.
    let _ = lambda_http::tracing::dispatcher::set_global_default(dispatch);
}

/// The subscriber [`init`] installs, writing to `writer` (tests capture it).
pub fn dispatch<W>(config: &LogConfig, writer: W) -> Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .with_default_directive(config.level.into())
        .parse_lossy(&config.directives);
    let lines = lambda_http::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .with_writer(writer);
    // A global filter on top: EnvFilter enables a target whatever the directives say, this
    // one then disables what must never be shown.
    let never = filter_fn(shown);
    if config.json {
        Dispatch::new(lines.json().finish().with(never))
    } else {
        Dispatch::new(lines.finish().with(never))
    }
}

/// Whether a library line may be shown at all. Two may not, at any level:
/// - `lambda_runtime` at `TRACE`: it logs each invocation's raw event ("raw JSON event received
///   from Lambda", `lambda_runtime` 1.5 `layers/api_response.rs`), headers included, so the
///   `X-Qase-Secret` value; its other `TRACE` lines are the runtime loop's steps.
/// - `aws_smithy_runtime`'s response body ("read HTTP response body", `TRACE`): redacted for
///   `GetSecretValue`, whose output is marked sensitive, unless `LOG_SENSITIVE_BODIES=true`, which
///   would print the secret read from Secrets Manager.
///
/// Matched by target, as the filtering of `tracing` works (`tests/logs.rs` shows each kept out
/// and the rest shown); `tests/binary.rs` runs the release binary at `TRACE` and finds no
/// secret in its output, so a library release that moves a line fails it.
pub fn shown(line: &Metadata<'_>) -> bool {
    let target = line.target();
    let hidden = *line.level() == Level::TRACE
        && (target.starts_with("lambda_runtime::")
            || target == "aws_smithy_runtime::client::orchestrator::http");
    !hidden
}

/// `err` and its sources, joined with `: `: the `cause` of a log line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_chain_joins_every_cause() {
        let err = crate::config::ConfigError::Unusable {
            name: "QASE_WEBHOOK_SECRET",
            source: crate::auth::UnusableSecret::TooShort,
        };
        assert_eq!(
            error_chain(&err),
            "QASE_WEBHOOK_SECRET is invalid: the secret has fewer than 16 characters"
        );
    }
}
