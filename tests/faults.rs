//! SNS faults, injected by a proxy between the real SNS client and the emulator: for each,
//! the function answers 502/503 well inside 10 s, logs one error line with the cause, has
//! published nothing it calls failed, and recovers with the same warm client as soon as the
//! fault clears. Then a no-loss run of 1 000 webhooks with faults switched on and off.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::Message;
use common::faults::{Fault, FaultProxy};
use common::moto::Moto;
use common::{Api, EventBuilder, SECRET, capture_logs, json_body, qase_fixture, send};
use lambda_http::http::StatusCode;
use lambda_http::tracing::Level;
use qase_defect_fanout::config::TopicArn;
use qase_defect_fanout::handler::App;
use qase_defect_fanout::publish::{
    ATTEMPT_TIMEOUT, MAX_ATTEMPTS, PUBLISH_TIMEOUT, Publisher, SnsPublisher,
};
use qase_defect_fanout::webhook::Secret;

/// Qase's deadline is 15 s; we promise an answer in under 10 s.
const ANSWER_DEADLINE: Duration = Duration::from_secs(10);

struct Rig {
    moto: Moto,
    proxy: FaultProxy,
    queue: String,
    app: App<SnsPublisher>,
}

/// The emulator, a topic with a raw queue, and the production publisher aimed at the proxy.
async fn rig(name: &str) -> Rig {
    let moto = Moto::start();
    let topic = moto.create_topic(name, false).await;
    let queue = moto.subscribe_queue(&topic, name, None).await;
    let proxy = FaultProxy::start(&moto.endpoint);
    let credentials =
        aws_sdk_sns::config::Credentials::new("testing", "testing", None, None, "proxy");
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&proxy.endpoint)
        .credentials_provider(credentials);
    let publisher = SnsPublisher::load(loader, &TopicArn::parse(&topic).unwrap()).await;
    let app = App {
        secret: Secret::new(SECRET),
        fifo: false,
        allowed_sources: None,
        publisher,
    };
    Rig {
        moto,
        proxy,
        queue,
        app,
    }
}

/// A `defect.created` body of its own, so that copies can be told apart.
fn webhook(n: usize) -> String {
    qase_fixture("defect.created").replace(r#""id": 1,"#, &format!(r#""id": {n},"#))
}

/// Sends webhook `n`; answers the status, the error code (if any) and how long it took.
async fn post<P: Publisher>(app: &App<P>, n: usize) -> (StatusCode, Option<String>, Duration) {
    let started = Instant::now();
    let response = send(app, &EventBuilder::qase(Api::Http, &webhook(n))).await;
    let elapsed = started.elapsed();
    let code = json_body(&response)["error"].as_str().map(str::to_owned);
    (response.status(), code, elapsed)
}

/// Runs one fault: what is answered, how fast, what was logged and delivered, and recovery.
async fn fault_then_recovery(
    fault: Fault,
    status: StatusCode,
    code: &str,
    attempts: Option<usize>,
) -> Duration {
    let rig = rig(&format!("fault-{}", code.replace('_', "-"))).await;
    let (logs, _guard) = capture_logs(Level::INFO);

    rig.proxy.set(fault);
    let (got, error, elapsed) = post(&rig.app, 1).await;

    println!("{fault:?}: answered {got} {error:?} in {elapsed:?}");
    assert_eq!(got, status, "{fault:?}");
    assert_eq!(error.as_deref(), Some(code), "{fault:?}");
    assert!(elapsed < ANSWER_DEADLINE, "{fault:?} took {elapsed:?}");
    if let Some(attempts) = attempts {
        assert_eq!(rig.proxy.requests(), attempts, "{fault:?}: attempts made");
    }
    let text = logs.text();
    let errors: Vec<_> = text.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{text}");
    assert!(
        errors[0].contains("cause="),
        "the cause is logged: {}",
        errors[0]
    );
    assert!(
        rig.moto.drain(&rig.queue).await.is_empty(),
        "{fault:?}: nothing delivered"
    );

    // The fault clears: the same warm client publishes the next request at once.
    rig.proxy.clear().await;
    logs.clear();
    let (got, code, recovery) = post(&rig.app, 2).await;
    assert_eq!(
        got,
        StatusCode::ACCEPTED,
        "{fault:?}: recovered? {code:?} after {recovery:?}; logs:\n{}",
        logs.text()
    );
    let delivered = rig.moto.drain(&rig.queue).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].body(), Some(webhook(2).as_str()));
    elapsed
}

#[tokio::test(flavor = "current_thread")]
async fn refused_connections_answer_503_and_recover() {
    // Nothing reaches the proxy: every attempt is refused by the kernel.
    let attempts = Some(0);
    fault_then_recovery(
        Fault::Refuse,
        StatusCode::SERVICE_UNAVAILABLE,
        "sns_unavailable",
        attempts,
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn reset_connections_answer_503_after_every_attempt_and_recover() {
    let attempts = Some(MAX_ATTEMPTS as usize);
    fault_then_recovery(
        Fault::Reset,
        StatusCode::SERVICE_UNAVAILABLE,
        "sns_unavailable",
        attempts,
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn sns_500s_answer_503_after_every_attempt_and_recover() {
    let attempts = Some(MAX_ATTEMPTS as usize);
    fault_then_recovery(
        Fault::ServerError,
        StatusCode::SERVICE_UNAVAILABLE,
        "sns_unavailable",
        attempts,
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn throttling_answers_503_after_every_attempt_and_recovers() {
    let attempts = Some(MAX_ATTEMPTS as usize);
    fault_then_recovery(
        Fault::Throttle,
        StatusCode::SERVICE_UNAVAILABLE,
        "sns_throttled",
        attempts,
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_silent_sns_answers_503_when_the_publish_budget_runs_out() {
    let elapsed = fault_then_recovery(
        Fault::Hang,
        StatusCode::SERVICE_UNAVAILABLE,
        "sns_unavailable",
        None,
    )
    .await;
    // Attempts of ATTEMPT_TIMEOUT each, cut by the whole-publish budget: the answer comes
    // when the budget is spent, not before and not much after.
    assert!(elapsed >= PUBLISH_TIMEOUT, "{elapsed:?}");
    assert!(
        elapsed < PUBLISH_TIMEOUT + Duration::from_millis(500),
        "{elapsed:?}"
    );
    assert!(
        ATTEMPT_TIMEOUT * MAX_ATTEMPTS > PUBLISH_TIMEOUT,
        "the budget is what cuts"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_sns_within_the_attempt_timeout_still_publishes_once() {
    let rig = rig("slow").await;
    rig.proxy.set(Fault::Slow(Duration::from_secs(1)));

    let (status, _, elapsed) = post(&rig.app, 7).await;

    println!("Slow(1 s): answered {status} in {elapsed:?}");
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < ATTEMPT_TIMEOUT,
        "{elapsed:?}"
    );
    assert_eq!(rig.proxy.requests(), 1, "no retry");
    assert_eq!(rig.moto.drain(&rig.queue).await.len(), 1, "exactly once");
}

#[tokio::test(flavor = "current_thread")]
async fn a_sns_slower_than_the_attempt_timeout_is_at_least_once_not_lost() {
    // Each attempt reaches SNS but answers after the client gave up: the answer is 503 (not
    // confirmed), and the copies that SNS did take arrive. This is the documented
    // at-least-once case; nothing the function answered 2xx for is missing.
    let rig = rig("too-slow").await;
    rig.proxy
        .set(Fault::Slow(ATTEMPT_TIMEOUT + Duration::from_secs(1)));

    let (status, code, elapsed) = post(&rig.app, 8).await;
    println!("Slow(3.5 s): answered {status} {code:?} in {elapsed:?}");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(elapsed < ANSWER_DEADLINE, "{elapsed:?}");

    // Wait (bounded) for the proxy's late forwards to land, then count them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut copies = Vec::new();
    while copies.len() < rig.proxy.requests() && Instant::now() < deadline {
        copies.extend(rig.moto.drain(&rig.queue).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("  late copies delivered: {}", copies.len());
    assert!(!copies.is_empty() && copies.len() <= MAX_ATTEMPTS as usize);
    assert!(copies.iter().all(|m| m.body() == Some(webhook(8).as_str())));
}

/// A queue subscribed without raw delivery: the SNS envelope carries the `MessageId` we answered.
async fn non_raw_queue(moto: &Moto, topic: &str) -> String {
    let url = moto.subscribe_queue(topic, "no-loss", None).await;
    let sns = moto.sns().await;
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .send()
        .await
        .unwrap();
    let arn = subs.subscriptions()[0]
        .subscription_arn()
        .unwrap()
        .to_owned();
    sns.set_subscription_attributes()
        .subscription_arn(arn)
        .attribute_name("RawMessageDelivery")
        .attribute_value("false")
        .send()
        .await
        .unwrap();
    url
}

/// What arrived: the bodies delivered under each SNS `MessageId`.
fn delivered_by_message_id(messages: &[Message]) -> HashMap<String, Vec<String>> {
    let mut delivered: HashMap<String, Vec<String>> = HashMap::new();
    for message in messages {
        let envelope: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
        let id = envelope["MessageId"].as_str().unwrap().to_owned();
        let body = envelope["Message"].as_str().unwrap().to_owned();
        delivered.entry(id).or_default().push(body);
    }
    delivered
}

/// What one webhook of the no-loss run was answered: its number, status and message id.
type Answer = (usize, StatusCode, Option<String>);

/// Sends webhooks `0..total` from `workers` concurrent senders through `app`, switching the
/// proxy's faults by the count of answers: 100 clean, then a fault for the next 25, and so on.
async fn send_all(
    app: &std::sync::Arc<App<SnsPublisher>>,
    proxy: &std::sync::Arc<FaultProxy>,
    total: usize,
    workers: usize,
) -> Vec<Answer> {
    let schedule = [
        Fault::ServerError,
        Fault::Throttle,
        Fault::Reset,
        Fault::Refuse,
    ];
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (app, proxy, answered, next) =
            (app.clone(), proxy.clone(), answered.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= total {
                    return results;
                }
                let response = send(&app, &EventBuilder::qase(Api::Http, &webhook(n))).await;
                let message_id = json_body(&response)["message_id"]
                    .as_str()
                    .map(str::to_owned);
                results.push((n, response.status(), message_id));
                let done = answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                let phase = done % 125;
                proxy.set(if phase >= 100 {
                    schedule[(done / 125) % schedule.len()]
                } else {
                    Fault::None
                });
            }
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.unwrap());
    }
    results
}

/// The no-loss run: `total` webhooks from `workers` concurrent senders, with faults switched
/// on and off by the count of answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_webhook_answered_2xx_is_lost_or_duplicated_under_faults_and_concurrency() {
    const TOTAL: usize = 1_000;
    const WORKERS: usize = 8;
    let moto = std::sync::Arc::new(Moto::start());
    let topic = moto.create_topic("no-loss", false).await;
    let queue = non_raw_queue(&moto, &topic).await;
    let proxy = std::sync::Arc::new(FaultProxy::start(&moto.endpoint));
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&proxy.endpoint)
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "t", "t", None, None, "p",
        ));
    let app = std::sync::Arc::new(App {
        secret: Secret::new(SECRET),
        fifo: false,
        allowed_sources: None,
        publisher: SnsPublisher::load(loader, &TopicArn::parse(&topic).unwrap()).await,
    });

    // Read the queue while sending: moto slows down with every message left in a queue.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drainer = {
        let (moto, queue, stop) = (moto.clone(), queue.clone(), stop.clone());
        tokio::spawn(async move {
            let mut all = Vec::new();
            loop {
                let last_round = stop.load(std::sync::atomic::Ordering::SeqCst);
                let batch = moto.drain(&queue).await;
                if last_round {
                    all.extend(batch);
                    return all;
                }
                if batch.is_empty() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                all.extend(batch);
            }
        })
    };
    let started = Instant::now();
    let results = send_all(&app, &proxy, TOTAL, WORKERS).await;
    proxy.set(Fault::None);
    let elapsed = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let messages = drainer.await.unwrap();
    let delivered = delivered_by_message_id(&messages);
    let by_body: HashMap<&str, usize> =
        delivered
            .values()
            .flatten()
            .fold(HashMap::new(), |mut m, b| {
                *m.entry(b.as_str()).or_default() += 1;
                m
            });

    assert_eq!(results.len(), TOTAL);
    let accepted: Vec<_> = results
        .iter()
        .filter(|r| r.1 == StatusCode::ACCEPTED)
        .collect();
    let refused: Vec<_> = results
        .iter()
        .filter(|r| r.1 != StatusCode::ACCEPTED)
        .collect();
    for (n, _, message_id) in &accepted {
        let id = message_id.as_ref().expect("every 202 has a message id");
        let bodies = delivered
            .get(id)
            .unwrap_or_else(|| panic!("webhook {n}: {id} not delivered"));
        assert_eq!(
            bodies,
            &[webhook(*n)],
            "webhook {n}: delivered once, byte for byte"
        );
        assert_eq!(
            by_body[webhook(*n).as_str()],
            1,
            "webhook {n}: no second copy"
        );
    }
    for (n, status, _) in &refused {
        assert!(status.is_server_error(), "webhook {n}: {status}");
        assert!(
            !by_body.contains_key(webhook(*n).as_str()),
            "webhook {n}: answered {status} yet delivered"
        );
    }
    assert_eq!(
        delivered.len(),
        accepted.len(),
        "nothing delivered that was not answered 202"
    );
    assert!(!refused.is_empty(), "the faults were felt");
    assert!(accepted.len() > TOTAL / 2, "most were published");
    println!(
        "no-loss run: {TOTAL} webhooks, {WORKERS} concurrent senders, {elapsed:?}: {} answered 202, \
         all {} delivered exactly once; {} answered 5xx, 0 of them delivered; {} requests reached the proxy",
        accepted.len(),
        accepted.len(),
        refused.len(),
        proxy.requests()
    );
}
