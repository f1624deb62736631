//! The secret never leaks through `Debug`, and the Secrets Manager source works against the
//! emulator with clear errors. What the logs contain is checked in `tests/logs.rs`.

mod common;

use common::moto::Moto;
use common::{Api, EventBuilder, SECRET, qase_fixture, send};
use qase_defect_fanout::auth::{ApiToken, Check, Secret};
use qase_defect_fanout::aws::secrets_manager::{SecretFetchError, resolve};
use qase_defect_fanout::config::{Config, SecretArn, Sourced};
use qase_defect_fanout::enrichment::Enricher;
use qase_defect_fanout::lambda::App;
use qase_defect_fanout::qase_api::QaseApi;

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
    let app = App::new((), Some(secret)).with_enricher(enricher);
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
    let app = App::new(moto.publisher(&topic), Some(secret));
    let body = qase_fixture("defect.created");
    let ok = send(&app, &EventBuilder::qase(Api::Http, &body)).await;
    assert_eq!(ok.status(), 202);
    let wrong = EventBuilder::new(Api::Http)
        .header("X-Qase-Secret", "nope")
        .body(&body);
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
