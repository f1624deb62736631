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
//!
//! [`rules`] parses a policy and holds it to SNS's rules; this module evaluates it.

mod rules;

use std::borrow::Cow;

use serde_json::Value;

use crate::message::{Attribute, DataType};

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

    pub(super) fn passes(policy: &str) -> bool {
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
}
