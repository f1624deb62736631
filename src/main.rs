//! Cold start only: logging, configuration, the secrets, the AWS and Qase API clients, then
//! the runtime loop.

use std::process::ExitCode;

use qase_defect_fanout::aws::secrets_manager::{resolve, webhook_secrets};
use qase_defect_fanout::aws::sqs::SqsQueue;
use qase_defect_fanout::aws::{self, sns};
use qase_defect_fanout::config::{Config, ENV_SECRET_DISABLED, LogConfig};
use qase_defect_fanout::enrichment::Enricher;
use qase_defect_fanout::lambda::logging::{self, error_chain};
use qase_defect_fanout::lambda::{self, App};
use qase_defect_fanout::metrics::Emf;
use qase_defect_fanout::qase_api::QaseApi;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    logging::init(&LogConfig::from_env());
    match start().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line that names the variable to fix (never a value); Lambda then reports
            // the init as failed.
            let cause = error_chain(err.as_ref());
            lambda_http::tracing::error!(cause, "the function stopped");
            ExitCode::FAILURE
        }
    }
}

async fn start() -> Result<(), lambda_http::Error> {
    let config = Config::from_env()?;
    let (sdk, extra_roots) = aws::from_environment(config.aws)?;
    let secret = if let Some(source) = config.secret {
        Some(webhook_secrets(&sdk, source, config.previous_secret).await?)
    } else {
        lambda_http::tracing::warn!(
            "{ENV_SECRET_DISABLED}=true: webhooks are accepted without checking X-Qase-Secret"
        );
        None
    };
    let enricher = match config.qase_api {
        Some(api) => {
            let token = resolve(&sdk, api.token).await?;
            Some(Enricher::new(QaseApi::new(&api.url, &token, extra_roots)))
        }
        None => None,
    };
    let app = App {
        secret,
        allowed_sources: config.allowed_sources,
        topics: sns::publishers(&sdk, &config.topics),
        enricher,
        metrics: Some(Emf::stdout(&config.function_name)),
        parking: (config.parking_queue.as_deref())
            .map(|url| SqsQueue::from_config(&sdk, &config.topics.events, url)),
    };
    lambda::run(app).await
}
