//! Metrics in CloudWatch's Embedded Metric Format (EMF): one JSON document per invocation,
//! printed on a line of its own, from which CloudWatch Logs extracts the metrics.
//!
//! [`document`] is pure: what one request did, in, one line of JSON out. [`Emf`] writes it.
//! Namespace `QaseDefectFanout`; few dimensions (each combination of values is a billed
//! metric):
//! - `Webhooks` (Count) by `FunctionName` × `Outcome` (`published`, `rejected`, `failed`), and
//!   for a non-2xx also by `FunctionName` × `Code` (the error code of the answer);
//! - by `FunctionName` alone: `PublishLatency` (Milliseconds; the SNS publishes of a published
//!   webhook, all topics together), `NotificationFailures` and `ChatFailures` (a published
//!   webhook whose notification, or chat message, was not), `PreviousSecretUsed` (a request
//!   let in by the previous webhook secret), `EnrichmentLookups` and `EnrichmentFailures`
//!   (Count). An
//!   enrichment failure is any lookup that added nothing but a 404 (a deleted defect is an
//!   answer, not a failure).
//!
//! Written here rather than with `metrics` + `metrics_cloudwatch_embedded`: that crate flushes
//! one document per distinct label set from a process-wide registry, while every invocation
//! here is one document whose metrics carry different dimension sets; and what it does is a
//! few serde structs, already a dependency (no cold start or package cost).

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "QaseDefectFanout";
/// Dimension: the Lambda function's name.
pub const DIM_FUNCTION_NAME: &str = "FunctionName";
/// Dimension: `published`, `rejected` or `failed`.
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

/// What one request did, in the terms of the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// How it ended: the `Outcome` dimension, `published`, `rejected` or `failed`.
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
/// (`Enrichment`) are keys of the root object, as the format requires. Serialized straight
/// from the sample, without a JSON tree in between: it is written for every request.
#[must_use]
pub fn document(function_name: &str, timestamp_ms: u64, request: &Sample<'_>) -> String {
    let mut metrics: Vec<(&str, Amount)> = Vec::with_capacity(6);
    if let Some(latency) = request.publish_latency {
        metrics.push((
            PUBLISH_LATENCY,
            Amount::Milliseconds(latency.as_secs_f64() * 1e3),
        ));
    }
    if let Some(failed) = request.notification_failed {
        metrics.push((NOTIFICATION_FAILURES, Amount::Count(u8::from(failed))));
    }
    if let Some(failed) = request.chat_failed {
        metrics.push((CHAT_FAILURES, Amount::Count(u8::from(failed))));
    }
    if let Some(previous) = request.previous_secret_used {
        metrics.push((PREVIOUS_SECRET_USED, Amount::Count(u8::from(previous))));
    }
    if let Some(lookup) = request.enrichment {
        metrics.push((ENRICHMENT_LOOKUPS, Amount::Count(1)));
        metrics.push((ENRICHMENT_FAILURES, Amount::Count(u8::from(lookup.failed))));
    }
    let document = Document {
        function_name,
        timestamp_ms,
        request,
        metrics: &metrics,
    };
    serde_json::to_string(&document).expect("a document of strings and numbers serialises")
}

/// A metric's value, and by it its unit.
#[derive(Clone, Copy, Serialize)]
#[serde(untagged)]
enum Amount {
    Count(u8),
    Milliseconds(f64),
}

impl Amount {
    fn unit(self) -> &'static str {
        match self {
            Self::Count(_) => "Count",
            Self::Milliseconds(_) => "Milliseconds",
        }
    }
}

/// One request's document: the root object of [`document`].
struct Document<'a> {
    function_name: &'a str,
    timestamp_ms: u64,
    request: &'a Sample<'a>,
    /// The metrics by `FunctionName` alone.
    metrics: &'a [(&'a str, Amount)],
}

/// `_aws`: the metadata that says which root keys are metrics, and by which dimensions.
#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(rename = "Timestamp")]
    timestamp: u64,
    #[serde(rename = "CloudWatchMetrics")]
    directives: Vec<Directive<'a>>,
}

#[derive(Serialize)]
struct Directive<'a> {
    #[serde(rename = "Namespace")]
    namespace: &'static str,
    #[serde(rename = "Dimensions")]
    dimensions: &'a [&'a [&'a str]],
    #[serde(rename = "Metrics")]
    metrics: Vec<MetricDefinition<'a>>,
}

#[derive(Serialize)]
struct MetricDefinition<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Unit")]
    unit: &'a str,
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = self.request;
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
        if !self.metrics.is_empty() {
            directives.push(Directive {
                namespace: NAMESPACE,
                dimensions: &[&[DIM_FUNCTION_NAME]],
                metrics: (self.metrics.iter())
                    .map(|(name, amount)| MetricDefinition {
                        name,
                        unit: amount.unit(),
                    })
                    .collect(),
            });
        }
        let mut root = serializer.serialize_map(None)?;
        let metadata = Metadata {
            timestamp: self.timestamp_ms,
            directives,
        };
        root.serialize_entry("_aws", &metadata)?;
        root.serialize_entry(DIM_FUNCTION_NAME, self.function_name)?;
        root.serialize_entry(DIM_OUTCOME, request.outcome)?;
        if let Some(code) = request.code {
            root.serialize_entry(DIM_CODE, code)?;
        }
        root.serialize_entry(WEBHOOKS, &1)?;
        for (name, amount) in self.metrics {
            root.serialize_entry(name, amount)?;
        }
        if let Some(lookup) = request.enrichment {
            root.serialize_entry("Enrichment", lookup.code)?;
        }
        root.end()
    }
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
    #[must_use]
    pub fn stdout(function_name: &str) -> Self {
        Self::to(function_name, Box::new(std::io::stdout()))
    }

    /// To `out` (tests capture it).
    #[must_use]
    pub fn to(function_name: &str, out: Box<dyn Write + Send>) -> Self {
        Self {
            function_name: function_name.to_owned(),
            out: Mutex::new(out),
        }
    }

    /// Writes the document of `request`, stamped now. A metric that cannot be written is
    /// lost, never the request's answer.
    pub fn emit(&self, request: &Sample<'_>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let line = document(&self.function_name, now, request);
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
}
