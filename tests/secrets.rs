//! The secret never leaks through `Debug`, and the Secrets Manager source works against the
//! emulator with clear errors. What the logs contain is checked in `tests/logs.rs`.

mod common;

use common::TestApp as _;

use common::moto::Moto;
use common::{
    Api, Captured, EventBuilder, ONE_AT_A_TIME, RecordingPublisher, SECRET, capture_logs,
    json_body, qase_fixture, send,
};
use lambda_http::tracing::Level;
use qase_defect_fanout::auth::Secrets;
use qase_defect_fanout::auth::{ApiToken, Check, Secret};
use qase_defect_fanout::aws::secrets_manager::webhook_secrets;
use qase_defect_fanout::aws::secrets_manager::{SecretFetchError, resolve};
use qase_defect_fanout::config::{Config, SecretArn, Sourced};
use qase_defect_fanout::enrichment::Enricher;
use qase_defect_fanout::metrics::Emf;
use qase_defect_fanout::qase_api::QaseApi;
use qase_defect_fanout::rotation::SecretStore;

#[test]
fn debug_output_of_the_configuration_and_app_is_redacted() {
    let config = Config::from_vars(
        [
            ("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t"),
            ("QASE_WEBHOOK_SECRET", SECRET),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "aws-secret-value"),
            ("QASE_API_TOKEN", "qase-token-value"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
    .unwrap();
    let enricher = Enricher::new(QaseApi::new(
        "https://api.qase.io/v1",
        &ApiToken::new("qase-token-value").unwrap(),
        Vec::new(),
    ));
    let Some(Sourced::Value(secret)) = config.secret.clone() else {
        panic!("the value source was configured");
    };
    let app = common::checking((), Some(secret)).with_enricher(enricher);
    for shown in [
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{app:?}"),
    ] {
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains("aws-secret-value"), "{shown}");
        assert!(!shown.contains("qase-token-value"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}

/// The secret `arn` as the variable `variable` names it, checked as the function checks it.
fn named<T>(variable: &'static str, arn: &str, check: Check<T>) -> Sourced<T> {
    Sourced::SecretsManager {
        variable,
        arn: SecretArn::parse(arn).unwrap(),
        check,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn reads_the_secret_from_secrets_manager_with_clear_errors() {
    let moto = Moto::start();
    let arn = &moto.create_secret("qase-webhook", SECRET).await;

    let secret: Secret = resolve(
        &moto.sdk_config(),
        named("QASE_WEBHOOK_SECRET_ARN", arn, Secret::new),
    )
    .await
    .unwrap();
    assert!(secret.matches(SECRET.as_bytes()));

    // The fetched secret guards the handler like one from the environment.
    let topic = moto.create_topic("from-secrets-manager", false).await;
    let app = common::checking(moto.publisher(&topic), Some(secret));
    let body = qase_fixture("defect.created");
    let ok = send(&app, &EventBuilder::qase(Api::Http, &body)).await;
    assert_eq!(ok.status(), 202);
    let wrong = EventBuilder::with_secret(Api::Http, "nope", &body);
    assert_eq!(send(&app, &wrong).await.status(), 401);

    let missing = arn.replace("qase-webhook", "no-such-secret");
    let err = resolve(
        &moto.sdk_config(),
        named("QASE_API_TOKEN_ARN", &missing, ApiToken::new),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SecretFetchError::Unreadable(..)), "{err}");
    assert!(
        err.to_string().starts_with("QASE_API_TOKEN_ARN: "),
        "the message names the variable that asked: {err}"
    );

    let binary = moto
        .secrets_manager()
        .create_secret()
        .name("binary")
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![1, 2, 3]))
        .send()
        .await
        .unwrap();
    let from_binary = named(
        "QASE_WEBHOOK_SECRET_ARN",
        binary.arn().unwrap(),
        Secret::new,
    );
    let err = resolve(&moto.sdk_config(), from_binary).await.unwrap_err();
    assert!(matches!(err, SecretFetchError::NotAString(_)), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_blank_or_short_secret_in_secrets_manager_stops_init_naming_the_variable() {
    let moto = Moto::start();
    for (name, value) in [("blank", "   "), ("short", "short-secret-15")] {
        let arn = moto.create_secret(name, value).await;
        let err = resolve(
            &moto.sdk_config(),
            named("QASE_WEBHOOK_SECRET_ARN", &arn, Secret::new),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, SecretFetchError::Unusable(..)),
            "{name}: {err}"
        );
        let chain = qase_defect_fanout::lambda::logging::error_chain(&err);
        assert!(chain.starts_with("QASE_WEBHOOK_SECRET_ARN: "), "{chain}");
        assert!(
            chain.ends_with(if name == "blank" {
                "the secret is blank"
            } else {
                "the secret has fewer than 16 characters"
            }),
            "{chain}"
        );
        assert!(
            !chain.contains("short-secret"),
            "the value is never shown: {chain}"
        );
    }
    // A token is checked as one from the environment is: a blank one is refused too.
    let blank = moto.create_secret("blank-token", " \n").await;
    let err = resolve(
        &moto.sdk_config(),
        named("QASE_API_TOKEN_ARN", &blank, ApiToken::new),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SecretFetchError::Unusable(..)), "{err}");
}

const OLD: &str = "old-secret-old-secret";
const NEW: &str = "new-secret-new-secret";

#[tokio::test(flavor = "current_thread")]
async fn a_rotation_in_secrets_manager_takes_effect_without_a_deploy_or_a_cold_start() {
    let moto = Moto::start();
    let arn = moto.create_secret("qase-rotated", OLD).await;
    let source = named("QASE_WEBHOOK_SECRET_ARN", &arn, Secret::new);
    // Read at cold start: never rotated, so there is no AWSPREVIOUS version yet.
    let store = webhook_secrets(&moto.sdk_config(), source, None)
        .await
        .unwrap();
    let topic = moto.create_topic("rotated", false).await;
    let app = common::checking(moto.publisher(&topic), None).with_secrets(store);
    let body = qase_fixture("defect.created");
    let with = |secret: &str| EventBuilder::with_secret(Api::Http, secret, &body);
    assert_eq!(send(&app, &with(OLD)).await.status(), 202);

    // Rotated in Secrets Manager: NEW is AWSCURRENT, OLD AWSPREVIOUS.
    moto.secrets_manager()
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(NEW)
        .send()
        .await
        .unwrap();

    let response = send(&app, &with(NEW)).await;
    assert_eq!(
        response.status(),
        202,
        "read again: {}",
        json_body(&response)
    );
    assert_eq!(
        send(&app, &with(OLD)).await.status(),
        202,
        "AWSPREVIOUS too"
    );
    let wrong = send(&app, &with("neither-of-the-two-42")).await;
    assert_eq!(wrong.status(), 401);
}

#[tokio::test(flavor = "current_thread")]
async fn the_previous_secret_is_accepted_said_in_the_log_line_and_counted() {
    let _one = ONE_AT_A_TIME.lock().await;
    let secrets = Secrets {
        current: Secret::new(NEW).unwrap(),
        previous: Some(Secret::new(OLD).unwrap()),
    };
    let metrics = Captured::default();
    let app = common::checking(RecordingPublisher::ok(), None)
        .with_secrets(SecretStore::fixed(secrets))
        .with_metrics(Emf::to("fanout", Box::new(metrics.clone())));
    let (logs, _guard) = capture_logs(Level::INFO);
    let body = qase_fixture("defect.created");
    let with = |secret: &str| EventBuilder::with_secret(Api::Http, secret, &body);

    assert_eq!(send(&app, &with(OLD)).await.status(), 202);
    assert_eq!(send(&app, &with(NEW)).await.status(), 202);
    assert_eq!(app.topics.events.calls().len(), 2, "published as usual");

    let text = logs.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("secret=\"previous\""), "{text}");
    assert!(!lines[1].contains("secret="), "{text}");
    assert!(!text.contains(OLD) && !text.contains(NEW), "{text}");
    let documents = common::emf::documents(&metrics.text()).unwrap();
    let function = [("FunctionName", "fanout")];
    assert_eq!(
        common::emf::count(&documents, "PreviousSecretUsed", &function),
        1
    );
    assert_eq!(documents.len(), 2);
}
