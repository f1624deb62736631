//! SNS subscription filter policies, evaluated by the function itself for the one topic whose
//! subscriber cannot carry one: the chat topic. Amazon Q Developer creates its channel's SNS
//! subscription itself, and neither `AWS::Chatbot::SlackChannelConfiguration` nor
//! `…::MicrosoftTeamsChannelConfiguration` has a filter policy property; so the function
//! publishes to the chat topic only what `CHAT_FILTER_POLICY` selects, read with the syntax and
//! the meaning of an SNS filter policy on message attributes (SNS Developer Guide, "Amazon SNS
//! subscription filter policies" and its operator pages).
//!
//! Written here because no crate evaluates SNS filter policies. A policy is held to SNS's
//! own rules at init ("Filter policy constraints", and the pages of each operator), with
//! SNS's words, so a policy that works here also works on a subscription; and what SNS
//! accepts is accepted. The operators people use on attributes are evaluated (exact string,
//! number, `true`, `false` and `null`, `prefix`, `suffix`, `equals-ignore-case`,
//! `anything-but`, `numeric`, `exists`, `$or`); a policy with one SNS has but the function
//! does not evaluate (`cidr`, `wildcard`) is refused, never half-applied. Pure.
//!
//! The guide's pages, under <https://docs.aws.amazon.com/sns/latest/dg/>:
//! `subscription-filter-policy-constraints.html`, `and-or-logic.html`,
//! `string-value-matching.html`, `numeric-value-matching.html`, `attribute-key-matching.html`.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::message::{Attribute, DataType};

/// "A filter policy can have a maximum of five keys."
pub const MAX_KEYS: usize = 5;
/// "The total combination of values in a filter policy must not exceed 150."
pub const MAX_COMBINATIONS: usize = 150;
/// "The maximum size of a filter policy is 256 KB."
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
/// "For numeric matching, the value can range from -10^9 to 10^9".
pub const MAX_NUMBER: f64 = 1e9;

/// What a filter policy cannot be evaluated for. The message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterPolicyError(String);

/// A parsed filter policy: the message passes when any of its alternatives (`$or`) does, and an
/// alternative when every attribute it names has at least one matching condition.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    alternatives: Vec<Keys>,
}

/// One alternative: each attribute it names, with its conditions.
type Keys = Vec<(String, Vec<Condition>)>;

/// One condition on one attribute's value.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Exact(String),
    Number(f64),
    /// `true`, `false` or `null`: matches that keyword in a `String.Array`.
    Keyword(Value),
    Prefix(String),
    Suffix(String),
    IgnoreCase(String),
    AnythingBut(Vec<Condition>),
    Exists(bool),
    /// Every comparison holds (`[">", 0, "<=", 10]`).
    Numeric(Vec<(Comparison, f64)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

fn refuse<T>(why: impl Into<String>) -> Result<T, FilterPolicyError> {
    Err(FilterPolicyError(why.into()))
}

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
            .map(|keys| keys.iter().map(|(_, c)| c.len()).product::<usize>())
            .fold(0_usize, usize::saturating_add);
        if combinations > MAX_COMBINATIONS {
            return refuse(format!(
                "Filter policy is too complex: {combinations} combinations of values, at most \
                 {MAX_COMBINATIONS}"
            ));
        }
        Ok(Self { alternatives })
    }

    /// Whether a message with `attributes` passes the policy.
    pub fn matches(&self, attributes: &[Attribute]) -> bool {
        self.alternatives.iter().any(|keys| {
            keys.iter().all(|(name, conditions)| {
                let attribute = attributes.iter().find(|a| a.name == name);
                conditions.iter().any(|c| c.holds(attribute))
            })
        })
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

/// A number of a policy, in the range SNS compares.
fn number(key: &str, value: &Value) -> Result<f64, FilterPolicyError> {
    match value.as_f64() {
        Some(n) if (-MAX_NUMBER..=MAX_NUMBER).contains(&n) => Ok(n),
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

impl Condition {
    /// Whether the condition holds for `attribute` (absent: `None`). A `String.Array`
    /// attribute matches when one of its values does (SNS: "a match occurs if any value in the
    /// array matches").
    fn holds(&self, attribute: Option<&Attribute>) -> bool {
        let Some(attribute) = attribute else {
            return matches!(self, Self::Exists(false));
        };
        match self {
            Self::Exists(exists) => *exists,
            Self::AnythingBut(excluded) => {
                values(attribute).any(|v| !excluded.iter().any(|e| e.value_matches(&v)))
            }
            _ => values(attribute).any(|v| self.value_matches(&v)),
        }
    }

    /// Whether one value passes a value condition (not `exists` or `anything-but`).
    fn value_matches(&self, value: &Typed<'_>) -> bool {
        match (self, value) {
            (Self::Exact(s), Typed::Text(v)) => s == v.as_ref(),
            (Self::Prefix(p), Typed::Text(v)) => v.starts_with(p.as_str()),
            (Self::Suffix(p), Typed::Text(v)) => v.ends_with(p.as_str()),
            (Self::IgnoreCase(s), Typed::Text(v)) => s.to_lowercase() == v.to_lowercase(),
            (Self::Number(n), Typed::Number(v)) => (n - v).abs() < 1e-5,
            (Self::Keyword(k), Typed::Keyword(v)) => k == v,
            (Self::Numeric(comparisons), Typed::Number(v)) => {
                comparisons.iter().all(|(op, n)| match op {
                    Comparison::Eq => (v - n).abs() < 1e-5,
                    Comparison::Lt => v < n,
                    Comparison::Le => v <= n,
                    Comparison::Gt => v > n,
                    Comparison::Ge => v >= n,
                })
            }
            _ => false,
        }
    }
}

/// An attribute value as filter policies compare it.
enum Typed<'a> {
    Text(Cow<'a, str>),
    Number(f64),
    /// `true`, `false` or `null` in a `String.Array`.
    Keyword(Value),
}

/// The values of `attribute`: one, or each of a `String.Array`'s.
fn values(attribute: &Attribute) -> impl Iterator<Item = Typed<'_>> {
    let values: Vec<Typed<'_>> = match attribute.data_type {
        DataType::String => vec![Typed::Text(Cow::Borrowed(&attribute.value))],
        DataType::Number => attribute
            .value
            .parse()
            .map(Typed::Number)
            .into_iter()
            .collect(),
        // "The values can be strings, numbers, or the keywords true, false, and null."
        DataType::StringArray => serde_json::from_str::<Vec<Value>>(&attribute.value)
            .unwrap_or_default()
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Typed::Text(Cow::Owned(s)),
                Value::Number(n) => Typed::Number(n.as_f64().unwrap_or(f64::NAN)),
                other => Typed::Keyword(other),
            })
            .collect(),
    };
    values.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message attributes of the SNS Developer Guide's "Amazon SNS example filter
    /// policies" (a customer transaction).
    fn transaction() -> Vec<Attribute> {
        let attribute = |name, data_type, value: &str| Attribute {
            name,
            data_type,
            value: value.to_owned(),
        };
        vec![
            attribute(
                "customer_interests",
                DataType::StringArray,
                r#"["soccer", "rugby", "hockey"]"#,
            ),
            attribute("store", DataType::String, "example_corp"),
            attribute("event", DataType::String, "order_placed"),
            attribute("price_usd", DataType::Number, "210.75"),
        ]
    }

    fn passes(policy: &str) -> bool {
        FilterPolicy::parse(policy)
            .unwrap_or_else(|e| panic!("{policy}: {e}"))
            .matches(&transaction())
    }

    #[test]
    fn the_guides_example_policy_accepts_the_guides_example_message() {
        // "Amazon SNS example filter policies": this policy accepts the message above.
        assert!(passes(
            r#"{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],
                "customer_interests":["rugby","football","baseball"],
                "price_usd":[{"numeric":[">=",100]}]}"#
        ));
    }

    #[test]
    fn every_key_must_match_and_any_value_of_a_key() {
        assert!(passes(r#"{"store":["other","example_corp"]}"#));
        assert!(!passes(
            r#"{"store":["example_corp"],"event":["order_cancelled"]}"#
        ));
        assert!(
            !passes(r#"{"color":["red"]}"#),
            "an absent attribute never matches"
        );
        assert!(
            passes(r#"{"customer_interests":["hockey"]}"#),
            "any array value"
        );
        assert!(!passes(r#"{"customer_interests":["golf"]}"#));
    }

    #[test]
    fn string_operators() {
        assert!(passes(r#"{"event":[{"prefix":"order_"}]}"#));
        assert!(!passes(r#"{"event":[{"prefix":"Order_"}]}"#));
        assert!(passes(r#"{"event":[{"suffix":"_placed"}]}"#));
        assert!(passes(
            r#"{"store":[{"equals-ignore-case":"EXAMPLE_CORP"}]}"#
        ));
        assert!(!passes(
            r#"{"store":[{"anything-but":["example_corp","x"]}]}"#
        ));
        assert!(passes(r#"{"store":[{"anything-but":{"prefix":"other"}}]}"#));
        assert!(!passes(
            r#"{"store":[{"anything-but":{"prefix":"example"}}]}"#
        ));
        assert!(
            !passes(r#"{"color":[{"anything-but":"red"}]}"#),
            "needs the attribute"
        );
        assert!(passes(
            r#"{"store":["example_corp"],"color":[{"exists":false}]}"#
        ));
        assert!(passes(r#"{"store":[{"exists":true}]}"#));
        assert!(!passes(r#"{"store":[{"exists":false}]}"#));
    }

    #[test]
    fn numbers_match_number_attributes_only() {
        assert!(passes(r#"{"price_usd":[210.75]}"#));
        assert!(passes(r#"{"price_usd":[{"numeric":[">",0,"<=",300]}]}"#));
        assert!(!passes(r#"{"price_usd":[{"numeric":["<",100]}]}"#));
        assert!(
            !passes(r#"{"price_usd":["210.75"]}"#),
            "a string is not a number"
        );
        assert!(!passes(r#"{"store":[{"numeric":[">",0]}]}"#));
    }

    #[test]
    fn or_joins_alternatives_each_with_the_other_keys() {
        assert!(passes(
            r#"{"store":["example_corp"],"$or":[{"event":["order_cancelled"]},{"price_usd":[210.75]}]}"#
        ));
        assert!(!passes(
            r#"{"store":["other"],"$or":[{"event":["order_placed"]},{"price_usd":[210.75]}]}"#
        ));
    }

    #[test]
    fn what_it_cannot_evaluate_is_refused_not_half_applied() {
        for (policy, says) in [
            ("[]", "a JSON object"),
            (r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#, "\"cidr\""),
            (r#"{"a":[{"wildcard":"*ball"}]}"#, "\"wildcard\""),
            (r#"{"a":[]}"#, "empty"),
            (r#"{"a":[{"prefix":1}]}"#, "takes a string"),
        ] {
            let err = FilterPolicy::parse(policy).unwrap_err().to_string();
            assert!(err.contains(says), "{policy}: {err}");
        }
    }

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
