//! Cold start only: logging, configuration, secrets, the SNS clients, the Qase API lookup,
//! then the runtime loop.

use std::process::ExitCode;

use qase_defect_fanout::auth::ApiToken;
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::aws::{self, EndpointUrls, secrets_manager, tls};
use qase_defect_fanout::config::{
    Config, ConfigError, ENV_QASE_API_TOKEN, ENV_QASE_API_TOKEN_ARN, ENV_SECRET_ARN,
    ENV_SECRET_DISABLED, LogConfig, SecretSource, TokenSource,
};
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
    let extra_roots = config
        .aws
        .ca_bundle
        .as_deref()
        .map(tls::read_ca_bundle)
        .transpose()?;
    let sdk = aws::sdk_config(
        tls::https_client(extra_roots.clone()),
        aws::credentials(&config.aws.credentials),
        EndpointUrls::new(config.aws.endpoint_urls),
    );
    let secret = match config.secret {
        SecretSource::Value(secret) => Some(secret),
        SecretSource::SecretsManager { arn, region } => {
            Some(secrets_manager::webhook_secret(&sdk, ENV_SECRET_ARN, &arn, &region).await?)
        }
        SecretSource::Disabled => {
            lambda_http::tracing::warn!(
                "{ENV_SECRET_DISABLED}=true: webhooks are accepted without checking X-Qase-Secret"
            );
            None
        }
    };
    let enricher = match config.qase_api {
        None => None,
        Some(api) => {
            let (token, variable) = match api.token {
                TokenSource::Value(token) => (Some(token), ENV_QASE_API_TOKEN),
                TokenSource::SecretsManager { arn, region } => {
                    let value =
                        secrets_manager::fetch(&sdk, ENV_QASE_API_TOKEN_ARN, &arn, &region).await?;
                    (ApiToken::new(&value), ENV_QASE_API_TOKEN_ARN)
                }
            };
            let invalid = |reason| ConfigError::Invalid {
                name: variable,
                reason,
            };
            let token = token.ok_or_else(|| invalid("the token is blank"))?;
            let api = QaseApi::new(&api.url, &token, extra_roots)
                .map_err(|_| invalid("the token is not a valid HTTP header value"))?;
            Some(Enricher::new(api))
        }
    };
    let events = SnsPublisher::from_config(&sdk, &config.topic);
    let notifications = config
        .notification_topic
        .as_ref()
        .map(|topic| events.for_topic(&sdk, topic));
    let app = App {
        secret,
        allowed_sources: config.allowed_sources,
        fifo: config.topic.is_fifo(),
        events,
        notifications,
        enricher,
        metrics: Some(Emf::stdout(&config.function_name)),
    };
    lambda::run(app).await
}
