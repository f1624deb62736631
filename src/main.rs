//! Cold start only: logging, configuration, the secret, the SNS client, then the runtime loop.

use aws_config::BehaviorVersion;
use qase_defect_fanout::config::{Config, ENV_SECRET_DISABLED, SecretSource};
use qase_defect_fanout::handler::{self, App};
use qase_defect_fanout::publish::SnsPublisher;
use qase_defect_fanout::secrets;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let secret = match config.secret {
        SecretSource::Value(secret) => Some(secret),
        SecretSource::SecretsManager { arn, region } => {
            let loader = aws_config::defaults(BehaviorVersion::latest());
            Some(secrets::fetch(loader, &arn, &region).await?)
        }
        SecretSource::Disabled => {
            lambda_http::tracing::warn!(
                "{ENV_SECRET_DISABLED}=true: webhooks are accepted without checking X-Qase-Secret"
            );
            None
        }
    };
    let defaults = aws_config::defaults(BehaviorVersion::latest());
    let publisher = SnsPublisher::load(defaults, &config.topic).await;
    let app = App {
        secret,
        fifo: config.topic.is_fifo(),
        allowed_sources: config.allowed_sources,
        publisher,
    };
    handler::run(app).await
}
