//! The release bootstrap, run as Lambda runs it: spawned with a clean environment under a
//! Runtime API emulator (`common::runtime_api`), publishing to the contract oracle. One process
//! answers the whole hostile corpus (refused and accepted cases, × REST API, HTTP API and
//! Function URL events) and events that are not API Gateway events at all. Built with
//! `panic = "abort"`, a single panic would end the process: every invocation must get its
//! documented answer, and the same process must still be there at the end.
//!
//! `make test` builds the release binary first (`cargo build --release`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use common::corpus::full_corpus;
use common::oracle::Oracle;
use common::qase_mock::{self, QaseMock};
use common::runtime_api::{Done, RuntimeApi};
use common::{Api, SECRET};

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

/// `target/release/qase-defect-fanout` of this build's target directory, current with the
/// sources; `QASE_FANOUT_BOOTSTRAP` names another.
fn release_bootstrap() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let path = std::env::var_os("QASE_FANOUT_BOOTSTRAP")
        .map_or_else(|| target.join("release/qase-defect-fanout"), PathBuf::from);
    let built = path
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} does not exist: run `make test`, which builds it first \
             (cargo build --release --bin qase-defect-fanout)",
                path.display()
            )
        });
    assert!(
        built >= newest_source(),
        "{} is older than the sources: run `make test` (or cargo build --release)",
        path.display()
    );
    path
}

/// Events that are no API Gateway event: the runtime must answer each with an invocation
/// error (API Gateway then answers 500 itself) and go on.
const NOT_API_GATEWAY: [&str; 6] = [
    "{}",
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

/// The bootstrap with the environment Lambda gives it (nothing else), its output to `logs`.
fn spawn(
    bootstrap: &Path,
    runtime: &RuntimeApi,
    oracle: &Oracle,
    qase: &QaseMock,
    logs: &Path,
) -> Child {
    Command::new(bootstrap)
        .env_clear()
        .envs(runtime.lambda_environment())
        .env("AWS_ACCESS_KEY_ID", "ASIATESTTESTTESTTEST")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "test/test/test/test/test/test/test/test0",
        )
        .env("AWS_SESSION_TOKEN", "test-session-token")
        .env("AWS_ENDPOINT_URL", &oracle.endpoint)
        .env("TOPIC_ARN", EVENTS)
        .env("NOTIFICATION_TOPIC_ARN", NOTIFICATIONS)
        .env("QASE_WEBHOOK_SECRET", SECRET)
        .env("QASE_API_URL", &qase.url)
        .env("QASE_API_TOKEN", qase_mock::TOKEN)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(logs).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bootstrap.display()))
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
        response["notification_id"].is_string(),
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

    let mut child = spawn(&bootstrap, &runtime, &oracle, &qase, &logs);
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
        2 * published,
        "two publishes per accepted webhook"
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
        !printed.contains("test/test/test"),
        "the AWS secret key was printed"
    );
    let per_request = printed
        .lines()
        .filter(|l| l.contains("\"status\":"))
        .count();
    let requests = expected.len() - NOT_API_GATEWAY.len();
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
         {} invocation errors for events that are not API Gateway events); still running; \
         {} publishes, all within the contract; {} Qase API lookups",
        expected.len(),
        requests - published,
        NOT_API_GATEWAY.len(),
        oracle.publishes().len(),
        lookups.len()
    );
}
