//! Cold start only: logging, configuration, the secret, the SNS clients, then the runtime loop.

use qase_defect_fanout::auth::Secret;
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::aws::{self, EndpointUrls, secrets_manager, tls};
use qase_defect_fanout::config::{Config, ENV_SECRET_DISABLED, SecretSource};
use qase_defect_fanout::lambda::{self, App};

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
        tls::https_client(extra_roots),
        aws::credentials(&config.aws.credentials),
        EndpointUrls::new(config.aws.endpoint_urls),
    );
    let secret: Option<Secret> = match config.secret {
        SecretSource::Value(secret) => Some(secret),
        SecretSource::SecretsManager { arn, region } => {
            Some(secrets_manager::fetch(&sdk, &arn, &region).await?)
        }
        SecretSource::Disabled => {
            lambda_http::tracing::warn!(
                "{ENV_SECRET_DISABLED}=true: webhooks are accepted without checking X-Qase-Secret"
            );
            None
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
    };
    lambda::run(app).await
}
