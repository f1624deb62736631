//! Cold start only: logging, configuration, the secret, the SNS client, then the runtime loop.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use qase_defect_fanout::config::{Config, ENV_SECRET_DISABLED, SecretSource};
use qase_defect_fanout::handler::{self, App};
use qase_defect_fanout::publish::{
    EndpointUrls, SnsPublisher, https_client, read_ca_bundle, sdk_config,
};
use qase_defect_fanout::secrets;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let extra_roots = config
        .ca_bundle
        .as_deref()
        .map(read_ca_bundle)
        .transpose()?;
    // What Lambda provides: credentials in the environment, and nothing in profile files.
    let aws = sdk_config(
        https_client(extra_roots),
        EnvironmentVariableCredentialsProvider::new(),
        EndpointUrls::from_env(),
    );
    let secret = match config.secret {
        SecretSource::Value(secret) => Some(secret),
        SecretSource::SecretsManager { arn, region } => {
            Some(secrets::fetch(&aws, &arn, &region).await?)
        }
        SecretSource::Disabled => {
            lambda_http::tracing::warn!(
                "{ENV_SECRET_DISABLED}=true: webhooks are accepted without checking X-Qase-Secret"
            );
            None
        }
    };
    let app = App {
        secret,
        fifo: config.topic.is_fifo(),
        allowed_sources: config.allowed_sources,
        publisher: SnsPublisher::from_config(&aws, &config.topic),
    };
    handler::run(app).await
}
