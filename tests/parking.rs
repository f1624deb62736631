//! An outage loses nothing: when the events topic refuses in a way that passes, the webhook is
//! parked (202) and the delivery handler publishes it later, as it was planned.
//!
//! First with the recording fakes (which refusals park, what the answer and the log say, what
//! a batch reports), then against the emulator: SNS refusing through the fault proxy, the
//! real SQS parking queue, delivery when SNS is back, the dead-letter queue after the bounded
//! receives, and the FIFO keys kept.

mod common;

use common::TestApp as _;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use common::faults::{Fault, FaultProxy};
use common::moto::Moto;
use common::{
    Api, EventBuilder, RecordingPublisher, RecordingQueue, app, capture_logs, json_body,
    numbered_webhook as webhook, send,
};
use lambda_http::http::StatusCode;
use lambda_http::tracing::Level;
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::aws::sqs::SqsQueue;
use qase_defect_fanout::config::TopicArn;
use qase_defect_fanout::lambda::{App, deliver};
use qase_defect_fanout::parking::unpark;
use qase_defect_fanout::publisher::PublishError;

fn unavailable() -> PublishError {
    PublishError::Unavailable("sns is down (test)".into())
}

/// A record of the parking queue as Lambda hands it over.
fn record(id: &str, body: &str, receive_count: u32) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(id.to_owned());
    record.receipt_handle = Some(format!("receipt-{id}"));
    record.body = Some(body.to_owned());
    (record.attributes).insert("ApproximateReceiveCount".into(), receive_count.to_string());
    record.event_source = Some("aws:sqs".into());
    record
}

fn batch(records: Vec<SqsMessage>) -> SqsEvent {
    let mut batch = SqsEvent::default();
    batch.records = records;
    batch
}

fn failures(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    (response.batch_item_failures.iter())
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn a_refusal_that_passes_is_parked_and_answered_202() {
    type Refusal = fn() -> PublishError;
    let cases: [(Refusal, &str); 4] = [
        (unavailable, "sns_unavailable"),
        (|| PublishError::Throttled("x".into()), "sns_throttled"),
        (|| PublishError::KmsDisabled("x".into()), "kms_disabled"),
        (
            || PublishError::KmsAccessDenied("x".into()),
            "kms_access_denied",
        ),
    ];
    for (refusal, code) in cases {
        let app = app(RecordingPublisher::failing(refusal)).with_parking(RecordingQueue::default());
        let (logs, _guard) = capture_logs(Level::INFO);
        let response = send(&app, &EventBuilder::qase(Api::Http, &webhook(1))).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{code}");
        let body = json_body(&response);
        assert_eq!(body["parked"], true, "{body}");
        assert_eq!(body["queue_message_id"], "parked-1");
        assert_eq!(body["refused"], code);
        assert_eq!(body["event_name"], "defect.created");
        let parked = app.parking.as_ref().unwrap().parked();
        assert_eq!(parked.len(), 1, "{code}");
        let plan = unpark(&parked[0]).unwrap();
        assert_eq!(plan.events.message, webhook(1), "the body byte for byte");
        let text = logs.text();
        assert!(
            text.contains("WARN") && text.contains("parked") && text.contains("cause="),
            "{text}"
        );
        assert!(!text.contains("ERROR"), "{text}");
    }
}

#[tokio::test]
async fn a_refusal_of_our_own_configuration_is_never_parked() {
    for refusal in [
        (|| PublishError::Rejected("no such topic".into())) as fn() -> PublishError,
        || PublishError::NoMessageId,
    ] {
        let app = app(RecordingPublisher::failing(refusal)).with_parking(RecordingQueue::default());
        let response = send(&app, &EventBuilder::qase(Api::Http, &webhook(1))).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(json_body(&response)["error"], "sns_rejected");
        assert!(app.parking.as_ref().unwrap().parked().is_empty());
    }
}

#[tokio::test]
async fn when_the_parking_queue_refuses_too_the_answer_is_5xx_with_both_causes() {
    let app =
        app(RecordingPublisher::failing(unavailable)).with_parking(RecordingQueue::refusing());
    let (logs, _guard) = capture_logs(Level::INFO);
    let response = send(&app, &EventBuilder::qase(Api::Http, &webhook(1))).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(&response)["error"], "sns_unavailable");
    let text = logs.text();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert!(
        errors[0].contains("sns is down (test)") && errors[0].contains("sqs refused the message"),
        "both causes: {}",
        errors[0]
    );
}

#[tokio::test]
async fn bad_input_during_an_outage_is_refused_and_never_parked() {
    let app = app(RecordingPublisher::failing(unavailable)).with_parking(RecordingQueue::default());
    for event in [
        EventBuilder::qase(Api::Http, "not json"),
        EventBuilder::with_secret(Api::Http, "wrong-secret-wrong", &webhook(1)),
        EventBuilder::qase(Api::Http, r#"{"payload":{}}"#),
    ] {
        let response = send(&app, &event).await;
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    assert!(app.parking.as_ref().unwrap().parked().is_empty());
}

#[tokio::test]
async fn a_batch_delivers_what_it_can_and_hands_back_what_is_not_a_plan() {
    let outage = app(RecordingPublisher::failing(unavailable))
        .with_notifications(RecordingPublisher::failing(unavailable))
        .with_parking(RecordingQueue::default());
    for n in [1, 2] {
        send(&outage, &EventBuilder::qase(Api::Http, &webhook(n))).await;
    }
    let parked = outage.parking.as_ref().unwrap().parked();

    let deliverer = app(RecordingPublisher::ok())
        .with_notifications(RecordingPublisher::ok())
        .with_parking(RecordingQueue::default());
    let response = deliver(
        &deliverer,
        batch(vec![
            record("a", &parked[0], 1),
            record("poison", "{\"not\":\"a plan\"}", 1),
            record("b", &parked[1], 1),
        ]),
    )
    .await;
    assert_eq!(failures(&response), ["poison"]);
    let events = deliverer.topics.events.calls();
    let bodies: Vec<&str> = events.iter().map(|o| o.message.as_ref()).collect();
    assert_eq!(bodies, [webhook(1), webhook(2)]);
    let notes = deliverer
        .topics
        .companions
        .notification
        .as_ref()
        .unwrap()
        .calls();
    assert_eq!(notes.len(), 2, "the notifications parked with them");
    assert_eq!(notes[0].attributes, events[0].attributes);
    let retries = deliverer.parking.as_ref().unwrap().retries();
    assert_eq!(
        retries,
        [(
            "receipt-poison".to_owned(),
            std::time::Duration::from_secs(30)
        )]
    );
}

#[tokio::test]
async fn while_sns_still_refuses_the_batch_stops_and_backs_off() {
    let outage = app(RecordingPublisher::failing(unavailable))
        .with_notifications(RecordingPublisher::failing(unavailable))
        .with_parking(RecordingQueue::default());
    send(&outage, &EventBuilder::qase(Api::Http, &webhook(1))).await;
    let parked = outage.parking.as_ref().unwrap().parked().remove(0);

    let deliverer = app(RecordingPublisher::failing(unavailable))
        .with_notifications(RecordingPublisher::ok())
        .with_parking(RecordingQueue::default());
    let response = deliver(
        &deliverer,
        batch(vec![
            record("a", &parked, 3),
            record("b", &parked, 1),
            record("c", &parked, 7),
        ]),
    )
    .await;
    assert_eq!(failures(&response), ["a", "b", "c"]);
    assert_eq!(
        deliverer.topics.events.calls().len(),
        1,
        "SNS is asked once, not once a record"
    );
    let delays: Vec<u64> = (deliverer.parking.as_ref().unwrap().retries().iter())
        .map(|(_, delay)| delay.as_secs())
        .collect();
    assert_eq!(
        delays,
        [120, 30, 900],
        "30 s doubled at each receive, 15 min at most"
    );
    let notes = deliverer.topics.companions.notification.as_ref().unwrap();
    assert!(
        notes.calls().is_empty(),
        "no companion for an event the events topic did not take: a retry would send it twice"
    );
}

#[tokio::test]
async fn a_refusal_that_does_not_pass_fails_its_record_and_the_batch_goes_on() {
    let outage =
        app(RecordingPublisher::failing(unavailable)).with_parking(RecordingQueue::default());
    send(&outage, &EventBuilder::qase(Api::Http, &webhook(1))).await;
    let parked = outage.parking.as_ref().unwrap().parked().remove(0);

    // sns_rejected (a topic this stack misconfigured) is not an outage: it does not hold
    // the records behind it, whose receive counts would climb towards the dead-letter queue.
    let deliverer = app(RecordingPublisher::failing(|| {
        PublishError::Rejected("no such topic".into())
    }))
    .with_parking(RecordingQueue::default());
    let response = deliver(
        &deliverer,
        batch(vec![record("a", &parked, 1), record("b", &parked, 1)]),
    )
    .await;
    assert_eq!(failures(&response), ["a", "b"]);
    assert_eq!(
        deliverer.topics.events.calls().len(),
        2,
        "each record tried"
    );
}

/// The emulator: the events topic behind the fault proxy, with a raw subscriber queue, and a
/// parking queue (with a dead-letter queue after `max_receives`) reached directly.
struct Rig {
    moto: Moto,
    proxy: FaultProxy,
    subscriber: String,
    parking_url: String,
    dead_letters: String,
    app: App<SnsPublisher, SqsQueue>,
}

async fn rig(name: &str, fifo: bool, max_receives: u32) -> Rig {
    let moto = Moto::start();
    let topic = moto
        .create_topic(&format!("{name}{}", if fifo { ".fifo" } else { "" }), fifo)
        .await;
    let subscriber = moto
        .subscribe_queue(
            &topic,
            &format!("{name}-sub{}", if fifo { ".fifo" } else { "" }),
            None,
        )
        .await;
    let sqs = moto.sqs();
    let dead_letters = (sqs
        .create_queue()
        .queue_name(format!("{name}-parked-dlq"))
        .send()
        .await)
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dead_letters)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives});
    let parking_url = (sqs.create_queue().queue_name(format!("{name}-parked")))
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let proxy = FaultProxy::start(&moto.endpoint);
    let arn = TopicArn::parse(&topic).unwrap();
    let publisher = SnsPublisher::from_config(&common::moto::sdk_config_for(&proxy.endpoint), &arn);
    let queue = SqsQueue::from_config(&moto.sdk_config(), &arn, &parking_url);
    let mut app = app(publisher).with_parking(queue);
    app.topics.fifo_events = fifo;
    Rig {
        moto,
        proxy,
        subscriber,
        parking_url,
        dead_letters,
        app,
    }
}

impl Rig {
    /// Plays the event source mapping once: receives a batch of the parking queue, hands it
    /// to the delivery handler, deletes what it delivered. Answers the ids handed back.
    async fn poll(&self) -> Vec<String> {
        let sqs = self.moto.sqs();
        let received = (sqs.receive_message().queue_url(&self.parking_url))
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        let records = (received.iter())
            .map(|m| {
                let count = (m.attributes().unwrap())
                    [&MessageSystemAttributeName::ApproximateReceiveCount]
                    .parse()
                    .unwrap();
                let mut r = record(m.message_id().unwrap(), m.body().unwrap(), count);
                r.receipt_handle = m.receipt_handle().map(str::to_owned);
                r
            })
            .collect();
        let failed = failures(&deliver(&self.app, batch(records)).await);
        for message in &received {
            let receipt = message.receipt_handle().unwrap();
            if failed
                .iter()
                .any(|id| Some(id.as_str()) == message.message_id())
            {
                // The back-off passes: the test, not the clock, brings it back.
                (sqs.change_message_visibility().queue_url(&self.parking_url))
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
            } else {
                (sqs.delete_message().queue_url(&self.parking_url))
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .unwrap();
            }
        }
        failed
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sns_refusing_parks_every_webhook_and_sns_back_delivers_each_once() {
    let rig = rig("outage", false, 10).await;
    rig.proxy.set(Fault::SERVER_ERROR);
    for n in 1..=3 {
        let response = send(&rig.app, &EventBuilder::qase(Api::Http, &webhook(n))).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(json_body(&response)["parked"], true);
    }
    assert!(
        rig.moto.drain(&rig.subscriber).await.is_empty(),
        "nothing published yet"
    );
    assert_eq!(
        rig.poll().await.len(),
        3,
        "SNS still refusing: every record handed back"
    );

    rig.proxy.clear().await;
    assert!(rig.poll().await.is_empty());
    let mut bodies: Vec<String> = (rig.moto.drain(&rig.subscriber).await.iter())
        .map(|m| m.body().unwrap().to_owned())
        .collect();
    bodies.sort();
    let mut sent: Vec<String> = (1..=3).map(webhook).collect();
    sent.sort();
    assert_eq!(bodies, sent, "each event once, byte for byte");
    assert!(rig.moto.drain(&rig.parking_url).await.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn the_parking_queue_refusing_too_answers_5xx() {
    let mut rig = rig("both-down", false, 10).await;
    let arn = TopicArn::parse(&rig.moto.create_topic("other", false).await).unwrap();
    let missing = format!("{}-missing", rig.parking_url);
    rig.app.parking = Some(SqsQueue::from_config(
        &rig.moto.sdk_config(),
        &arn,
        &missing,
    ));
    rig.proxy.set(Fault::SERVER_ERROR);
    let (logs, _guard) = capture_logs(Level::INFO);
    let response = send(&rig.app, &EventBuilder::qase(Api::Http, &webhook(1))).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = logs.text();
    assert!(
        text.contains("neither published nor parked") && text.contains("parking:"),
        "{text}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_that_can_never_be_delivered_ends_in_the_dead_letter_queue() {
    let rig = rig("poison", false, 2).await;
    rig.proxy.set(Fault::SERVER_ERROR);
    for n in [1, 2] {
        send(&rig.app, &EventBuilder::qase(Api::Http, &webhook(n))).await;
    }
    rig.proxy.clear().await;
    let sqs = rig.moto.sqs();
    (sqs.send_message().queue_url(&rig.parking_url))
        .message_body("{\"version\":1}")
        .send()
        .await
        .unwrap();
    let mut polls = 0;
    while polls < 10 && !rig.poll().await.is_empty() {
        polls += 1;
    }
    assert!(polls < 10, "the poison message left the parking queue");
    let dead = rig.moto.drain(&rig.dead_letters).await;
    assert_eq!(
        dead.len(),
        1,
        "the poison message, after its bounded receives"
    );
    assert_eq!(dead[0].body(), Some("{\"version\":1}"));
    assert_eq!(
        rig.moto.drain(&rig.subscriber).await.len(),
        2,
        "the others delivered"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_parked_fifo_event_is_delivered_with_its_group_and_deduplication_id() {
    let rig = rig("ordered", true, 10).await;
    rig.proxy.set(Fault::THROTTLE);
    let response = send(&rig.app, &EventBuilder::qase(Api::Http, &webhook(5))).await;
    assert_eq!(json_body(&response)["parked"], true);
    rig.proxy.clear().await;
    let before = rig.proxy.seen().len();
    assert!(rig.poll().await.is_empty());
    let seen = rig.proxy.seen();
    let delivery = String::from_utf8_lossy(&seen[before].body).into_owned();
    // SHA-256 of the body, computed here: the id the first attempt carried.
    let digest = sha256_hex(&webhook(5));
    assert!(
        delivery.contains(&format!("MessageDeduplicationId={digest}")),
        "{delivery}"
    );
    assert!(
        delivery.contains("MessageGroupId=ID"),
        "the project code: {delivery}"
    );
    let first = String::from_utf8_lossy(&seen[0].body).into_owned();
    assert!(
        first.contains(&format!("MessageDeduplicationId={digest}")),
        "{first}"
    );
    assert_eq!(rig.moto.drain(&rig.subscriber).await.len(), 1);
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}
