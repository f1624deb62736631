//! A burst of result events, as an automated run reports its test results: 2,000 webhooks from
//! 50 concurrent senders through the real handler and the real SNS adapter, via a counting
//! proxy, against the emulator. What the product guarantees, and so what is asserted: every
//! one is answered 202 and published at least once (Qase resends nothing); a second copy only
//! where the SDK made a second attempt (an attempt that timed out on a busy machine may still
//! have reached SNS: the at-least-once case of docs/requests-and-responses.md); and on a FIFO
//! topic every attempt of one webhook carries the same deduplication id, by which SNS delivers
//! it once.
//!
//! The subscriber is an HTTP endpoint: an SQS queue in moto slows every delivery down by the
//! number of messages it holds (it walks them all), which is moto's cost, not the function's.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestApp as _;
use common::faults::FaultProxy;
use common::http1;
use common::moto::{Moto, sdk_config_for};
use common::publish::Publish;
use common::{Api, EventBuilder, app, json_body};
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::config::TopicArn;
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

/// Webhooks 0..`count`, each sent once, by `SENDERS` tasks taking the next number in turn.
async fn send_burst(app: Arc<App<SnsPublisher>>, count: u32) -> Vec<Answer> {
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (app, next) = (app.clone(), next.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                loop {
                    let n = u32::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap();
                    if n >= count {
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
    let n = webhook_number(envelope["Message"].as_str().unwrap());
    *copies.lock().unwrap().entry(n).or_default() += 1;
}

/// The number of the webhook whose body is `message`.
fn webhook_number(message: &str) -> u32 {
    let body: serde_json::Value = serde_json::from_str(message).unwrap();
    u32::try_from(body["payload"]["id"].as_u64().unwrap()).unwrap()
}

/// Every `Publish` attempt that reached `proxy`, by webhook number, with the SDK's number of
/// that attempt (1 for a first attempt, 2 and up for its retries).
fn attempts(proxy: &FaultProxy) -> BTreeMap<u32, Vec<(u32, Publish)>> {
    let mut attempts: BTreeMap<u32, Vec<(u32, Publish)>> = BTreeMap::new();
    for seen in proxy.seen() {
        let publish = Publish::from_form(&seen.body, String::new()).unwrap();
        let n = webhook_number(publish.message.as_deref().unwrap());
        let attempt = seen
            .attempt
            .expect("the SDK numbers every attempt (amz-sdk-request)");
        attempts.entry(n).or_default().push((attempt, publish));
    }
    attempts
}

/// The handler asked for each webhook's publish once: one first attempt each, whatever the
/// SDK's retries added.
fn assert_one_publish_each(attempts: &BTreeMap<u32, Vec<(u32, Publish)>>, count: u32) {
    assert_eq!(attempts.len(), count as usize, "every webhook attempted");
    let firsts: Vec<_> = (attempts.iter())
        .map(|(n, tries)| (n, tries.iter().filter(|(attempt, _)| *attempt == 1).count()))
        .filter(|(_, firsts)| *firsts != 1)
        .collect();
    assert!(
        firsts.is_empty(),
        "webhooks not published exactly once by the handler: {firsts:?}"
    );
}

/// The production publisher for `topic`, through a counting proxy in front of the emulator.
fn through_proxy(moto: &Moto, topic: &str) -> (SnsPublisher, FaultProxy) {
    let proxy = FaultProxy::start(&moto.endpoint);
    let aws = sdk_config_for(&proxy.endpoint);
    let publisher = SnsPublisher::from_config(&aws, &TopicArn::parse(topic).unwrap());
    (publisher, proxy)
}

/// Every answer a 202 that names the event.
fn assert_all_accepted(answers: &[Answer], count: u32) {
    assert_eq!(answers.len(), count as usize);
    let refused: Vec<_> = answers.iter().filter(|a| a.status != 202).collect();
    assert!(
        refused.is_empty(),
        "{} of {count} not answered 202, the first: #{} {}",
        refused.len(),
        refused[0].n,
        refused[0].status
    );
    assert!(answers.iter().all(|a| a.event_name == "result.created"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_2000_result_webhooks_from_50_senders_is_answered_202_and_published_at_least_once()
 {
    let moto = Moto::start();
    let topic = moto.create_topic("burst", false).await;
    let (subscriber, copies) = http_subscriber();
    // Only messages whose `entity` attribute is `result` reach the subscriber.
    moto.subscribe_http(&topic, &subscriber, r#"{"entity": ["result"]}"#)
        .await;
    let (publisher, proxy) = through_proxy(&moto, &topic);
    let app = Arc::new(app(publisher));

    let started = Instant::now();
    let answers = send_burst(app, WEBHOOKS).await;
    let elapsed = started.elapsed();
    // moto delivers within the publish call: every copy has arrived once the last answer has.
    let copies = copies.lock().unwrap().clone();
    let attempts = attempts(&proxy);

    assert_all_accepted(&answers, WEBHOOKS);
    let expected: Vec<u32> = (0..WEBHOOKS).collect();
    assert_eq!(
        copies.keys().copied().collect::<Vec<_>>(),
        expected,
        "every webhook published at least once"
    );
    assert_one_publish_each(&attempts, WEBHOOKS);
    // A copy is delivered per attempt that reached SNS, at most: a second copy of a webhook
    // comes only from the SDK's second attempt.
    let unexplained: Vec<_> = (copies.iter())
        .filter(|(n, c)| **c > attempts.get(n).map_or(0, Vec::len))
        .collect();
    assert!(
        unexplained.is_empty(),
        "more copies than attempts (webhook, copies): {unexplained:?}"
    );
    let twice = copies.values().filter(|c| **c > 1).count();

    let mut took: Vec<Duration> = answers.iter().map(|a| a.took).collect();
    took.sort();
    let at = |percent: usize| took[(took.len() - 1) * percent / 100];
    println!(
        "burst: {WEBHOOKS} result webhooks from {SENDERS} senders in {elapsed:.1?} against the \
         emulator, all 202, each published at least once ({twice} twice after a retried \
         attempt); answered in p50 {:.0?}, p99 {:.0?}, max {:.0?}",
        at(50),
        at(99),
        at(100)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_fifo_topic_every_attempt_of_one_webhook_carries_its_one_deduplication_id() {
    const FIFO_WEBHOOKS: u32 = 500;
    let moto = Moto::start();
    let topic = moto.create_topic("burst.fifo", true).await;
    let (publisher, proxy) = through_proxy(&moto, &topic);
    let app = Arc::new(app(publisher).with_fifo_events());

    let answers = send_burst(app, FIFO_WEBHOOKS).await;
    let attempts = attempts(&proxy);

    assert_all_accepted(&answers, FIFO_WEBHOOKS);
    assert_one_publish_each(&attempts, FIFO_WEBHOOKS);
    // moto's FIFO topics do not deduplicate; SNS does: "If a message with a particular
    // message deduplication ID is published successfully, any messages published with the
    // same message deduplication ID, within the five-minute deduplication interval, are
    // accepted successfully but aren't delivered" (Amazon SNS Developer Guide, "Message
    // deduplication for FIFO topics"). So a retried attempt cannot make a second copy there.
    let mut distinct = std::collections::BTreeSet::new();
    for (n, tries) in &attempts {
        let ids: std::collections::BTreeSet<_> = (tries.iter())
            .map(|(_, p)| {
                (
                    p.message_deduplication_id.clone(),
                    p.message_group_id.clone(),
                )
            })
            .collect();
        assert_eq!(ids.len(), 1, "webhook {n}: attempts differ: {ids:?}");
        let (dedup, group) = ids.into_iter().next().unwrap();
        assert!(dedup.as_ref().is_some_and(|d| d.len() == 64), "webhook {n}");
        assert_eq!(group.as_deref(), Some("DEMO"), "webhook {n}");
        distinct.insert(dedup);
    }
    // Each webhook its own id: none is taken for another's copy.
    assert_eq!(
        distinct.len(),
        FIFO_WEBHOOKS as usize,
        "one deduplication id per webhook"
    );
}
