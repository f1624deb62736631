//! Cold start only: logging, configuration, the SNS client, then the runtime loop.

use qase_defect_fanout::config::{Config, ENV_SECRET_DISABLED};
use qase_defect_fanout::handler::{self, App};
use qase_defect_fanout::publish::SnsPublisher;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    if config.secret.is_none() {
        lambda_http::tracing::warn!(
            "{ENV_SECRET_DISABLED}=true: webhooks are accepted without checking X-Qase-Secret"
        );
    }
    let defaults = aws_config::defaults(aws_config::BehaviorVersion::latest());
    let publisher = SnsPublisher::load(defaults, &config.topic).await;
    let app = App {
        secret: config.secret,
        fifo: config.topic.is_fifo(),
        allowed_sources: config.allowed_sources,
        publisher,
    };
    handler::run(app).await
}
