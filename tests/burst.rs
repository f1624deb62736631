//! A burst of result events, as an automated run reports its test results: 2,000 webhooks from
//! 50 concurrent senders through the real handler and the real SNS adapter against the
//! emulator. Every one must be answered 202 and published exactly once (Qase resends nothing).
//!
//! The subscriber is an HTTP endpoint: an SQS queue in moto slows every delivery down by the
//! number of messages it holds (it walks them all), which is moto's cost, not the function's.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http1;
use common::moto::Moto;
use common::{Api, EventBuilder, app, json_body};
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::lambda::{self, App};

const WEBHOOKS: u32 = 2_000;
const SENDERS: usize = 50;

/// `result.created` #`n`: Qase documents no payload for result events, so only the envelope
/// is Qase's; each body is its own, so copies can be told apart.
fn result_created(n: u32) -> String {
    serde_json::json!({
        "event_name": "result.created",
        "timestamp": 1_764_000_000 + n,
        "payload": {"id": n, "run_id": 7, "status": "passed"},
        "team_member_id": 0,
        "project_code": "DEMO"
    })
    .to_string()
}

/// What one webhook was answered: its number, status, `event_name` echoed, and how long.
struct Answer {
    n: u32,
    status: u16,
    event_name: serde_json::Value,
    took: Duration,
}

/// Webhooks 0..`WEBHOOKS`, each sent once, by `SENDERS` tasks taking the next number in turn.
async fn send_burst(app: Arc<App<SnsPublisher>>) -> Vec<Answer> {
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (app, next) = (app.clone(), next.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                loop {
                    let n = u32::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap();
                    if n >= WEBHOOKS {
                        return answers;
                    }
                    let request = EventBuilder::qase(Api::Http, &result_created(n)).request();
                    let sent = Instant::now();
                    let response = lambda::handle(&app, request).await;
                    answers.push(Answer {
                        n,
                        status: response.status().as_u16(),
                        event_name: json_body(&response)["event_name"].clone(),
                        took: sent.elapsed(),
                    });
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for sender in senders {
        answers.extend(sender.await.unwrap());
    }
    answers
}

/// An HTTP subscriber on loopback: counts the copies delivered of each webhook, by number.
/// Answers its URL and the counts.
fn http_subscriber() -> (String, Arc<Mutex<BTreeMap<u32, usize>>>) {
    let copies = Arc::new(Mutex::new(BTreeMap::new()));
    let counted = copies.clone();
    let address = http1::listen(move |stream| {
        let (mut reader, mut writer) = http1::split(stream);
        while let Some(request) = http1::read_request(&mut reader) {
            count(&counted, &request.body);
            if !http1::respond(&mut writer, "200 OK", "", b"") {
                return;
            }
        }
    });
    (format!("http://{address}/"), copies)
}

fn count(copies: &Mutex<BTreeMap<u32, usize>>, envelope: &[u8]) {
    let envelope: serde_json::Value = serde_json::from_slice(envelope).unwrap();
    let body: serde_json::Value =
        serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    let n = u32::try_from(body["payload"]["id"].as_u64().unwrap()).unwrap();
    *copies.lock().unwrap().entry(n).or_default() += 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_2000_result_webhooks_from_50_senders_is_answered_202_and_published_once() {
    let moto = Moto::start();
    let topic = moto.create_topic("burst", false).await;
    let (subscriber, copies) = http_subscriber();
    // Only messages whose `entity` attribute is `result` reach the subscriber.
    moto.subscribe_http(&topic, &subscriber, r#"{"entity": ["result"]}"#)
        .await;
    let app = Arc::new(app(moto.publisher(&topic)));

    let started = Instant::now();
    let answers = send_burst(app).await;
    let elapsed = started.elapsed();
    // moto delivers within the publish call: every copy has arrived once the last answer has.
    let copies = copies.lock().unwrap().clone();

    assert_eq!(answers.len(), WEBHOOKS as usize);
    let refused: Vec<_> = answers.iter().filter(|a| a.status != 202).collect();
    assert!(
        refused.is_empty(),
        "{} of {WEBHOOKS} not answered 202, the first: #{} {}",
        refused.len(),
        refused[0].n,
        refused[0].status
    );
    assert!(answers.iter().all(|a| a.event_name == "result.created"));
    let expected: Vec<u32> = (0..WEBHOOKS).collect();
    assert_eq!(
        copies.keys().copied().collect::<Vec<_>>(),
        expected,
        "every webhook published"
    );
    let twice: Vec<_> = copies.iter().filter(|(_, c)| **c != 1).collect();
    assert!(twice.is_empty(), "published more than once: {twice:?}");

    let mut took: Vec<Duration> = answers.iter().map(|a| a.took).collect();
    took.sort();
    let at = |percent: usize| took[(took.len() - 1) * percent / 100];
    println!(
        "burst: {WEBHOOKS} result webhooks from {SENDERS} senders in {elapsed:.1?} against the \
         emulator, all 202, each published once; answered in p50 {:.0?}, p99 {:.0?}, max {:.0?}",
        at(50),
        at(99),
        at(100)
    );
}
