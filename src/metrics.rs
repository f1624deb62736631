//! Metrics in CloudWatch's Embedded Metric Format (EMF): one JSON document per invocation,
//! printed on a line of its own, from which CloudWatch Logs extracts the metrics.
//!
//! [`document`] is pure: what one request did, in, one line of JSON out. [`Emf`] writes it.
//! Namespace `QaseDefectFanout`; few dimensions (each combination of values is a billed
//! metric):
//! - `Webhooks` (Count) by `FunctionName` × `Outcome` (`published`, `parked`, `rejected`,
//!   `failed`), and
//!   for a non-2xx also by `FunctionName` × `Code` (the error code of the answer);
//! - by `FunctionName` alone: `PublishLatency` (Milliseconds; the SNS publishes of a published
//!   webhook, all topics together), `NotificationFailures` and `ChatFailures` (a published
//!   webhook whose notification, or chat message, was not), `PreviousSecretUsed` (a request
//!   let in by the previous webhook secret), `EnrichmentLookups` and `EnrichmentFailures`
//!   (Count). An enrichment failure is any lookup that added nothing but a 404 (a deleted
//!   defect is an answer, not a failure);
//! - per batch of the parking queue, by `FunctionName`: `Delivered` and `DeliveryRetries`
//!   (Count; [`delivery_document`]).
//!
//! Written here rather than with `metrics` + `metrics_cloudwatch_embedded`: that crate flushes
//! one document per distinct label set from a process-wide registry, while every invocation
//! here is one document whose metrics carry different dimension sets; and what it does is a
//! few serde structs, already a dependency (no cold start or package cost).

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "QaseDefectFanout";
/// Dimension: the Lambda function's name.
pub const DIM_FUNCTION_NAME: &str = "FunctionName";
/// Dimension: `published`, `parked`, `rejected` or `failed`.
pub const DIM_OUTCOME: &str = "Outcome";
/// Dimension: the error code of a non-2xx answer.
pub const DIM_CODE: &str = "Code";
/// Metric: webhooks answered (Count).
pub const WEBHOOKS: &str = "Webhooks";
/// Metric: how long the SNS publishes of a published webhook took (Milliseconds).
pub const PUBLISH_LATENCY: &str = "PublishLatency";
/// Metric: notifications that were not published though their event was (Count; 0 or 1
/// per published webhook).
pub const NOTIFICATION_FAILURES: &str = "NotificationFailures";
/// Metric: chat messages that were not published though their event was (Count; 0 or 1 per
/// published webhook with a chat topic).
pub const CHAT_FAILURES: &str = "ChatFailures";
/// Metric: requests let in by the previous webhook secret (Count; 0 or 1 per request whose
/// secret was accepted): while it is above 0, Qase has not been switched over.
pub const PREVIOUS_SECRET_USED: &str = "PreviousSecretUsed";
/// Metric: Qase API lookups (Count; the paused ones included).
pub const ENRICHMENT_LOOKUPS: &str = "EnrichmentLookups";
/// Metric: lookups that added nothing, but for a deleted defect (Count).
pub const ENRICHMENT_FAILURES: &str = "EnrichmentFailures";

/// Metric: parked webhooks the delivery handler published (Count, per batch of the parking
/// queue).
pub const DELIVERED: &str = "Delivered";
/// Metric: parked webhooks handed back to the parking queue, to be tried later (Count, per
/// batch).
pub const DELIVERY_RETRIES: &str = "DeliveryRetries";

/// What one request did, in the terms of the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// How it ended: the `Outcome` dimension, `published`, `parked`, `rejected` or `failed`.
    pub outcome: &'a str,
    /// The error code of a non-2xx answer.
    pub code: Option<&'a str>,
    /// How long the SNS publishes of a published webhook took.
    pub publish_latency: Option<Duration>,
    /// Whether the notification of a published webhook failed, when one was attempted.
    pub notification_failed: Option<bool>,
    /// Whether the chat message of a published webhook failed, when one was attempted.
    pub chat_failed: Option<bool>,
    /// Whether the previous secret let the request in, when a secret did.
    pub previous_secret_used: Option<bool>,
    /// The Qase API lookup, when there was one.
    pub enrichment: Option<Lookup<'a>>,
}

/// How a Qase API lookup went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup<'a> {
    /// `added`, or why it added nothing (the log's `enrichment=`), a plain property.
    pub code: &'a str,
    /// Whether it counts as a failure: it added nothing, and not because the defect is gone.
    pub failed: bool,
}

/// The EMF document of `request` at `timestamp_ms` (milliseconds since the Unix epoch), as
/// one line of JSON. The metric values, the dimensions and a few plain properties
/// (`Enrichment`) are keys of the root object, as the format requires.
pub fn document(function_name: &str, timestamp_ms: u64, request: &Sample<'_>) -> String {
    let count = |flag: Option<bool>| flag.map(u8::from);
    let lookup = request.enrichment;
    let directives = directives(request);
    let document = Document {
        metadata: Metadata {
            timestamp: timestamp_ms,
            directives,
        },
        function_name,
        outcome: request.outcome,
        code: request.code,
        webhooks: 1,
        publish_latency: request.publish_latency.map(|l| l.as_secs_f64() * 1e3),
        notification_failures: count(request.notification_failed),
        chat_failures: count(request.chat_failed),
        previous_secret_used: count(request.previous_secret_used),
        enrichment_lookups: lookup.map(|_| 1),
        enrichment_failures: lookup.map(|lookup| u8::from(lookup.failed)),
        enrichment: lookup.map(|lookup| lookup.code),
    };
    serde_json::to_string(&document).expect("a document of strings and numbers serialises")
}

/// Which root keys of `request`'s document are metrics, and by which dimensions: `Webhooks`
/// by outcome (and code), the others by function name alone.
fn directives<'a>(request: &Sample<'a>) -> Vec<Directive<'a>> {
    let lookup = request.enrichment;
    let by_function: Vec<MetricDefinition> = [
        (
            PUBLISH_LATENCY,
            "Milliseconds",
            request.publish_latency.is_some(),
        ),
        (
            NOTIFICATION_FAILURES,
            "Count",
            request.notification_failed.is_some(),
        ),
        (CHAT_FAILURES, "Count", request.chat_failed.is_some()),
        (
            PREVIOUS_SECRET_USED,
            "Count",
            request.previous_secret_used.is_some(),
        ),
        (ENRICHMENT_LOOKUPS, "Count", lookup.is_some()),
        (ENRICHMENT_FAILURES, "Count", lookup.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, unit, present)| present.then_some(MetricDefinition { name, unit }))
    .collect();
    let by_outcome: &[&[&str]] = if request.code.is_some() {
        &[
            &[DIM_FUNCTION_NAME, DIM_OUTCOME],
            &[DIM_FUNCTION_NAME, DIM_CODE],
        ]
    } else {
        &[&[DIM_FUNCTION_NAME, DIM_OUTCOME]]
    };
    let webhooks = MetricDefinition {
        name: WEBHOOKS,
        unit: "Count",
    };
    let mut directives = vec![Directive {
        namespace: NAMESPACE,
        dimensions: by_outcome,
        metrics: vec![webhooks],
    }];
    if !by_function.is_empty() {
        directives.push(Directive {
            namespace: NAMESPACE,
            dimensions: &[&[DIM_FUNCTION_NAME]],
            metrics: by_function,
        });
    }
    directives
}

/// The EMF document of one batch of the parking queue at `timestamp_ms`: how many of its
/// records were `delivered`, and how many `retried` later, by function name.
pub fn delivery_document(
    function_name: &str,
    timestamp_ms: u64,
    delivered: usize,
    retried: usize,
) -> String {
    let metrics = [DELIVERED, DELIVERY_RETRIES].map(|name| MetricDefinition {
        name,
        unit: "Count",
    });
    let document = DeliveryDocument {
        metadata: Metadata {
            timestamp: timestamp_ms,
            directives: vec![Directive {
                namespace: NAMESPACE,
                dimensions: &[&[DIM_FUNCTION_NAME]],
                metrics: metrics.into(),
            }],
        },
        function_name,
        delivered,
        delivery_retries: retried,
    };
    serde_json::to_string(&document).expect("a document of strings and numbers serialises")
}

/// One batch's document.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeliveryDocument<'a> {
    #[serde(rename = "_aws")]
    metadata: Metadata<'a>,
    function_name: &'a str,
    delivered: usize,
    delivery_retries: usize,
}

/// One request's document: the metadata, then the dimensions, the metrics and the plain
/// properties, each a root key named as the constants above (a unit test holds them equal).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Document<'a> {
    #[serde(rename = "_aws")]
    metadata: Metadata<'a>,
    function_name: &'a str,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    webhooks: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    publish_latency: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_failures: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chat_failures: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_used: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrichment_lookups: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrichment_failures: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrichment: Option<&'a str>,
}

/// `_aws`: the metadata that says which root keys are metrics, and by which dimensions.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: u64,
    #[serde(rename = "CloudWatchMetrics")]
    directives: Vec<Directive<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'static str,
    dimensions: &'a [&'a [&'a str]],
    metrics: Vec<MetricDefinition<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDefinition<'a> {
    name: &'a str,
    unit: &'a str,
}

/// Writes one EMF document per request, each on its own line.
pub struct Emf {
    function_name: String,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Emf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emf")
            .field("function_name", &self.function_name)
            .finish_non_exhaustive()
    }
}

impl Emf {
    /// To standard output, where Lambda sends it to CloudWatch Logs.
    pub fn stdout(function_name: &str) -> Self {
        Self::to(function_name, Box::new(std::io::stdout()))
    }

    /// To `out` (tests capture it).
    pub fn to(function_name: &str, out: Box<dyn Write + Send>) -> Self {
        Self {
            function_name: function_name.to_owned(),
            out: Mutex::new(out),
        }
    }

    /// Writes the document of `request`, stamped now. A metric that cannot be written is
    /// lost, never the request's answer.
    pub fn emit(&self, request: &Sample<'_>) {
        self.write(|now| document(&self.function_name, now, request));
    }

    /// Writes the document of one batch of the parking queue, stamped now.
    pub fn emit_delivery(&self, delivered: usize, retried: usize) {
        self.write(|now| delivery_document(&self.function_name, now, delivered, retried));
    }

    /// Writes the line `document` makes of the time now, in milliseconds since the epoch.
    fn write(&self, document: impl FnOnce(u64) -> String) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let line = document(now);
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn a_published_webhook_is_counted_by_outcome_with_its_latency() {
        let request = Sample {
            outcome: "published",
            code: None,
            publish_latency: Some(Duration::from_micros(12_500)),
            notification_failed: Some(false),
            chat_failed: None,
            previous_secret_used: None,
            enrichment: Some(Lookup {
                code: "added",
                failed: false,
            }),
        };
        let doc: Value =
            serde_json::from_str(&document("fanout", 1_700_000_000_123, &request)).unwrap();
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_123_u64,
                    "CloudWatchMetrics": [
                        {"Namespace": "QaseDefectFanout",
                         "Dimensions": [["FunctionName", "Outcome"]],
                         "Metrics": [{"Name": "Webhooks", "Unit": "Count"}]},
                        {"Namespace": "QaseDefectFanout",
                         "Dimensions": [["FunctionName"]],
                         "Metrics": [
                             {"Name": "PublishLatency", "Unit": "Milliseconds"},
                             {"Name": "NotificationFailures", "Unit": "Count"},
                             {"Name": "EnrichmentLookups", "Unit": "Count"},
                             {"Name": "EnrichmentFailures", "Unit": "Count"}]}
                    ]
                },
                "FunctionName": "fanout",
                "Outcome": "published",
                "Webhooks": 1,
                "PublishLatency": 12.5,
                "NotificationFailures": 0,
                "EnrichmentLookups": 1,
                "EnrichmentFailures": 0,
                "Enrichment": "added"
            })
        );
    }

    #[test]
    fn a_refused_webhook_is_counted_by_outcome_and_by_code_and_nothing_else() {
        let request = Sample {
            outcome: "rejected",
            code: Some("wrong_secret"),
            publish_latency: None,
            notification_failed: None,
            chat_failed: None,
            previous_secret_used: None,
            enrichment: None,
        };
        let doc: Value = serde_json::from_str(&document("fanout", 1, &request)).unwrap();
        assert_eq!(doc["Code"], "wrong_secret");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"],
            json!([{"Namespace": "QaseDefectFanout",
                    "Dimensions": [["FunctionName", "Outcome"], ["FunctionName", "Code"]],
                    "Metrics": [{"Name": "Webhooks", "Unit": "Count"}]}])
        );
    }

    #[test]
    fn a_lookup_is_counted_and_a_failed_one_twice() {
        for (code, failed, failures) in [("qase_not_found", false, 0), ("qase_timeout", true, 1)] {
            let request = Sample {
                outcome: "published",
                code: None,
                publish_latency: None,
                notification_failed: None,
                chat_failed: None,
                previous_secret_used: None,
                enrichment: Some(Lookup { code, failed }),
            };
            let doc: Value = serde_json::from_str(&document("f", 1, &request)).unwrap();
            assert_eq!(doc["EnrichmentLookups"], 1, "{code}");
            assert_eq!(doc["EnrichmentFailures"], failures, "{code}");
            assert_eq!(doc["Enrichment"], code);
        }
    }

    #[test]
    fn every_metric_a_directive_names_is_a_root_key_and_every_dimension_too() {
        let request = Sample {
            outcome: "failed",
            code: Some("sns_unavailable"),
            publish_latency: Some(Duration::from_millis(3)),
            notification_failed: Some(true),
            chat_failed: Some(false),
            previous_secret_used: Some(true),
            enrichment: Some(Lookup {
                code: "qase_timeout",
                failed: true,
            }),
        };
        let doc: Value = serde_json::from_str(&document("fanout", 1, &request)).unwrap();
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        let mut named = 0;
        for directive in directives {
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(doc[name].is_number(), "{name} is not a root key: {doc}");
                named += 1;
            }
            for set in directive["Dimensions"].as_array().unwrap() {
                for dimension in set.as_array().unwrap() {
                    assert!(doc[dimension.as_str().unwrap()].is_string(), "{dimension}");
                }
            }
        }
        assert_eq!(named, 7, "Webhooks and the six by FunctionName: {doc}");
    }
}
