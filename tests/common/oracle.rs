//! The AWS-contract oracle: an SNS endpoint on loopback that the real aws-sdk-sns talks to
//! over HTTP. It decodes each `Publish` request as it was sent (the Query protocol's form
//! body), answers it like SNS, records it, and checks it against the rules AWS documents,
//! computed from the request alone, never from the code under test.
//!
//! The emulator (moto) accepts what AWS refuses or silently drops; this oracle does not. Each
//! rule names the page that states it. The oracle answers every `Publish` with success, so a
//! test sees the whole request; tests assert that [`Oracle::violations`] is empty.

use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use super::chat_schema::{CHAT_SCHEMA_PAGE, CHAT_TOPIC, chat_violations};
use super::http1;
pub use super::publish::Publish;

/// A rule AWS documents for a `Publish`: an id, the page that states it, and the check.
pub struct Rule {
    pub id: &'static str,
    pub source: &'static str,
    pub check: fn(&Publish) -> Result<(), String>,
}

const ATTRIBUTES_PAGE: &str = "SNS Developer Guide, \"Amazon SNS message attributes\" \
     (https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html)";
const PUBLISH_PAGE: &str = "SNS API Reference, \"Publish\" \
     (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html)";
const ATTRIBUTE_VALUE_PAGE: &str = "SNS API Reference, \"MessageAttributeValue\" \
     (https://docs.aws.amazon.com/sns/latest/api/API_MessageAttributeValue.html)";
const FILTER_PAGE: &str = "SNS Developer Guide, \"Filter policy constraints\" \
     (https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html)";
const SQS_SEND_PAGE: &str = "SQS API Reference, \"SendMessage\" \
     (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)";

/// "The following Unicode characters are allowed: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000
/// to #xFFFD | #x10000 to #x10FFFF" (SQS `SendMessage`); SNS delivers message and string
/// attributes to SQS as they are.
fn sqs_allows(c: char) -> bool {
    let c = u32::from(c);
    c == 0x9
        || c == 0xA
        || c == 0xD
        || (0x20..=0xD7FF).contains(&c)
        || (0xE000..=0xFFFD).contains(&c)
        || (0x1_0000..=0x10_FFFF).contains(&c)
}

/// A number filter policies can match: within ±10^9, with at most five digits after the
/// decimal point once any exponent is applied (`3.015e2` has one).
fn matchable_number(value: Option<&str>) -> bool {
    let Some(value) = value else { return false };
    let Ok(number) = value.parse::<f64>() else {
        return false;
    };
    let (mantissa, exponent) = value.split_once(['e', 'E']).map_or((value, 0), |(m, e)| {
        (m, e.parse::<i64>().unwrap_or(i64::MAX))
    });
    let decimals = mantissa.split_once('.').map_or(0, |(_, d)| d.len());
    let decimals = i64::try_from(decimals)
        .unwrap_or(i64::MAX)
        .saturating_sub(exponent);
    number.is_finite() && number.abs() <= 1e9 && decimals <= 5
}

/// "The `MessageGroupId` can contain up to 128 alphanumeric characters (a-z, A-Z, 0-9) and
/// punctuation" (`Publish`), the punctuation being ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``; the
/// same for `MessageDeduplicationId`.
fn fifo_id(value: &str) -> Result<(), String> {
    const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let length = value.chars().count();
    if !(1..=128).contains(&length) {
        return Err(format!("{length} characters"));
    }
    match value
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !PUNCTUATION.contains(*c))
    {
        Some(c) => Err(format!("character {c:?}")),
        None => Ok(()),
    }
}

/// Every rule the oracle checks.
pub const RULES: &[Rule] = &[
    Rule {
        id: "no-message-structure-with-attributes",
        // "Message attributes are sent only when the message structure is String, not JSON."
        source: ATTRIBUTES_PAGE,
        check: |p| match (&p.message_structure, p.attributes.is_empty()) {
            (Some(structure), false) => Err(format!(
                "MessageStructure={structure} with {} attributes: they would not be sent",
                p.attributes.len()
            )),
            _ => Ok(()),
        },
    },
    Rule {
        id: "at-most-10-attributes",
        // "Messages with more than 10 message attributes directed towards Raw Message
        // Delivery enabled Amazon SQS subscriptions will be discarded as client side errors."
        source: ATTRIBUTES_PAGE,
        check: |p| match p.attributes.len() {
            0..=10 => Ok(()),
            n => Err(format!("{n} attributes")),
        },
    },
    Rule {
        id: "attribute-name-characters",
        // "The name can contain the following characters: A-Z, a-z, 0-9, underscore (_),
        // hyphen (-), and period (.)."
        source: ATTRIBUTES_PAGE,
        check: |p| {
            let bad = p.attributes.iter().find(|(name, _, _)| {
                !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            });
            bad.map_or(Ok(()), |(name, _, _)| Err(format!("name {name:?}")))
        },
    },
    Rule {
        id: "attribute-name-length",
        // "The name can be up to 256 characters long."
        source: ATTRIBUTES_PAGE,
        check: |p| {
            let bad = p
                .attributes
                .iter()
                .find(|(name, _, _)| name.chars().count() > 256);
            bad.map_or(Ok(()), |(name, _, _)| {
                Err(format!("name of {} characters", name.chars().count()))
            })
        },
    },
    Rule {
        id: "attribute-name-not-reserved",
        // "The name cannot start with "AWS." or "Amazon." (or any variations in casing)
        // because these prefixes are reserved for use by Amazon Web Services."
        source: ATTRIBUTES_PAGE,
        check: |p| {
            let bad = p.attributes.iter().find(|(name, _, _)| {
                let lower = name.to_ascii_lowercase();
                lower.starts_with("aws.") || lower.starts_with("amazon.")
            });
            bad.map_or(Ok(()), |(name, _, _)| Err(format!("name {name:?}")))
        },
    },
    Rule {
        id: "attribute-name-periods",
        // "The name must not start or end with a period, and it should not have successive
        // periods."
        source: ATTRIBUTES_PAGE,
        check: |p| {
            let bad = p.attributes.iter().find(|(name, _, _)| {
                name.starts_with('.') || name.ends_with('.') || name.contains("..")
            });
            bad.map_or(Ok(()), |(name, _, _)| Err(format!("name {name:?}")))
        },
    },
    Rule {
        id: "attribute-names-unique",
        // "The name is case-sensitive and must be unique among all attribute names for the
        // message."
        source: ATTRIBUTES_PAGE,
        check: |p| {
            let mut seen = std::collections::HashSet::new();
            let bad = p.attributes.iter().find(|(name, _, _)| !seen.insert(name));
            bad.map_or(Ok(()), |(name, _, _)| Err(format!("{name:?} twice")))
        },
    },
    Rule {
        id: "attribute-type",
        // "Amazon SNS supports the following logical data types: String, String.Array,
        // Number, and Binary", optionally with a custom type label after a period.
        source: ATTRIBUTE_VALUE_PAGE,
        check: |p| {
            let known = |data_type: &str| match data_type.split_once('.') {
                None => matches!(data_type, "String" | "Number" | "Binary"),
                Some((base, label)) => {
                    matches!(base, "String" | "Number" | "Binary") && !label.is_empty()
                }
            };
            let bad = p
                .attributes
                .iter()
                .find(|(_, data_type, _)| !known(data_type));
            bad.map_or(Ok(()), |(name, t, _)| Err(format!("{name}: type {t:?}")))
        },
    },
    Rule {
        id: "attribute-not-empty",
        // "Name, type, and value must not be empty or null."
        source: ATTRIBUTE_VALUE_PAGE,
        check: |p| {
            let bad = p.attributes.iter().find(|(name, data_type, value)| {
                name.is_empty()
                    || data_type.is_empty()
                    || value.as_deref().is_none_or(str::is_empty)
            });
            bad.map_or(Ok(()), |(name, t, v)| {
                Err(format!("{name:?} of type {t:?} = {v:?}"))
            })
        },
    },
    Rule {
        id: "string-attribute-characters",
        // "For string data types, the value attribute has the same restrictions on the content
        // as the message body", which SQS takes only in its character set.
        source: ATTRIBUTE_VALUE_PAGE,
        check: |p| {
            let bad = p.attributes.iter().find(|(_, data_type, value)| {
                data_type.starts_with("String")
                    && value.as_deref().is_some_and(|v| !v.chars().all(sqs_allows))
            });
            bad.map_or(Ok(()), |(name, _, v)| Err(format!("{name} = {v:?}")))
        },
    },
    Rule {
        id: "string-array-is-a-json-array",
        // String.Array: "An array, formatted as a string", of strings, numbers, and the
        // keywords true, false and null (Message attribute data types).
        source: ATTRIBUTES_PAGE,
        check: |p| {
            for (name, data_type, value) in &p.attributes {
                if data_type != "String.Array" {
                    continue;
                }
                let array: Result<Vec<serde_json::Value>, _> =
                    serde_json::from_str(value.as_deref().unwrap_or_default());
                let scalar = |v: &serde_json::Value| !(v.is_array() || v.is_object());
                if !array.is_ok_and(|items| items.iter().all(scalar)) {
                    return Err(format!("{name} = {value:?}"));
                }
            }
            Ok(())
        },
    },
    Rule {
        id: "number-attribute-matchable",
        // "For numeric matching, the value can range from -10^9 to 10^9 (-1 billion to 1
        // billion), with five digits of accuracy after the decimal point."
        source: FILTER_PAGE,
        check: |p| {
            for (name, data_type, value) in &p.attributes {
                if data_type.starts_with("Number") && !matchable_number(value.as_deref()) {
                    return Err(format!("{name} = {value:?}"));
                }
            }
            Ok(())
        },
    },
    Rule {
        id: "subject-one-line-under-100",
        // "Subjects must be UTF-8 text with no line breaks or control characters, and less
        // than 100 characters long." Characters are counted as UTF-16 code units, as a Java
        // service counts them: the stricter reading (an emoji is two).
        source: PUBLISH_PAGE,
        check: |p| {
            let Some(subject) = &p.subject else {
                return Ok(());
            };
            let length = subject.encode_utf16().count();
            let broken = subject
                .chars()
                .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'));
            match (length, broken) {
                (1..=99, None) => Ok(()),
                _ => Err(format!("{length} UTF-16 units, {broken:?}: {subject:?}")),
            }
        },
    },
    Rule {
        id: "subject-deliverable-to-sqs",
        // A queue without raw delivery gets the JSON envelope of "Amazon SNS message and JSON
        // formats", whose "Subject" field is the publish's subject: SQS takes it only in its
        // character set (SendMessage), as it does the message.
        source: SQS_SEND_PAGE,
        check: |p| match p
            .subject
            .as_deref()
            .and_then(|s| s.char_indices().find(|(_, c)| !sqs_allows(*c)))
        {
            Some((at, c)) => Err(format!("U+{:04X} at byte {at}", u32::from(c))),
            None => Ok(()),
        },
    },
    Rule {
        id: "message-and-attributes-within-256-kib",
        // Message: "at most 256 KB in size (262,144 bytes, not 262,144 characters)"
        // (Publish); "All parts of the message attribute, including name, type, and value, are
        // included in the message size restriction, which is currently 256 KB (262,144
        // bytes)" (MessageAttributeValue).
        source: PUBLISH_PAGE,
        check: |p| {
            let attributes: usize = p
                .attributes
                .iter()
                .map(|(n, t, v)| n.len() + t.len() + v.as_deref().map_or(0, str::len))
                .sum();
            let size = p.message.as_deref().map_or(0, str::len) + attributes;
            if size <= 262_144 {
                Ok(())
            } else {
                Err(format!("{size} bytes"))
            }
        },
    },
    Rule {
        id: "message-present-and-deliverable-to-sqs",
        // Message is required; SQS takes only "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to
        // #xFFFD | #x10000 to #x10FFFF" (SendMessage), and SNS delivers the message as it is.
        source: SQS_SEND_PAGE,
        check: |p| match p.message.as_deref() {
            None | Some("") => Err("no message".to_owned()),
            Some(message) => match message.char_indices().find(|(_, c)| !sqs_allows(*c)) {
                Some((at, c)) => Err(format!("U+{:04X} at byte {at}", u32::from(c))),
                None => Ok(()),
            },
        },
    },
    Rule {
        id: "chat-custom-notification",
        // A chat topic's subscriber, Amazon Q Developer, posts only messages in its custom
        // notification schema and drops the rest without an error (see chat_schema.rs).
        source: CHAT_SCHEMA_PAGE,
        check: |p| {
            if p.topic_arn.as_deref() != Some(CHAT_TOPIC) {
                return Ok(());
            }
            let broken = chat_violations(p.message.as_deref().unwrap_or_default());
            if broken.is_empty() {
                Ok(())
            } else {
                Err(broken.join("; "))
            }
        },
    },
    Rule {
        id: "fifo-message-group-id",
        // "For FIFO topics: ... Every message must include a MessageGroupId", of "up to 128
        // alphanumeric characters (a-z, A-Z, 0-9) and punctuation".
        source: PUBLISH_PAGE,
        check: |p| match (&p.message_group_id, p.is_fifo_topic()) {
            (None, true) => Err("FIFO topic without MessageGroupId".to_owned()),
            (Some(id), _) => fifo_id(id).map_err(|e| format!("MessageGroupId: {e}")),
            (None, false) => Ok(()),
        },
    },
    Rule {
        id: "fifo-message-deduplication-id",
        // "If you don't provide a MessageDeduplicationId and the topic doesn't have
        // ContentBasedDeduplication set, the action fails with an error" (the template's FIFO
        // topic has none); "up to 128 alphanumeric characters ... and punctuation".
        source: PUBLISH_PAGE,
        check: |p| match (&p.message_deduplication_id, p.is_fifo_topic()) {
            (None, true) => Err("FIFO topic without MessageDeduplicationId".to_owned()),
            (Some(id), _) => fifo_id(id).map_err(|e| format!("MessageDeduplicationId: {e}")),
            (None, false) => Ok(()),
        },
    },
];

/// The rules `publish` breaks, as `(rule id, what is wrong)`.
pub fn violations(publish: &Publish) -> Vec<(&'static str, String)> {
    RULES
        .iter()
        .filter_map(|rule| (rule.check)(publish).err().map(|why| (rule.id, why)))
        .collect()
}

/// The endpoint: records every `Publish`, answers each with a fresh message id.
pub struct Oracle {
    pub endpoint: String,
    seen: Arc<Mutex<Vec<Publish>>>,
}

impl Oracle {
    /// Starts on a free loopback port; its threads end with the test process.
    pub fn start() -> Self {
        let seen: Arc<Mutex<Vec<Publish>>> = Arc::default();
        let recorded = seen.clone();
        let address = http1::listen(move |stream| serve(stream, &recorded));
        Self {
            endpoint: format!("http://{address}"),
            seen,
        }
    }

    /// Every `Publish` so far, in arrival order.
    pub fn publishes(&self) -> Vec<Publish> {
        self.seen.lock().unwrap().clone()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }

    /// Every rule broken by any `Publish` so far: `(message id, rule id, what is wrong)`.
    pub fn violations(&self) -> Vec<(String, &'static str, String)> {
        self.publishes()
            .iter()
            .flat_map(|p| {
                violations(p)
                    .into_iter()
                    .map(|(rule, why)| (p.message_id.clone(), rule, why))
            })
            .collect()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Publish>>) {
    let (mut reader, mut writer) = http1::split(stream);
    while let Some(http1::Request { body, .. }) = http1::read_request(&mut reader) {
        let (status, xml) = {
            let mut seen = seen.lock().unwrap();
            let message_id = format!("oracle-{:06}", seen.len() + 1);
            match Publish::from_form(&body, message_id.clone()) {
                Ok(publish) => {
                    seen.push(publish);
                    let xml = format!(
                        "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                         <PublishResult><MessageId>{message_id}</MessageId></PublishResult>\
                         <ResponseMetadata><RequestId>{message_id}</RequestId>\
                         </ResponseMetadata></PublishResponse>"
                    );
                    ("200 OK", xml)
                }
                Err(why) => (
                    "400 Bad Request",
                    format!(
                        "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>\
                         <Message>{why}</Message></Error></ErrorResponse>"
                    ),
                ),
            }
        };
        if !http1::respond(
            &mut writer,
            status,
            "content-type: text/xml\r\n",
            xml.as_bytes(),
        ) {
            return;
        }
    }
}
