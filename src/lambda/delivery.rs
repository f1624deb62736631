//! The parking queue's batches: each parked plan published as it was planned, and what SNS
//! still refuses handed back to the queue (`ReportBatchItemFailures`) to be tried later.
//!
//! [`deliver`] takes the records in order. A record whose events message SNS takes is
//! delivered, and only then are its companions sent (one that fails is logged, not retried:
//! its event is on the events topic). The first refusal that passes (`crate::parking::parks`)
//! stops the batch: that record and every one after it are reported as failures and hidden
//! for [`crate::parking::retry_delay`] of their receive count, so a recovering SNS is not
//! pressed. A record that is not a parked plan, or that SNS refuses for good, fails alone;
//! after the queue's bounded receives, SQS moves it to the dead-letter queue.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_http::tracing;

use crate::lambda::App;
use crate::lambda::logging::error_chain;
use crate::message::ATTR_EVENT_NAME;
use crate::parking::{self, retry_delay};
use crate::publisher::{Parking, Publisher};

/// SQS's count of the receives of a message, the current one included.
const RECEIVE_COUNT: &str = "ApproximateReceiveCount";

/// Publishes the parked plans of `batch`; answers the records to be tried again.
pub async fn deliver<P: Publisher, Q: Parking>(
    app: &App<P, Q>,
    batch: SqsEvent,
) -> SqsBatchResponse {
    let (mut failed, mut delivered, mut refusing) = (Vec::new(), 0, false);
    for record in &batch.records {
        match (!refusing).then(|| deliver_one(app, record)) {
            Some(delivery) => match delivery.await {
                Delivery::Delivered => delivered += 1,
                Delivery::Failed => failed.push(record),
                Delivery::Refused => {
                    refusing = true;
                    failed.push(record);
                }
            },
            None => failed.push(record),
        }
    }
    for record in &failed {
        retry_later(app, record).await;
    }
    if let Some(emf) = &app.metrics {
        emf.emit_delivery(delivered, failed.len());
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = (failed.iter())
        .map(|record| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            failure
        })
        .collect();
    response
}

/// What became of one record.
enum Delivery {
    /// The events topic took it.
    Delivered,
    /// It is not a parked plan, or the events topic refused it in a way that does not pass
    /// (`sns_rejected`): the others are tried all the same.
    Failed,
    /// The events topic refused it in a way that passes (`crate::parking::parks`): SNS or
    /// its key is still out, and the rest of the batch waits.
    Refused,
}

/// Publishes `record`'s plan.
async fn deliver_one<P: Publisher, Q>(app: &App<P, Q>, record: &SqsMessage) -> Delivery {
    let parked_id = record.message_id.as_deref();
    let plan = match parking::unpark(record.body.as_deref().unwrap_or_default()) {
        Ok(plan) => plan,
        Err(unreadable) => {
            // Its own words only: serde's cause can quote the message's text.
            let cause = unreadable.to_string();
            tracing::error!(parked_id, cause, "not delivered: not a parked plan");
            return Delivery::Failed;
        }
    };
    let event_name = plan.events.attribute(ATTR_EVENT_NAME);
    // The events message first: its companions go out only once it is on the events topic,
    // so a retry never sends them twice.
    // On the heap, as `Topics::publish` keeps its SDK futures (clippy's large_futures).
    let message_id = match Box::pin(app.topics.events.publish(&plan.events)).await {
        Ok(message_id) => message_id,
        Err(refused) => {
            let (error, cause) = (refused.code(), error_chain(&refused));
            tracing::warn!(parked_id, event_name, error, cause, "not delivered yet");
            return if parking::parks(&refused) {
                Delivery::Refused
            } else {
                Delivery::Failed
            };
        }
    };
    let companions = app.topics.publish_companions(&plan).await;
    let failures: Vec<String> = (companions.iter())
        .filter_map(|(topic, answer)| {
            Some(format!("{topic}: {}", error_chain(answer.as_ref().err()?)))
        })
        .collect();
    if failures.is_empty() {
        tracing::info!(parked_id, event_name, message_id, "delivered");
    } else {
        let cause = failures.join("; ");
        tracing::error!(
            parked_id,
            event_name,
            message_id,
            cause,
            "delivered; a companion was not"
        );
    }
    Delivery::Delivered
}

/// Hides `record` for the back-off of its receive count; when that fails, the queue's
/// visibility timeout brings it back all the same.
async fn retry_later<P, Q: Parking>(app: &App<P, Q>, record: &SqsMessage) {
    let (Some(queue), Some(receipt)) = (&app.parking, record.receipt_handle.as_deref()) else {
        return;
    };
    let count = (record.attributes.get(RECEIVE_COUNT)).and_then(|n| n.parse().ok());
    let delay = retry_delay(count.unwrap_or(1));
    if let Err(failed) = Box::pin(queue.retry_in(receipt, delay)).await {
        let cause = error_chain(failed.as_ref());
        tracing::warn!(
            parked_id = record.message_id.as_deref(),
            cause,
            "could not delay the retry"
        );
    }
}
