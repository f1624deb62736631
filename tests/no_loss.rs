//! No loss under load: 1 000 webhooks from concurrent senders through the real SNS client,
//! with faults switched on and off by a proxy; every 2xx is delivered exactly once and
//! nothing answered 5xx is delivered.
#![allow(clippy::too_many_lines)] // The 60-line limit (clippy.toml) is for src/; a test is one scenario.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::Message;
use common::faults::{Fault, FaultProxy};
use common::moto::Moto;
use common::{Api, EventBuilder, app, json_body, numbered_webhook as webhook, send};
use lambda_http::http::StatusCode;
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::config::TopicArn;
use qase_defect_fanout::lambda::App;

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
        Fault::SERVER_ERROR,
        Fault::THROTTLE,
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
    // Without raw delivery: the SNS envelope carries the `MessageId` we answered.
    let queue = moto.subscribe_envelope_queue(&topic, "no-loss", None).await;
    let proxy = std::sync::Arc::new(FaultProxy::start(&moto.endpoint));
    let aws = common::moto::sdk_config_for(&proxy.endpoint);
    let app = std::sync::Arc::new(app(SnsPublisher::from_config(
        &aws,
        &TopicArn::parse(&topic).unwrap(),
    )));

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
