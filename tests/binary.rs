//! The release bootstrap, run as Lambda runs it: spawned with a clean environment under a
//! Runtime API emulator (`common::runtime_api`), publishing to the contract oracle on its three
//! topics (the chat topic's messages held to the chat schema). One process
//! answers the whole hostile corpus (refused and accepted cases, × REST API, HTTP API and
//! Function URL events), events `lambda_http` cannot convert (it panics on them, and
//! `lambda_runtime` catches the panic) and events that are not API Gateway events at all:
//! every invocation must get its documented answer, and the same process must still be there
//! at the end.
//!
//! `make test` builds the release binary first, as `sam build` does (`cargo lambda build
//! --release`: `target/lambda/qase-defect-fanout/bootstrap`).
#![allow(clippy::too_many_lines)] // The 60-line limit (clippy.toml) is for src/; a test is one scenario.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use common::chat_schema::CHAT_TOPIC;
use common::corpus::{full_corpus, unconvertible};
use common::moto::Moto;
use common::oracle::Oracle;
use common::qase_mock::{self, QaseMock};
use common::runtime_api::{Done, RuntimeApi};
use common::{Api, EventBuilder, SECRET};

const EVENTS: &str = "arn:aws:sns:us-east-1:123456789012:qase-events";
const NOTIFICATIONS: &str = "arn:aws:sns:us-east-1:123456789012:qase-notifications";

/// The newest modification time of the files the binary is built from.
fn newest_source() -> SystemTime {
    fn newest(dir: &Path) -> SystemTime {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    newest(&path)
                } else {
                    path.metadata().unwrap().modified().unwrap()
                }
            })
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["Cargo.toml", "Cargo.lock"]
        .iter()
        .map(|f| root.join(f).metadata().unwrap().modified().unwrap())
        .chain([newest(&root.join("src")), newest(&root.join("certs"))])
        .max()
        .unwrap()
}

/// `lambda/qase-defect-fanout/bootstrap` of this build's target directory, current with the
/// sources; `QASE_FANOUT_BOOTSTRAP` names another.
fn release_bootstrap() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let path = std::env::var_os("QASE_FANOUT_BOOTSTRAP").map_or_else(
        || target.join("lambda/qase-defect-fanout/bootstrap"),
        PathBuf::from,
    );
    let built = path
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} does not exist: run `make test`, which builds it first \
             (cargo lambda build --release --bin qase-defect-fanout)",
                path.display()
            )
        });
    assert!(
        built >= newest_source(),
        "{} is older than the sources: run `make test` (or cargo lambda build --release)",
        path.display()
    );
    path
}

/// Events that are no API Gateway event: the runtime must answer each with an invocation
/// error (API Gateway then answers 500 itself) and go on.
const NOT_API_GATEWAY: [&str; 9] = [
    "{}",
    r#"{"Records":[]}"#,
    r#"{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"x"}}]}"#,
    r#"{"Records":7}"#,
    "[]",
    "null",
    r#"{"httpMethod":7}"#,
    r#"{"version":"2.0","requestContext":{"http":{"method":"GET /"}}}"#,
    "not json at all",
];

/// One invocation to send, and what it must get.
struct Expected {
    what: String,
    event: Vec<u8>,
    /// The HTTP status, or `None` for an invocation error.
    status: Option<u16>,
    code: Option<&'static str>,
    /// The body the events topic must get, for an accepted webhook.
    published: Option<String>,
}

/// The whole corpus for the three event shapes, then the events that are no API Gateway event.
fn invocations() -> Vec<Expected> {
    let mut all = Vec::new();
    for api in [Api::Rest, Api::Http, Api::FunctionUrl] {
        for case in full_corpus(api) {
            all.push(Expected {
                what: format!("{api:?} / {}", case.name),
                event: case.event.event().to_string().into_bytes(),
                status: Some(case.status),
                code: case.code,
                published: case.published,
            });
        }
        // lambda_http panics converting these: lambda_runtime answers an invocation error.
        for (name, event) in unconvertible(api) {
            all.push(Expected {
                what: format!("{api:?} / {name}, which lambda_http cannot convert"),
                event: event.event().to_string().into_bytes(),
                status: None,
                code: None,
                published: None,
            });
        }
    }
    for (n, event) in NOT_API_GATEWAY.iter().enumerate() {
        all.push(Expected {
            what: format!("not an API Gateway event #{n}: {event}"),
            event: event.as_bytes().to_vec(),
            status: None,
            code: None,
            published: None,
        });
    }
    all
}

/// What every run of the bootstrap here is given besides the Runtime API's environment.
const AWS_SECRET_ACCESS_KEY: &str = "test-test-test-test-test-test-test-test0";
/// The AWS session token the bootstrap signs with: a secret like the others.
const AWS_SESSION_TOKEN: &str = "test-session-token-SESSION-5150";

/// The bootstrap with the environment Lambda gives it (nothing else, but for the variables
/// named in `unset`) and `extra`, all it writes (standard output and error, as CloudWatch Logs
/// gets both) to `logs`.
fn spawn(
    bootstrap: &Path,
    runtime: &RuntimeApi,
    oracle: &Oracle,
    (extra, unset): (&[(&str, &str)], &[&str]),
    logs: &Path,
) -> Child {
    let output = std::fs::File::create(logs).unwrap();
    let lambda = runtime.lambda_environment();
    Command::new(bootstrap)
        .env_clear()
        .envs(lambda.into_iter().filter(|(name, _)| !unset.contains(name)))
        .env("AWS_ACCESS_KEY_ID", "ASIATESTTESTTESTTEST")
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN)
        .env("AWS_ENDPOINT_URL", &oracle.endpoint)
        .env("TOPIC_ARN", EVENTS)
        .env("NOTIFICATION_TOPIC_ARN", NOTIFICATIONS)
        .env("CHAT_TOPIC_ARN", CHAT_TOPIC)
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bootstrap.display()))
}

/// The secret and Qase API settings of the hostile-corpus run.
fn with_secret_and_token(qase: &QaseMock) -> [(&'static str, &str); 3] {
    [
        ("QASE_WEBHOOK_SECRET", SECRET),
        ("QASE_API_URL", &qase.url),
        ("QASE_API_TOKEN", qase_mock::TOKEN),
    ]
}

/// Checks one answer against what it must be; answers whether it published.
fn check(expected: &Expected, done: &Done, oracle: &Oracle) -> bool {
    let what = &expected.what;
    let answer: serde_json::Value = serde_json::from_slice(&done.body).unwrap();
    let Some(status) = expected.status else {
        assert!(done.error, "{what}: an invocation error, got {answer}");
        return false;
    };
    assert!(!done.error, "{what}: {answer}");
    assert_eq!(answer["statusCode"], status, "{what}: {answer}");
    let response: serde_json::Value =
        serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        response["error"].as_str(),
        expected.code,
        "{what}: {response}"
    );
    let Some(body) = &expected.published else {
        return false;
    };
    let event = oracle
        .publishes()
        .into_iter()
        .find(|p| Some(p.message_id.as_str()) == response["message_id"].as_str())
        .unwrap_or_else(|| panic!("{what}: no publish for {response}"));
    assert_eq!(event.message.as_ref(), Some(body), "{what}: byte for byte");
    assert!(
        response["notification_id"].is_string() && response["chat_id"].is_string(),
        "{what}: {response}"
    );
    true
}

#[test]
fn one_release_process_answers_the_whole_hostile_corpus_as_documented() {
    let bootstrap = release_bootstrap();
    let oracle = Oracle::start();
    let qase = QaseMock::start();
    let runtime = RuntimeApi::start();
    let expected = invocations();
    runtime.queue(expected.iter().map(|e| e.event.clone()));
    let logs = std::env::temp_dir().join(format!("qase-binary-{}.log", std::process::id()));

    let mut child = spawn(
        &bootstrap,
        &runtime,
        &oracle,
        (&with_secret_and_token(&qase), &[]),
        &logs,
    );
    let log = runtime.wait_answered_by(&mut child, expected.len(), Duration::from_mins(2));
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    let printed = std::fs::read_to_string(&logs).unwrap();
    let _ = std::fs::remove_file(&logs);

    let Some(log) = log else {
        let state = if still_running {
            "is still running"
        } else {
            "is gone"
        };
        panic!("not every invocation was answered; the process {state}; it printed:\n{printed}")
    };
    assert!(still_running, "the process ended; it printed:\n{printed}");
    let mut published = 0;
    for (n, (expected, done)) in expected.iter().zip(&log.done).enumerate() {
        assert_eq!(
            done.request_id,
            format!("req-{}", n + 1),
            "{}: in order",
            expected.what
        );
        published += usize::from(check(expected, done, &oracle));
    }
    assert_eq!(
        oracle.publishes().len(),
        3 * published,
        "three publishes per accepted webhook: events, notification, chat"
    );
    assert_eq!(
        oracle.violations(),
        [],
        "the contract holds for the release binary too"
    );

    assert!(!printed.contains(SECRET), "the secret was printed");
    assert!(
        !printed.contains(qase_mock::TOKEN),
        "the Qase API token was printed"
    );
    let lookups = qase.seen();
    assert!(
        !lookups.is_empty(),
        "defect events were looked up in the Qase API"
    );
    assert!(
        lookups
            .iter()
            .all(|s| s.token.as_deref() == Some(qase_mock::TOKEN))
    );
    assert!(
        !printed.contains(AWS_SECRET_ACCESS_KEY),
        "the AWS secret key was printed"
    );
    let per_request = printed
        .lines()
        .filter(|l| l.contains("\"status\":"))
        .count();
    // The handler never sees an invocation that ends in an invocation error.
    let invocation_errors = expected.iter().filter(|e| e.status.is_none()).count();
    let requests = expected.len() - invocation_errors;
    assert_eq!(per_request, requests, "one line per request:\n{printed}");
    let metrics = common::emf::documents(&printed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(metrics.len(), requests, "one EMF document per request");
    let function = ("FunctionName", common::runtime_api::FUNCTION_NAME);
    let webhooks =
        |outcome| common::emf::count(&metrics, "Webhooks", &[function, ("Outcome", outcome)]);
    assert_eq!(webhooks("published"), u64::try_from(published).unwrap());
    assert_eq!(
        webhooks("rejected"),
        u64::try_from(requests - published).unwrap()
    );
    assert_eq!(webhooks("failed"), 0);
    assert!(
        metrics.iter().all(|d| d["FunctionName"] == function.1),
        "the FunctionName dimension is Lambda's AWS_LAMBDA_FUNCTION_NAME"
    );
    println!(
        "release bootstrap: {} invocations in one process ({published} published, {} refused, \
         {invocation_errors} invocation errors for events lambda_http cannot convert or that \
         are not API Gateway events); still running; {} publishes, all within the contract; {} \
         Qase API lookups",
        expected.len(),
        requests - published,
        oracle.publishes().len(),
        lookups.len()
    );
}

/// A wrong secret a caller sends: perhaps an old one, so a secret all the same.
const WRONG_SECRET: &str = "wrong-secret-9f8e7d6c5b4a";
/// The previous secret, accepted while Qase is switched over (`QASE_WEBHOOK_SECRET_PREVIOUS`).
const PREVIOUS_SECRET: &str = "previous-secret-1a2b3c4d5e";

/// `value` as it reads inside any base64 text: encoded after 0, 1 and 2 other bytes, less the
/// characters at either end that also depend on its neighbours.
fn base64_forms(value: &str) -> Vec<String> {
    use base64::Engine as _;
    (0..3)
        .map(|offset| {
            let mut bytes = vec![b'x'; offset];
            bytes.extend_from_slice(value.as_bytes());
            let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
            encoded[(offset * 4).div_ceil(3)..(bytes.len() * 4) / 3].to_owned()
        })
        .collect()
}

/// Every secret and token value the process knows or is sent, raw and base64-encoded, that
/// `printed` contains, by name. The values are letters, digits and `-` only, so JSON log lines
/// would carry them unescaped.
fn leaks(printed: &str) -> Vec<String> {
    let values = [
        ("the webhook secret", SECRET),
        ("a wrong secret", WRONG_SECRET),
        ("the previous secret", PREVIOUS_SECRET),
        ("the Qase API token", qase_mock::TOKEN),
        ("the AWS secret access key", AWS_SECRET_ACCESS_KEY),
        ("the AWS session token", AWS_SESSION_TOKEN),
    ];
    let mut found = Vec::new();
    for (what, value) in values {
        if printed.contains(value) {
            found.push(format!("{what} ({value})"));
        }
        for form in base64_forms(value) {
            if printed.contains(&form) {
                found.push(format!("{what}, base64-encoded ({form})"));
            }
        }
    }
    found
}

#[test]
fn base64_forms_find_a_value_wherever_it_starts_in_the_encoding() {
    use base64::Engine as _;
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    for prefix in ["", "a", "ab", "abc", "{\"x-qase-secret\":\""] {
        let encoded = encode(&format!("{prefix}{SECRET}\"}}"));
        assert!(
            base64_forms(SECRET)
                .iter()
                .any(|f| encoded.contains(f.as_str())),
            "{prefix:?}: {encoded}"
        );
    }
    assert_eq!(base64_forms("abc")[0], "YWJj", "'abc' alone");
    assert!(!encode("an unrelated text").contains(&base64_forms(SECRET)[1]));
}

/// Webhooks with the right secret, a wrong one and none, a body that is no webhook, one sent
/// base64-encoded, and one with the previous secret; defect events are looked up in the Qase
/// API with the token.
fn requests_with_every_kind_of_secret() -> Vec<Vec<u8>> {
    let created = common::qase_fixture("defect.created");
    let resolved = common::qase_fixture("defect.resolved");
    let events = [
        EventBuilder::qase(Api::Http, &created),
        EventBuilder::qase(Api::Rest, &resolved),
        EventBuilder::with_secret(Api::Http, WRONG_SECRET, &created),
        EventBuilder::new(Api::FunctionUrl).body(&created),
        EventBuilder::qase(Api::Http, "{not json"),
        EventBuilder::new(Api::Rest)
            .header("X-Qase-Secret", SECRET)
            .base64_body(resolved.as_bytes()),
        EventBuilder::with_secret(Api::Http, PREVIOUS_SECRET, &created),
    ];
    events
        .iter()
        .map(|e| e.event().to_string().into_bytes())
        .collect()
}

/// Runs the bootstrap with `env` (see [`spawn`]) over [`requests_with_every_kind_of_secret`];
/// answers its statuses and everything it printed.
fn run_logging(
    bootstrap: &Path,
    oracle: &Oracle,
    env: (&[(&str, &str)], &[&str]),
) -> (Vec<u16>, String) {
    let runtime = RuntimeApi::start();
    let events = requests_with_every_kind_of_secret();
    let count = events.len();
    runtime.queue(events);
    let logs = std::env::temp_dir().join(format!(
        "qase-binary-logs-{}-{}.log",
        std::process::id(),
        oracle.publishes().len()
    ));
    let mut child = spawn(bootstrap, &runtime, oracle, env, &logs);
    let log = runtime.wait_answered_by(&mut child, count, Duration::from_mins(1));
    let _ = child.kill();
    let _ = child.wait();
    let printed = std::fs::read_to_string(&logs).unwrap();
    let _ = std::fs::remove_file(&logs);
    let log = log.unwrap_or_else(|| panic!("not every invocation was answered:\n{printed}"));
    let statuses = log
        .done
        .iter()
        .map(|done| {
            let answer: serde_json::Value = serde_json::from_slice(&done.body).unwrap();
            u16::try_from(answer["statusCode"].as_u64().unwrap()).unwrap()
        })
        .collect();
    (statuses, printed)
}

#[test]
fn no_secret_or_token_reaches_the_output_at_trace_whichever_variable_sets_the_level() {
    let bootstrap = release_bootstrap();
    let oracle = Oracle::start();
    let qase = QaseMock::start();
    let moto = Moto::start();
    let arn = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(moto.create_secret("qase-webhook", SECRET));
    let enrichment = [
        ("QASE_API_URL", qase.url.as_str()),
        ("QASE_API_TOKEN", qase_mock::TOKEN),
    ];

    // The template's ApplicationLogLevel set to TRACE: Lambda sets AWS_LAMBDA_LOG_LEVEL.
    let lambda_level = run_logging(
        &bootstrap,
        &oracle,
        (
            &[
                ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
                ("QASE_WEBHOOK_SECRET", SECRET),
                ("QASE_WEBHOOK_SECRET_PREVIOUS", PREVIOUS_SECRET),
                enrichment[0],
                enrichment[1],
            ],
            &[],
        ),
    );
    // RUST_LOG alone, the secret read from Secrets Manager, and the SDK told to print the
    // bodies it marks sensitive (GetSecretValue's).
    let rust_log = run_logging(
        &bootstrap,
        &oracle,
        (
            &[
                ("RUST_LOG", "trace"),
                ("QASE_WEBHOOK_SECRET_ARN", &arn),
                ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &moto.endpoint),
                ("LOG_SENSITIVE_BODIES", "true"),
                enrichment[0],
                enrichment[1],
            ],
            &["AWS_LAMBDA_LOG_LEVEL"],
        ),
    );

    // The previous secret is accepted beside the value from the environment; a secret in
    // Secrets Manager has its own previous version (AWSPREVIOUS), none here: 401.
    for (what, (statuses, printed), previous) in [
        ("AWS_LAMBDA_LOG_LEVEL=TRACE", lambda_level, 202),
        ("RUST_LOG=trace", rust_log, 401),
    ] {
        assert_eq!(
            statuses,
            [202, 202, 401, 401, 400, 202, previous],
            "{what}:\n{printed}"
        );
        if previous == 202 {
            let said = printed
                .lines()
                .filter(|l| l.contains(r#""secret":"previous""#));
            assert_eq!(said.count(), 1, "{what}: the log line says so:\n{printed}");
        }
        let trace = printed.lines().filter(|l| l.contains(r#""level":"TRACE""#));
        assert!(
            trace.count() >= 20,
            "{what}: the run logged at TRACE:\n{printed}"
        );
        assert!(
            printed.contains("transmitting request"),
            "{what}: the SDK's TRACE lines are shown:\n{printed}"
        );
        assert_eq!(
            printed
                .lines()
                .filter(|l| l.contains(r#""status":"#))
                .count(),
            7,
            "{what}: one line per request"
        );
        assert_eq!(leaks(&printed), Vec::<String>::new(), "{what}:\n{printed}");
        println!(
            "{what}: {} lines printed, no secret or token in them",
            printed.lines().count()
        );
    }
}

#[test]
fn a_blank_or_short_secret_stops_init_naming_the_variable_never_the_value() {
    let bootstrap = release_bootstrap();
    let oracle = Oracle::start();
    // Three spaces; 15 characters, one under the template's minimum.
    for value in ["   ", "short-secret-15"] {
        let runtime = RuntimeApi::start();
        let logs = std::env::temp_dir().join(format!("qase-weak-{}.log", std::process::id()));
        let mut child = spawn(
            &bootstrap,
            &runtime,
            &oracle,
            (&[("QASE_WEBHOOK_SECRET", value)], &[]),
            &logs,
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let printed = std::fs::read_to_string(&logs).unwrap();
        let _ = std::fs::remove_file(&logs);
        let status = status.unwrap_or_else(|| panic!("{value:?}: init went on:\n{printed}"));
        assert!(!status.success(), "{value:?}: {status}");
        assert!(
            printed.contains("QASE_WEBHOOK_SECRET is invalid"),
            "{value:?}: the message names the variable:\n{printed}"
        );
        assert!(
            value.trim().is_empty() || !printed.contains(value),
            "the message shows the value:\n{printed}"
        );
        let asked = runtime.wait_done(0, Duration::ZERO).unwrap().next_at.len();
        assert_eq!(asked, 0, "{value:?}: no invocation was asked for");
    }
}

/// A batch of the parking queue, as Lambda's SQS event source hands it over: each record a
/// parking queue message (`body`), with its id and receive count.
fn sqs_batch(records: &[(&str, &str)]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = (records.iter())
        .map(|(id, body)| {
            serde_json::json!({
                "messageId": id,
                "receiptHandle": format!("receipt-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:qase-parked",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
        .to_string()
        .into_bytes()
}

#[test]
fn the_release_process_delivers_a_batch_of_the_parking_queue_and_answers_webhooks_as_well() {
    use qase_defect_fanout::fanout::{Companions, Topics, plan};
    use qase_defect_fanout::message::DeliverableBody;
    use qase_defect_fanout::parking::park;
    use qase_defect_fanout::qase::Webhook;

    let body = common::numbered_webhook(7);
    let webhook = Webhook::parse(&body).unwrap();
    let topics = Topics {
        events: (),
        fifo_events: false,
        companions: Companions {
            notification: Some(()),
            chat: Some(()),
        },
        chat_filter: None,
    };
    let planned = plan(
        &webhook,
        DeliverableBody::new(&webhook, &body).unwrap(),
        None,
        &topics,
    );
    let parked = park(&planned, &Companions::default());

    let bootstrap = release_bootstrap();
    let oracle = Oracle::start();
    let runtime = RuntimeApi::start();
    runtime.queue([
        sqs_batch(&[("parked-1", &parked), ("poison", "not a parked plan")]),
        EventBuilder::qase(Api::Http, &common::numbered_webhook(8))
            .event()
            .to_string()
            .into_bytes(),
    ]);
    let logs = std::env::temp_dir().join(format!("qase-binary-sqs-{}.log", std::process::id()));
    let secret = [("QASE_WEBHOOK_SECRET", SECRET)];
    let mut child = spawn(&bootstrap, &runtime, &oracle, (&secret, &[]), &logs);
    let log = runtime.wait_answered_by(&mut child, 2, Duration::from_mins(1));
    let _ = child.kill();
    let _ = child.wait();
    let printed = std::fs::read_to_string(&logs).unwrap();
    let _ = std::fs::remove_file(&logs);
    let log = log.unwrap_or_else(|| panic!("not both invocations were answered:\n{printed}"));

    let batch: serde_json::Value = serde_json::from_slice(&log.done[0].body).unwrap();
    assert!(!log.done[0].error, "{batch}");
    assert_eq!(
        batch,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "poison"}]}),
        "the poison record handed back, the parked one delivered"
    );
    let webhook: serde_json::Value = serde_json::from_slice(&log.done[1].body).unwrap();
    assert_eq!(webhook["statusCode"], 202, "{webhook}");
    let published = oracle.publishes();
    let events: Vec<_> = (published.iter())
        .filter(|p| p.topic_arn.as_deref() == Some(EVENTS))
        .map(|p| p.message.clone().unwrap_or_default())
        .collect();
    assert_eq!(events, [body, common::numbered_webhook(8)], "byte for byte");
    assert_eq!(published.len(), 6, "events, notification and chat, twice");
    assert_eq!(oracle.violations(), []);
    let metrics = common::emf::documents(&printed).unwrap_or_else(|e| panic!("{e}"));
    let function = ("FunctionName", common::runtime_api::FUNCTION_NAME);
    assert_eq!(common::emf::count(&metrics, "Delivered", &[function]), 1);
    assert_eq!(
        common::emf::count(&metrics, "DeliveryRetries", &[function]),
        1
    );
}
