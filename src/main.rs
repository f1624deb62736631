//! Cold start only: logging, configuration, secrets, the SNS clients, the Qase API lookup,
//! then the runtime loop.

use qase_defect_fanout::auth::{ApiToken, Secret};
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::aws::{self, EndpointUrls, secrets_manager, tls};
use qase_defect_fanout::config::{
    Config, ConfigError, ENV_QASE_API_TOKEN, ENV_QASE_API_TOKEN_ARN, ENV_SECRET_ARN,
    ENV_SECRET_DISABLED, SecretSource, TokenSource,
};
use qase_defect_fanout::enrichment::Enricher;
use qase_defect_fanout::lambda::{self, App};
use qase_defect_fanout::metrics::Emf;
use qase_defect_fanout::qase_api::QaseApi;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
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
            let value = secrets_manager::fetch(&sdk, ENV_SECRET_ARN, &arn, &region).await?;
            Some(Secret::new(&value).expect("fetch refuses an empty value"))
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
