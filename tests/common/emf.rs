//! CloudWatch Embedded Metric Format, checked as the specification states it, independently
//! of the code that writes the documents: CloudWatch User Guide, "Specification: Embedded
//! metric format" (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).

use serde_json::Value;

/// The units a `MetricDefinition` may name (the spec's list, the same as `MetricDatum`'s).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one log line against the specification's required shape; answers the document.
pub fn validate(line: &str) -> Result<Value, String> {
    let doc: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): {line}"))?;
    let root = doc.as_object().ok_or("the root is not an object")?;
    // "The root node MUST contain an _aws member", an object with "Timestamp" (milliseconds
    // since the epoch) and "CloudWatchMetrics" (an array of MetricDirective objects).
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    let timestamp = aws
        .get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("no integer Timestamp")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    // CloudWatch takes data points up to two weeks old and two hours ahead.
    if u128::from(timestamp).abs_diff(now) > 2 * 3600 * 1000 {
        return Err(format!(
            "Timestamp {timestamp} is not now ({now}): not milliseconds?"
        ));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("no CloudWatchMetrics array")?;
    for directive in directives {
        // "Namespace": 1-1024 characters. "Dimensions": an array of DimensionSets, each an
        // array of dimension keys, at most 30. "Metrics": an array of MetricDefinition, at
        // most 100 per directive, each a "Name" and an optional "Unit".
        let namespace = directive["Namespace"].as_str().ok_or("no Namespace")?;
        if namespace.is_empty() || namespace.chars().count() > 1024 {
            return Err(format!("Namespace {namespace:?}"));
        }
        let sets = directive["Dimensions"]
            .as_array()
            .ok_or("no Dimensions array")?;
        for set in sets {
            let keys = set.as_array().ok_or("a DimensionSet is not an array")?;
            if keys.len() > 30 {
                return Err(format!("{} dimension keys", keys.len()));
            }
            for key in keys {
                // "Dimension keys ... MUST have a matching member in the root node", whose
                // value is a string of 1-1024 characters.
                let key = key.as_str().ok_or("a dimension key is not a string")?;
                let value = root
                    .get(key)
                    .and_then(Value::as_str)
                    .ok_or(format!("dimension {key} has no string member at the root"))?;
                if value.is_empty() || value.chars().count() > 1024 {
                    return Err(format!("dimension {key} = {value:?}"));
                }
            }
        }
        let metrics = directive["Metrics"].as_array().ok_or("no Metrics array")?;
        if metrics.is_empty() || metrics.len() > 100 {
            return Err(format!("{} metrics in a directive", metrics.len()));
        }
        for metric in metrics {
            // "Name ... MUST have a matching member in the root node" whose value is a number
            // (or an array of at most 100 numbers).
            let name = metric["Name"].as_str().ok_or("a metric without a Name")?;
            if let Some(unit) = metric.get("Unit") {
                let unit = unit.as_str().ok_or("a Unit that is not a string")?;
                if !UNITS.contains(&unit) {
                    return Err(format!("{name}: unit {unit:?}"));
                }
            }
            let value = root
                .get(name)
                .ok_or(format!("metric {name} has no member at the root"))?;
            let numbers = match value {
                Value::Array(values) if values.len() <= 100 => values.iter().all(Value::is_number),
                other => other.is_number(),
            };
            if !numbers {
                return Err(format!("metric {name} = {value}"));
            }
        }
    }
    Ok(doc)
}

/// The EMF documents among `output`'s lines (those with an `_aws` member), each validated.
pub fn documents(output: &str) -> Result<Vec<Value>, String> {
    output
        .lines()
        .filter(|line| line.contains("\"_aws\""))
        .map(validate)
        .collect()
}

/// The total of count metric `name` in the series `dimensions` names, as CloudWatch
/// aggregates it: over the documents that declare `name` under exactly that set of dimension
/// keys (in any of their directives) and whose root members have those values. Every value
/// must be a whole number.
pub fn count(documents: &[Value], name: &str, dimensions: &[(&str, &str)]) -> u64 {
    let mut keys: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    keys.sort_unstable();
    let declared = |doc: &Value| {
        doc["_aws"]["CloudWatchMetrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| {
                d["Metrics"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|m| m["Name"] == name))
            })
            .filter_map(|d| d["Dimensions"].as_array())
            .flatten()
            .any(|set| {
                let mut set: Vec<&str> = set
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                set.sort_unstable();
                set == keys
            })
    };
    documents
        .iter()
        .filter(|d| declared(d) && dimensions.iter().all(|(k, v)| d[*k] == *v))
        .map(|d| {
            d[name]
                .as_u64()
                .unwrap_or_else(|| panic!("{name} = {}: not a count", d[name]))
        })
        .sum()
}
