//! A filter policy read, and held to SNS's rules at init, in SNS's words: each rule quotes
//! its page of the SNS Developer Guide (see [`super`]).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{Comparison, Condition, FilterPolicy, FilterPolicyError, Keys, refuse};
use crate::message::MAX_NUMBER_ATTRIBUTE;

/// "A filter policy can have a maximum of five keys."
pub const MAX_KEYS: usize = 5;
/// "The total combination of values in a filter policy must not exceed 150."
pub const MAX_COMBINATIONS: usize = 150;
/// "The maximum size of a filter policy is 256 KB."
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

impl FilterPolicy {
    /// Parses a filter policy as written for `FilterPolicyScope: MessageAttributes`.
    pub fn parse(json: &str) -> Result<Self, FilterPolicyError> {
        if json.len() > MAX_POLICY_BYTES {
            return refuse("The maximum size of a filter policy is 256 KB");
        }
        let Ok(Value::Object(policy)) = serde_json::from_str::<Value>(json) else {
            return refuse("a filter policy is a JSON object");
        };
        let alternatives = alternatives(policy)?;
        // The guide does not say how keys in `$or` count: every attribute the policy names
        // counts once, the reading under which SNS cannot refuse it.
        let names: BTreeSet<&str> = (alternatives.iter().flatten())
            .map(|(name, _)| name.as_str())
            .collect();
        if names.len() > MAX_KEYS {
            return refuse(format!(
                "Filter policy can not have more than {MAX_KEYS} keys: it names {}",
                names.len()
            ));
        }
        // "the sum of the combination complexities for each OR statement", each "the product
        // of the number of match operators for each key".
        let combinations = (alternatives.iter())
            .map(|keys| (keys.iter()).fold(1_usize, |n, (_, c)| n.saturating_mul(c.len())))
            .fold(0_usize, usize::saturating_add);
        if combinations > MAX_COMBINATIONS {
            return refuse(format!(
                "Filter policy is too complex: {combinations} combinations of values, at most \
                 {MAX_COMBINATIONS}"
            ));
        }
        Ok(Self { alternatives })
    }
}

/// The alternatives of one policy object: its keys, joined to each alternative of its `$or`
/// (`{"a": [...], "$or": [X, Y]}` is `(a and X) or (a and Y)`), which may hold an `$or` too.
fn alternatives(mut policy: Map<String, Value>) -> Result<Vec<Keys>, FilterPolicyError> {
    let or = policy.remove("$or");
    let keys: Keys = (policy.into_iter())
        .map(|(k, v)| key_conditions(k, v))
        .collect::<Result<_, _>>()?;
    let Some(or) = or else {
        return Ok(vec![keys]);
    };
    // SNS reads `$or` as OR only "followed with an array", with "at least 2 objects", none
    // naming an operator; otherwise as an attribute named `$or`, which no message has.
    let options = match or {
        Value::Array(options) if options.len() >= 2 => options,
        _ => return refuse("$or takes a list of at least two policies"),
    };
    let mut all = Vec::new();
    for option in options {
        let Value::Object(option) = option else {
            return refuse("$or takes a list of at least two policies");
        };
        if option.is_empty() {
            return refuse("a policy in $or names no attribute: it would select every message");
        }
        if let Some(op) = option.keys().find(|k| is_operator(k)) {
            return refuse(format!(
                "$or takes policies, not the operator {op:?} (SNS would read $or as an \
                 attribute name)"
            ));
        }
        for mut alternative in alternatives(option)? {
            alternative.extend(keys.iter().cloned());
            all.push(alternative);
        }
    }
    Ok(all)
}

fn is_operator(key: &str) -> bool {
    matches!(
        key,
        "prefix"
            | "suffix"
            | "equals-ignore-case"
            | "anything-but"
            | "numeric"
            | "exists"
            | "cidr"
            | "wildcard"
    )
}

/// One key of a policy: an attribute name and its list of conditions.
fn key_conditions(
    key: String,
    value: Value,
) -> Result<(String, Vec<Condition>), FilterPolicyError> {
    let values = match value {
        Value::Array(values) => values,
        // "Amazon SNS doesn't accept a nested filter policy for attribute-based filtering."
        Value::Object(_) => {
            return refuse(format!(
                "Filter policy scope MessageAttributes does not support nested filter policy \
                 ({key:?})"
            ));
        }
        _ => return refuse(format!("{key:?} must be an object or an array")),
    };
    if values.is_empty() {
        return refuse(format!("the conditions on {key:?} are empty"));
    }
    let conditions = values
        .into_iter()
        .map(|v| condition(&key, v))
        .collect::<Result<_, _>>()?;
    Ok((key, conditions))
}

fn condition(key: &str, value: Value) -> Result<Condition, FilterPolicyError> {
    let text = |v: &Value, op: &str| match v {
        Value::String(s) => Ok(s.clone()),
        _ => refuse(format!("{op} on {key:?} takes a string")),
    };
    match value {
        Value::String(s) => Ok(Condition::Exact(s)),
        Value::Number(_) => number(key, &value).map(Condition::Number),
        // "The keywords true, false, and null, without quotation marks."
        Value::Bool(_) | Value::Null => Ok(Condition::Keyword(value)),
        Value::Object(operator) if operator.len() == 1 => {
            let (op, arg) = operator.into_iter().next().expect("one entry");
            match op.as_str() {
                "prefix" => Ok(Condition::Prefix(text(&arg, &op)?)),
                "suffix" => Ok(Condition::Suffix(text(&arg, &op)?)),
                "equals-ignore-case" => Ok(Condition::IgnoreCase(text(&arg, &op)?)),
                "exists" => match arg {
                    Value::Bool(b) => Ok(Condition::Exists(b)),
                    _ => refuse(format!(
                        "exists match pattern must be either true or false ({key:?})"
                    )),
                },
                "anything-but" => anything_but(key, arg),
                "numeric" => numeric(key, &arg),
                "cidr" | "wildcard" => refuse(format!(
                    "the operator {op:?} on {key:?} is not evaluated by the function"
                )),
                other => refuse(format!("Unrecognized match type {other} ({key:?})")),
            }
        }
        Value::Object(_) => refuse(format!(
            "a condition on {key:?} is one operator object, as {{\"prefix\": \"defect.\"}}"
        )),
        Value::Array(_) => refuse(format!(
            "Match value must be String, number, true, false, or null ({key:?})"
        )),
    }
}

/// A number of a policy, in the range SNS compares ("For numeric matching, the value can
/// range from -10^9 to 10^9"): the rule the function's `Number` attributes keep too.
fn number(key: &str, value: &Value) -> Result<f64, FilterPolicyError> {
    #[allow(clippy::cast_precision_loss)] // 10^9 is exact in an f64
    let max = MAX_NUMBER_ATTRIBUTE as f64;
    match value.as_f64() {
        Some(n) if (-max..=max).contains(&n) => Ok(n),
        _ => refuse(format!(
            "the number on {key:?} is out of range: SNS compares numbers from -1,000,000,000 \
             to 1,000,000,000"
        )),
    }
}

/// `anything-but` takes a value, a list of values, or one `prefix` or `suffix`: the forms of
/// "String value matching" and "Numeric value matching"; it nests no other operator.
fn anything_but(key: &str, arg: Value) -> Result<Condition, FilterPolicyError> {
    let invalid = || {
        FilterPolicyError(format!(
            "anything-but on {key:?} takes a string, a number, a list of them, or one prefix \
             or suffix"
        ))
    };
    let excluded = match arg {
        Value::Array(values) if !values.is_empty() => values,
        Value::Object(ref o)
            if o.len() == 1 && (o.contains_key("prefix") || o.contains_key("suffix")) =>
        {
            return Ok(Condition::AnythingBut(vec![condition(key, arg)?]));
        }
        Value::String(_) | Value::Number(_) => vec![arg],
        _ => return Err(invalid()),
    };
    let excluded = (excluded.into_iter())
        .map(|v| match v {
            Value::String(_) | Value::Number(_) => condition(key, v),
            _ => Err(invalid()),
        })
        .collect::<Result<_, _>>()?;
    Ok(Condition::AnythingBut(excluded))
}

/// `numeric` takes one comparison (`["=", 5]`, `["<", 5]`...), or a range: a lower bound
/// (`>`, `>=`) then an upper one (`<`, `<=`) above it, as `[">", 0, "<=", 150]`. SNS refuses
/// anything else with the words used here.
fn numeric(key: &str, arg: &Value) -> Result<Condition, FilterPolicyError> {
    let at = |why: String| FilterPolicyError(format!("{why} (numeric on {key:?})"));
    let Value::Array(items) = arg else {
        return Err(at("numeric takes a list, as [\">\", 0, \"<=\", 150]".into()));
    };
    let mut comparisons = Vec::new();
    for pair in items.chunks(2) {
        let Some(Value::String(op)) = pair.first() else {
            return Err(at(format!("Invalid member in numeric match: {}", pair[0])));
        };
        let comparison = match op.as_str() {
            "=" => Comparison::Eq,
            "<" => Comparison::Lt,
            "<=" => Comparison::Le,
            ">" => Comparison::Gt,
            ">=" => Comparison::Ge,
            _ => return Err(at(format!("Unrecognized numeric range operator: {op}"))),
        };
        let Some(value) = pair.get(1).filter(|v| v.is_number()) else {
            return Err(at(format!("Value of {op} must be numeric")));
        };
        comparisons.push((comparison, number(key, value)?));
    }
    match comparisons.as_slice() {
        [] => return Err(at("Invalid member in numeric match: ]".into())),
        [_] => {}
        [(Comparison::Gt | Comparison::Ge, bottom), (upper, top)] => {
            if !matches!(upper, Comparison::Lt | Comparison::Le) {
                return Err(at(format!("Bad numeric range operator: {}", items[2])));
            }
            if top <= bottom {
                return Err(at("Bottom must be less than top".into()));
            }
        }
        _ => return Err(at("Too many elements in numeric expression".into())),
    }
    Ok(Condition::Numeric(comparisons))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::tests::passes;
    use crate::message::{Attribute, DataType};

    /// `policy` is refused, with SNS's words `says`.
    fn refused(policy: &str, says: &str) {
        let err = FilterPolicy::parse(policy)
            .map(|_| ())
            .expect_err(policy)
            .to_string();
        assert!(err.contains(says), "{policy}: {err}");
    }

    const CONSTRAINTS: &str =
        "https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html";

    #[test]
    fn at_most_five_keys() {
        // CONSTRAINTS: "A filter policy can have a maximum of five keys."
        let five = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"]}"#;
        assert!(FilterPolicy::parse(five).is_ok(), "{CONSTRAINTS}");
        refused(
            r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#,
            "can not have more than 5 keys",
        );
        // Keys inside `$or` are keys of the policy too.
        refused(
            r#"{"a":["1"],"b":["1"],"c":["1"],"$or":[{"d":["1"]},{"e":["1"],"f":["1"]}]}"#,
            "can not have more than 5 keys",
        );
    }

    #[test]
    fn at_most_150_combinations_counted_as_the_guide_counts_them() {
        // CONSTRAINTS: "The total combination of values in a filter policy must not exceed
        // 150. To calculate the total combination, multiply the number of values in each
        // array in the filter policy."
        let values = |n: usize| {
            let v: Vec<String> = (0..n).map(|i| format!("\"v{i}\"")).collect();
            format!("[{}]", v.join(","))
        };
        let product = |a: usize, b: usize| format!(r#"{{"a":{},"b":{}}}"#, values(a), values(b));
        assert!(FilterPolicy::parse(&product(10, 15)).is_ok(), "150");
        refused(&product(10, 16), "Filter policy is too complex");
        refused(&product(151, 1), "Filter policy is too complex");
        // "The complexity calculation for policies with OR relationships can be simplified as
        // the sum of the combination complexities for each OR statement" (and-or-logic.html):
        // its example, (1 * 2) + (1 * 1 * 2) + (1 * 1 * 3) = 7, then the same shape at 151.
        let example = |space_ids: usize| {
            format!(
                r#"{{"source":["aws.cloudwatch"],"$or":[{{"metricName":["CPUUtilization","ReadLatency"]}},
                {{"metricType":["MetricType"],"$or":[{{"metricId":[1234,4321]}},{{"spaceId":{}}}]}}]}}"#,
                values(space_ids)
            )
        };
        assert!(FilterPolicy::parse(&example(3)).is_ok());
        assert!(
            FilterPolicy::parse(&example(146)).is_ok(),
            "2 + 2 + 146 = 150"
        );
        refused(&example(147), "Filter policy is too complex");
    }

    #[test]
    fn numeric_takes_one_comparison_or_a_range_from_bottom_to_top() {
        // "Numeric value matching" (numeric-value-matching.html): `=`, `<`, `<=`, `>`, `>=`,
        // and the range `[">", 0, "<=", 150]`; SNS refuses other forms with these words.
        for ok in [
            r#"["=", 301.5]"#,
            r#"["<", 0]"#,
            r#"[">=", -5]"#,
            r#"[">", 0, "<=", 150]"#,
            r#"[">=", 1, "<", 2]"#,
        ] {
            let policy = format!(r#"{{"price_usd":[{{"numeric":{ok}}}]}}"#);
            assert!(FilterPolicy::parse(&policy).is_ok(), "{ok}");
        }
        for (range, says) in [
            (
                r#"[">", 0, "<=", 150, "<", 5]"#,
                "Too many elements in numeric expression",
            ),
            (
                r#"["<", 10, ">", 0]"#,
                "Too many elements in numeric expression",
            ),
            (
                r#"["=", 1, "<", 5]"#,
                "Too many elements in numeric expression",
            ),
            (r#"[">", 0, ">", 5]"#, "Bad numeric range operator"),
            (r#"[">", 10, "<", 5]"#, "Bottom must be less than top"),
            (r#"[">=", 5, "<=", 5]"#, "Bottom must be less than top"),
            (r#"["<", "100"]"#, "Value of < must be numeric"),
            (r#"[">"]"#, "Value of > must be numeric"),
            (r#"["!", 1]"#, "Unrecognized numeric range operator: !"),
            ("[]", "Invalid member in numeric match"),
        ] {
            refused(&format!(r#"{{"price_usd":[{{"numeric":{range}}}]}}"#), says);
        }
    }

    #[test]
    fn numbers_range_from_minus_a_billion_to_a_billion() {
        // CONSTRAINTS: "For numeric matching, the value can range from -10^9 to 10^9 (-1
        // billion to 1 billion)".
        assert!(FilterPolicy::parse(r#"{"n":[1000000000, -1000000000]}"#).is_ok());
        refused(r#"{"n":[1000000001]}"#, "out of range");
        refused(r#"{"n":[{"numeric":["<", -1e10]}]}"#, "out of range");
    }

    #[test]
    fn true_false_and_null_are_values_as_sns_takes_them() {
        // CONSTRAINTS: "The JSON of the filter policy can contain the following: Strings
        // enclosed in quotation marks; Numbers; The keywords true, false, and null, without
        // quotation marks."
        let policy = FilterPolicy::parse(r#"{"flags":[true, null]}"#).unwrap();
        let array = |value: &str| Attribute {
            name: "flags",
            data_type: DataType::StringArray,
            value: value.to_owned(),
        };
        assert!(policy.matches(&[array("[false, true]")]));
        assert!(policy.matches(&[array("[null]")]));
        assert!(
            !policy.matches(&[array(r#"["true", "null"]"#)]),
            "strings are not keywords"
        );
        assert!(!policy.matches(&[]), "an absent attribute never matches");
        assert!(FilterPolicy::parse(r#"{"a":[false]}"#).is_ok());
    }

    #[test]
    fn attribute_policies_nest_no_keys_and_operators_nest_as_the_guide_shows() {
        // CONSTRAINTS: "Amazon SNS doesn't accept a nested filter policy for attribute-based
        // filtering."
        refused(
            r#"{"a":{"b":["x"]}}"#,
            "Filter policy scope MessageAttributes does not support nested filter policy",
        );
        refused(r#"{"a":"x"}"#, "must be an object or an array");
        refused(r#"{"a":[{"b":["x"]}]}"#, "Unrecognized match type b");
        refused(
            r#"{"a":[["x"]]}"#,
            "Match value must be String, number, true, false, or null",
        );
        // "String value matching": anything-but takes values, a list of them, or a prefix
        // or suffix: `{"anything-but": {"prefix": "order-"}}`; it nests nothing else.
        for ok in [
            r#""rugby""#,
            r#"["rugby", "tennis"]"#,
            "[100, 500]",
            r#"{"prefix": "order-"}"#,
            r#"{"suffix": "ball"}"#,
        ] {
            let policy = format!(r#"{{"a":[{{"anything-but":{ok}}}]}}"#);
            assert!(FilterPolicy::parse(&policy).is_ok(), "{ok}");
        }
        for nested in [
            r#"[{"prefix": "order-"}]"#,
            r#"{"numeric": [">", 1]}"#,
            r#"{"exists": true}"#,
            r#"{"anything-but": "x"}"#,
            r#"{"prefix": "a", "suffix": "b"}"#,
        ] {
            refused(
                &format!(r#"{{"a":[{{"anything-but":{nested}}}]}}"#),
                "anything-but",
            );
        }
        // "Attribute key matching": "exists" takes true or false.
        refused(
            r#"{"a":[{"exists":"yes"}]}"#,
            "exists match pattern must be either true or false",
        );
    }

    #[test]
    fn or_is_a_list_of_at_least_two_policies_and_may_nest() {
        // and-or-logic.html: SNS reads `$or` as OR when it is "followed with an array", with
        // "at least 2 objects", none naming "reserved keywords"; `$or` nests in a branch.
        assert!(passes(
            r#"{"store":["example_corp"],"$or":[{"event":["x"]},{"$or":[{"price_usd":[1]},{"customer_interests":["rugby"]}]}]}"#
        ));
        assert!(!passes(
            r#"{"$or":[{"event":["x"]},{"$or":[{"price_usd":[1]},{"store":["y"]}]}]}"#
        ));
        refused(r#"{"$or":[{"a":["x"]}]}"#, "at least two policies");
        refused(r#"{"$or":{"a":["x"]}}"#, "at least two policies");
        refused(
            r#"{"$or":[{"numeric":123},{"prefix":"abc"}]}"#,
            "not the operator",
        );
        refused(
            r#"{"a":["x"],"$or":[{},{"b":["y"]}]}"#,
            "names no attribute",
        );
    }

    #[test]
    fn combinations_are_counted_without_overflow_however_deep_or_nests() {
        // 16 nested `$or`s, each beside a key of 16 values: 16^16 = 2^64 combinations in the
        // deepest alternative, which must neither overflow nor wrap around to pass the 150 of
        // CONSTRAINTS.
        let sixteen: Vec<String> = (0..16).map(|i| format!("\"{i}\"")).collect();
        let mut policy = r#"{"b":["1"]}"#.to_owned();
        for _ in 0..16 {
            policy = format!(
                r#"{{"a":[{}],"$or":[{policy},{{"c":["1"]}}]}}"#,
                sixteen.join(",")
            );
        }
        refused(&policy, "Filter policy is too complex");
    }

    #[test]
    fn at_most_256_kb() {
        // CONSTRAINTS: "The maximum size of a filter policy is 256 KB."
        let policy = |n: usize| format!(r#"{{"a":["{}"]}}"#, "x".repeat(n));
        assert!(FilterPolicy::parse(&policy(256 * 1024 - 10)).is_ok());
        refused(&policy(256 * 1024), "256 KB");
    }

    #[test]
    fn the_policies_the_template_and_docs_suggest_pass() {
        for policy in [
            r#"{"event_name":["defect.created","defect.resolved"]}"#,
            r#"{"event_name":[{"prefix":"defect."}]}"#,
            r#"{"event_name":["defect.created"],"severity":["critical","blocker"]}"#,
        ] {
            assert!(FilterPolicy::parse(policy).is_ok(), "{policy}");
        }
    }
}
