//! Metrics in CloudWatch's Embedded Metric Format (EMF): one JSON document per invocation,
//! printed on a line of its own, from which CloudWatch Logs extracts the metrics.
//!
//! [`document`] is pure: what one request did, in, one line of JSON out. [`Emf`] writes it.
//! Namespace `QaseDefectFanout`; few dimensions (each combination of values is a billed
//! metric):
//! - `Webhooks` (Count) by `FunctionName` × `Outcome` (`published`, `rejected`, `failed`), and
//!   for a non-2xx also by `FunctionName` × `Code` (the error code of the answer);
//! - by `FunctionName` alone: `PublishLatency` (Milliseconds; the SNS publishes of a published
//!   webhook, both topics together), `NotificationFailures` (a published webhook whose
//!   notification was not), `EnrichmentLookups` and `EnrichmentFailures` (Count). An
//!   enrichment failure is any lookup that added nothing but a 404 (a deleted defect is an
//!   answer, not a failure).
//!
//! Written here rather than with `metrics` + `metrics_cloudwatch_embedded`: that crate flushes
//! one document per distinct label set from a process-wide registry, while every invocation
//! here is one document whose metrics carry different dimension sets; and what it does is
//! forty lines of `serde_json`, already a dependency (no cold start or package cost).

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value, json};

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
/// Metric: Qase API lookups (Count; the paused ones included).
pub const ENRICHMENT_LOOKUPS: &str = "EnrichmentLookups";
/// Metric: lookups that added nothing, but for a deleted defect (Count).
pub const ENRICHMENT_FAILURES: &str = "EnrichmentFailures";

/// How a request ended, as the `Outcome` dimension says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the event is on the events topic.
    Published,
    /// 4xx: the request was refused; nothing was published.
    Rejected,
    /// 5xx: SNS did not take the event.
    Failed,
}

impl Outcome {
    /// The dimension value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

/// What one request did, in the terms of the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// How it ended.
    pub outcome: Outcome,
    /// The error code of a non-2xx answer.
    pub code: Option<&'a str>,
    /// How long the SNS publishes of a published webhook took.
    pub publish_latency: Option<Duration>,
    /// Whether the notification of a published webhook failed, when one was attempted.
    pub notification_failed: Option<bool>,
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
#[must_use]
pub fn document(function_name: &str, timestamp_ms: u64, request: &Sample<'_>) -> String {
    let mut root = Map::new();
    root.insert(DIM_FUNCTION_NAME.into(), function_name.into());
    root.insert(DIM_OUTCOME.into(), request.outcome.as_str().into());
    root.insert(WEBHOOKS.into(), 1.into());
    let mut by_outcome = vec![json!([DIM_FUNCTION_NAME, DIM_OUTCOME])];
    if let Some(code) = request.code {
        root.insert(DIM_CODE.into(), code.into());
        by_outcome.push(json!([DIM_FUNCTION_NAME, DIM_CODE]));
    }
    let mut directives = vec![json!({
        "Namespace": NAMESPACE,
        "Dimensions": by_outcome,
        "Metrics": [{"Name": WEBHOOKS, "Unit": "Count"}],
    })];

    let mut function_metrics = Vec::new();
    let mut add = |name: &str, unit: &str, value: Value| {
        root.insert(name.into(), value);
        function_metrics.push(json!({"Name": name, "Unit": unit}));
    };
    if let Some(latency) = request.publish_latency {
        add(
            PUBLISH_LATENCY,
            "Milliseconds",
            json!(latency.as_secs_f64() * 1e3),
        );
    }
    if let Some(failed) = request.notification_failed {
        add(NOTIFICATION_FAILURES, "Count", json!(u8::from(failed)));
    }
    if let Some(lookup) = request.enrichment {
        add(ENRICHMENT_LOOKUPS, "Count", json!(1));
        add(ENRICHMENT_FAILURES, "Count", json!(u8::from(lookup.failed)));
        root.insert("Enrichment".into(), lookup.code.into());
    }
    if !function_metrics.is_empty() {
        directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": [[DIM_FUNCTION_NAME]],
            "Metrics": function_metrics,
        }));
    }
    root.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
    );
    Value::Object(root).to_string()
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
    use super::*;

    #[test]
    fn a_published_webhook_is_counted_by_outcome_with_its_latency() {
        let request = Sample {
            outcome: Outcome::Published,
            code: None,
            publish_latency: Some(Duration::from_micros(12_500)),
            notification_failed: Some(false),
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
            outcome: Outcome::Rejected,
            code: Some("wrong_secret"),
            publish_latency: None,
            notification_failed: None,
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
                outcome: Outcome::Published,
                code: None,
                publish_latency: None,
                notification_failed: None,
                enrichment: Some(Lookup { code, failed }),
            };
            let doc: Value = serde_json::from_str(&document("f", 1, &request)).unwrap();
            assert_eq!(doc["EnrichmentLookups"], 1, "{code}");
            assert_eq!(doc["EnrichmentFailures"], failures, "{code}");
            assert_eq!(doc["Enrichment"], code);
        }
    }
}
