//! Cold start only: logging, configuration, the secrets, the AWS and Qase API clients, then
//! the runtime loop.

use std::process::ExitCode;

use qase_defect_fanout::aws::secrets_manager::resolve;
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::aws::{self, EndpointUrls, tls};
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
    let roots = (config.aws.ca_bundle.as_deref())
        .map(tls::read_ca_bundle)
        .transpose()?;
    let sdk = aws::sdk_config(
        tls::https_client(roots.as_ref()),
        aws::credentials(&config.aws.credentials),
        EndpointUrls::new(config.aws.endpoint_urls),
    );
    let secret = if let Some(sourced) = config.secret {
        Some(resolve(&sdk, sourced).await?)
    } else {
        lambda_http::tracing::warn!(
            "{ENV_SECRET_DISABLED}=true: webhooks are accepted without checking X-Qase-Secret"
        );
        None
    };
    let events = SnsPublisher::from_config(&sdk, &config.topic);
    let notifications =
        (config.notification_topic.as_ref()).map(|topic| events.for_topic(&sdk, topic));
    let chat = (config.chat_topic.as_ref()).map(|topic| events.for_topic(&sdk, topic));
    let mut app = App::new(events, secret).with_metrics(Emf::stdout(&config.function_name));
    if config.topic.is_fifo() {
        app = app.with_fifo_events();
    }
    if let Some(allowed) = config.allowed_sources {
        app = app.with_allowed_sources(allowed);
    }
    if let Some(notifications) = notifications {
        app = app.with_notifications(notifications);
    }
    if let Some(chat) = chat {
        app = app.with_chat(chat, config.chat_filter);
    }
    if let Some(api) = config.qase_api {
        let token = resolve(&sdk, api.token).await?;
        let roots = roots.map(tls::CaBundle::into_certs).unwrap_or_default();
        app = app.with_enricher(Enricher::new(QaseApi::new(&api.url, &token, roots)));
    }
    lambda::run(app).await
}
