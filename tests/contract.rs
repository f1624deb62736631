//! The AWS contract, checked where moto cannot: every `Publish` the production SNS adapter
//! sends, decoded off the wire by the oracle (`common::oracle`) and held against the rules
//! AWS documents. First the oracle is shown to catch each rule broken; then all 40 Qase
//! fixtures, every accepted case of the hostile corpus, and generated webhooks are published
//! through the real handler to the three topics (events standard and FIFO, notifications,
//! chat, the chat message held to the chat schema too), and must break none.
#![allow(clippy::too_many_lines)] // The 60-line limit (clippy.toml) is for src/; a test is one scenario.

mod common;

use common::TestApp as _;

use std::fmt::Write as _;
use std::sync::LazyLock;

use aws_sdk_sns::types::MessageAttributeValue;
use common::chat_schema::CHAT_TOPIC;
use common::corpus::accepted_corpus;
use common::oracle::{Oracle, Publish, RULES, violations};
use common::qase_mock::{self, QaseMock};
use common::{Api, EventBuilder, app, json_body, qase_fixtures, send};
use proptest::prelude::*;
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::config::TopicArn;
use qase_defect_fanout::lambda::App;

const EVENTS: &str = "arn:aws:sns:us-east-1:123456789012:qase-events";
const EVENTS_FIFO: &str = "arn:aws:sns:us-east-1:123456789012:qase-events.fifo";
const NOTIFICATIONS: &str = "arn:aws:sns:us-east-1:123456789012:qase-notifications";

/// A raw SNS client aimed at `oracle`, for publishing what the function never would.
fn raw_client(oracle: &Oracle) -> aws_sdk_sns::Client {
    let config =
        aws_sdk_sns::config::Builder::from(&common::moto::sdk_config_for(&oracle.endpoint))
            .region(aws_config::Region::new("us-east-1"))
            .build();
    aws_sdk_sns::Client::from_conf(config)
}

fn string(value: &str) -> MessageAttributeValue {
    typed("String", value)
}

fn typed(data_type: &str, value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .unwrap()
}

type Customize = fn(
    aws_sdk_sns::operation::publish::builders::PublishFluentBuilder,
) -> aws_sdk_sns::operation::publish::builders::PublishFluentBuilder;

/// For each rule, a publish that breaks it (and, as far as possible, nothing else).
fn broken_publishes() -> Vec<(&'static str, Customize)> {
    vec![
        ("no-message-structure-with-attributes", |p| {
            p.message(r#"{"default":"x"}"#)
                .message_structure("json")
                .message_attributes("event_name", string("defect.created"))
        }),
        ("at-most-10-attributes", |mut p| {
            for n in 0..11 {
                p = p.message_attributes(format!("a{n}"), string("x"));
            }
            p
        }),
        ("attribute-name-characters", |p| {
            p.message_attributes("event name", string("x"))
        }),
        ("attribute-name-length", |p| {
            p.message_attributes("a".repeat(257), string("x"))
        }),
        ("attribute-name-not-reserved", |p| {
            p.message_attributes("aWs.trace", string("x"))
        }),
        ("attribute-name-periods", |p| {
            p.message_attributes("a..b", string("x"))
        }),
        ("attribute-type", |p| {
            p.message_attributes("n", typed("Integer", "1"))
        }),
        ("string-array-is-a-json-array", |p| {
            p.message_attributes("tags", typed("String.Array", "login"))
        }),
        ("string-array-is-a-json-array", |p| {
            p.message_attributes("tags", typed("String.Array", r#"[{"title":"login"}]"#))
        }),
        ("attribute-not-empty", |p| {
            p.message_attributes("severity", string(""))
        }),
        ("string-attribute-characters", |p| {
            p.message_attributes("severity", string("a\u{FFFF}"))
        }),
        ("number-attribute-matchable", |p| {
            p.message_attributes("entity_id", typed("Number", "1000000001"))
        }),
        ("number-attribute-matchable", |p| {
            p.message_attributes("entity_id", typed("Number", "1.123456"))
        }),
        ("subject-one-line-under-100", |p| p.subject("two\nlines")),
        ("subject-one-line-under-100", |p| p.subject("é".repeat(100))),
        ("subject-one-line-under-100", |p| p.subject("😀".repeat(50))),
        ("subject-deliverable-to-sqs", |p| {
            p.subject("not \u{FFFF} deliverable")
        }),
        ("chat-custom-notification", |p| {
            p.topic_arn(CHAT_TOPIC).message("plain text")
        }),
        ("message-and-attributes-within-256-kib", |p| {
            p.message("x".repeat(262_144))
                .message_attributes("a", string("b"))
        }),
        ("message-present-and-deliverable-to-sqs", |p| {
            p.message("not \u{FFFE} deliverable")
        }),
        ("fifo-message-group-id", |p| {
            p.topic_arn(EVENTS_FIFO).message_deduplication_id("d")
        }),
        ("fifo-message-group-id", |p| {
            p.topic_arn(EVENTS_FIFO)
                .message_group_id("café")
                .message_deduplication_id("d")
        }),
        ("fifo-message-deduplication-id", |p| {
            p.topic_arn(EVENTS_FIFO).message_group_id("DEMO")
        }),
    ]
}

#[tokio::test]
async fn the_oracle_finds_each_documented_rule_broken_and_passes_a_good_publish() {
    let oracle = Oracle::start();
    let sns = raw_client(&oracle);
    let base = || sns.publish().topic_arn(EVENTS).message("a message");

    // A publish that keeps every rule, at the edges: 10 attributes, a 99-character subject,
    // a number at 10^9, a message of 262,144 bytes with its attributes.
    let mut good = base()
        .subject(format!("{}😀", "é".repeat(97)))
        .message_attributes("entity_id", typed("Number", "1000000000"))
        .message_attributes("ratio", typed("Number", "-0.12345"))
        .message_attributes("exp", typed("Number", "3.015e2"))
        .message_attributes("labelled", typed("String.label", "x"));
    for n in 0..5 {
        good = good.message_attributes(format!("a.{n}_-"), string("Кнопка 😀"));
    }
    let tags = r#"["login","вход",1,null]"#;
    good = good.message_attributes("tags", typed("String.Array", tags));
    let good_attributes: usize = [
        "entity_id".len() + 6 + 10,
        "ratio".len() + 6 + 8,
        "exp".len() + 6 + 7,
        "labelled".len() + 12 + 1,
    ]
    .iter()
    .sum::<usize>()
        + 5 * ("a.0_-".len() + 6 + "Кнопка 😀".len())
        + ("tags".len() + "String.Array".len() + tags.len());
    good.message("m".repeat(262_144 - good_attributes))
        .send()
        .await
        .expect("the oracle answers");
    let good = &oracle.publishes()[0];
    assert_eq!(violations(good), [], "{good:?}");
    oracle.clear();

    let mut caught = std::collections::BTreeSet::new();
    for (rule, customize) in broken_publishes() {
        customize(base()).send().await.expect("the oracle answers");
        let publish = oracle.publishes().pop().unwrap();
        let found = violations(&publish);
        assert!(
            found.iter().any(|(id, _)| *id == rule),
            "{rule} not caught in {found:?}"
        );
        caught.insert(rule);
    }
    // One the SDK cannot send (it keeps attributes in a map): a name twice on the wire.
    let twice = Publish::from_form(
        b"Action=Publish&TopicArn=t&Message=m\
          &MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String\
          &MessageAttributes.entry.1.Value.StringValue=1\
          &MessageAttributes.entry.2.Name=a&MessageAttributes.entry.2.Value.DataType=String\
          &MessageAttributes.entry.2.Value.StringValue=2",
        "id".into(),
    )
    .unwrap();
    assert!(
        violations(&twice)
            .iter()
            .any(|(id, _)| *id == "attribute-names-unique")
    );
    caught.insert("attribute-names-unique");

    let all: std::collections::BTreeSet<_> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(caught, all, "every rule is shown to fail");
    assert!(
        RULES
            .iter()
            .all(|r| r.source.contains("https://docs.aws.amazon.com/"))
    );
    println!(
        "AWS-contract oracle: {} rules, each shown to catch a broken publish",
        RULES.len()
    );
}

/// The production publishers aimed at `oracle`: the events topic (FIFO or not), the
/// notifications topic and the chat topic (every event).
fn app_on(oracle: &Oracle, fifo: bool) -> App<SnsPublisher> {
    let sdk = common::moto::sdk_config_for(&oracle.endpoint);
    let events = TopicArn::parse(if fifo { EVENTS_FIFO } else { EVENTS }).unwrap();
    let events = SnsPublisher::from_config(&sdk, &events);
    let notifications = events.for_topic(&sdk, &TopicArn::parse(NOTIFICATIONS).unwrap());
    let chat = events.for_topic(&sdk, &TopicArn::parse(CHAT_TOPIC).unwrap());
    let app = app(events)
        .with_notifications(notifications)
        .with_chat(chat, None);
    if fifo { app.with_fifo_events() } else { app }
}

/// What the oracle saw for one accepted webhook: its event, its notification and its chat
/// message.
fn trio_for(oracle: &Oracle, answer: &serde_json::Value) -> (Publish, Publish, Publish) {
    let publishes = oracle.publishes();
    let by_id = |id: &serde_json::Value| {
        publishes
            .iter()
            .find(|p| Some(p.message_id.as_str()) == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no publish {id} in {answer}"))
    };
    (
        by_id(&answer["message_id"]),
        by_id(&answer["notification_id"]),
        by_id(&answer["chat_id"]),
    )
}

/// Checks the three publishes the oracle saw for an accepted webhook whose body is `body` and
/// whose answer is `answer`: each against the contract (the chat message against the chat
/// schema too), and against each other.
fn check_trio(
    oracle: &Oracle,
    app: &App<SnsPublisher>,
    answer: &serde_json::Value,
    body: &str,
) -> Result<(Publish, Publish), String> {
    let (event, note, chat) = trio_for(oracle, answer);
    let events_topic = if app.topics.fifo_events {
        EVENTS_FIFO
    } else {
        EVENTS
    };
    if event.topic_arn.as_deref() != Some(events_topic) || event.message.as_deref() != Some(body) {
        return Err(format!(
            "the event is not the body, byte for byte, on its topic: {event:?}"
        ));
    }
    if note.topic_arn.as_deref() != Some(NOTIFICATIONS) || note.message.as_deref() == Some(body) {
        return Err(format!(
            "the notification is not the text on its topic: {note:?}"
        ));
    }
    let sorted = |p: &Publish| {
        let mut attributes = p.attributes.clone();
        attributes.sort();
        attributes
    };
    if chat.topic_arn.as_deref() != Some(CHAT_TOPIC) {
        return Err(format!("the chat message is not on its topic: {chat:?}"));
    }
    for other in [&note, &chat] {
        if sorted(other) != sorted(&event) || other.subject != event.subject {
            return Err(format!(
                "different attributes or subject: {event:?} / {other:?}"
            ));
        }
    }
    for publish in [&event, &note, &chat] {
        let broken = violations(publish);
        if !broken.is_empty() {
            return Err(format!("{broken:?} in {publish:?}"));
        }
    }
    Ok((event, note))
}

/// Sends `event`, whose body is `body`; it must be accepted and keep the contract.
async fn publish_and_check(
    oracle: &Oracle,
    app: &App<SnsPublisher>,
    what: &str,
    event: &EventBuilder,
    body: &str,
) -> (Publish, Publish) {
    let response = send(app, event).await;
    let answer = json_body(&response);
    assert_eq!(response.status(), 202, "{what}: {answer}");
    check_trio(oracle, app, &answer, body).unwrap_or_else(|why| panic!("{what}: {why}"))
}

#[tokio::test]
async fn every_documented_qase_event_keeps_the_contract_on_both_topics_standard_and_fifo() {
    let oracle = Oracle::start();
    let mut checked = 0;
    for fifo in [false, true] {
        let app = app_on(&oracle, fifo);
        for (name, body) in qase_fixtures() {
            let what = format!("{name} (fifo: {fifo})");
            let event = EventBuilder::qase(Api::Http, &body);
            let (event, _) = publish_and_check(&oracle, &app, &what, &event, &body).await;
            assert_eq!(event.attribute("event_name"), Some(name.as_str()), "{what}");
            checked += 3;
        }
    }
    assert_eq!(checked, 2 * 3 * 40);
    assert_eq!(oracle.publishes().len(), checked);
    println!(
        "contract: {checked} publishes of the 40 fixtures checked against {} rules",
        RULES.len()
    );
}

#[tokio::test]
async fn enriched_publishes_keep_the_contract_string_array_tags_included() {
    let oracle = Oracle::start();
    let qase = QaseMock::start();
    let mut checked = 0;
    for fifo in [false, true] {
        let app = app_on(&oracle, fifo).with_enricher(qase.enricher());
        for action in ["created", "updated", "resolved", "deleted"] {
            for id in [3, qase_mock::ODD_TAGS] {
                let body = format!(
                    r#"{{"event_name":"defect.{action}","payload":{{"id":{id}}},"project_code":"DEMO"}}"#
                );
                let what = format!("defect.{action} #{id} (fifo: {fifo})");
                let event = EventBuilder::qase(Api::Http, &body);
                let (event, _) = publish_and_check(&oracle, &app, &what, &event, &body).await;
                let tags = event.attributes.iter().find(|(n, _, _)| n == "tags");
                let (_, data_type, value) = tags.unwrap_or_else(|| panic!("{what}: no tags"));
                assert_eq!(data_type, "String.Array", "{what}");
                let tags: Vec<String> = serde_json::from_str(value.as_deref().unwrap()).unwrap();
                if id == qase_mock::ODD_TAGS {
                    // Kept: quotes, Cyrillic, emoji; left out: U+FFFF, empty; capped at 20.
                    assert_eq!(&tags[..3], ["say \"hi\"", "вход", "😀"], "{what}");
                    assert_eq!(tags.len(), 20, "{what}");
                }
                checked += 3;
            }
        }
    }
    assert_eq!(checked, 2 * 4 * 2 * 3);
    assert_eq!(
        oracle.publishes().len(),
        checked,
        "each one reached the oracle"
    );
    println!("contract: {checked} enriched publishes checked");
}

#[tokio::test]
async fn every_accepted_case_of_the_hostile_corpus_keeps_the_contract() {
    let oracle = Oracle::start();
    let mut checked = 0;
    for fifo in [false, true] {
        let app = app_on(&oracle, fifo);
        for api in [Api::Rest, Api::Http, Api::FunctionUrl] {
            for case in accepted_corpus(api) {
                let what = format!("{api:?} / {} (fifo: {fifo})", case.name);
                let body = case.published.clone().unwrap();
                publish_and_check(&oracle, &app, &what, &case.event, &body).await;
                checked += 3;
            }
        }
    }
    // 15 accepted cases as each of the 3 event shapes, and the odd URIs lambda_http converts
    // (5 as REST API events, 1 as each of the other two), on a standard and a FIFO events topic.
    assert_eq!(
        checked,
        (15 * 3 + 5 + 1 + 1) * 2 * 3,
        "every accepted case was published to the three topics"
    );
    println!("contract: {checked} publishes of the accepted hostile corpus checked");
}

/// One oracle, one runtime and the production publishers for every generated case.
struct Rig {
    runtime: tokio::runtime::Runtime,
    oracle: Oracle,
    apps: [App<SnsPublisher>; 2],
}

static RIG: LazyLock<Rig> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let oracle = Oracle::start();
    let apps = runtime.block_on(async { [app_on(&oracle, false), app_on(&oracle, true)] });
    Rig {
        runtime,
        oracle,
        apps,
    }
});

/// Text people write: any script, emoji, combining marks, bidi controls, line and paragraph
/// separators, and (escaped in JSON) control characters and noncharacters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[a-zA-Zа-яА-Я日本語😀\u{0301}\u{202E}\u{2028}\u{2029}\u{85} \\t\\n\\r\u{FFFD}\u{1F}\u{7F}]{0,80}",
        Just("x".repeat(5_000)),
        Just("é".repeat(300)),
        Just("\u{FFFF}\u{FFFE}".to_owned()),
    ]
}

/// Ids as Qase might send them, and the edges around them.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..10_000).prop_map(|n| n.to_string()),
        Just("1000000000".to_owned()),
        Just("1000000001".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("-1000000001".to_owned()),
        Just("-5".to_owned()),
        Just("1e300".to_owned()),
        Just("2.5".to_owned()),
        Just("\"42\"".to_owned()),
    ]
}

/// Project codes as Qase has them, and stranger ones.
fn project_code() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        "[A-Z]{2,10}".prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
        "[ -~]{0,200}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        Just(serde_json::json!(7)),
    ]
}

/// `text` as a JSON string. `serde_json` escapes control characters and writes every other
/// character as it is; with `escape_all`, characters outside printable ASCII are written as
/// `\uXXXX` escapes instead, as another sender might, so a U+FFFF reaches the parsed title.
fn json_string(text: &str, escape_all: bool) -> String {
    if !escape_all {
        return serde_json::Value::from(text).to_string();
    }
    let mut out = String::from('"');
    for unit in text.encode_utf16() {
        match unit {
            0x20..=0x7E if unit != u16::from(b'"') && unit != u16::from(b'\\') => {
                out.push(char::from(u8::try_from(unit).unwrap()));
            }
            _ => write!(out, "\\u{unit:04x}").expect("writing to a String cannot fail"),
        }
    }
    out.push('"');
    out
}

/// A generated webhook body: written as `serde_json` writes (U+FFFE and U+FFFF literally,
/// which the function must refuse) or with every non-ASCII character escaped.
fn webhook() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "defect.created",
        "defect.resolved",
        "defect.deleted",
        "run.started",
        "case.updated",
        "review.commented",
        "x_y.z1",
    ]);
    (name, id(), text(), text(), project_code(), id(), any::<bool>()).prop_map(
        |(name, id, title, severity, code, member, escape_all)| {
            let code = match code {
                serde_json::Value::String(code) => json_string(&code, escape_all),
                other => other.to_string(),
            };
            format!(
                r#"{{"event_name":"{name}","timestamp":1700000000,"payload":{{"id":{id},"title":{},"severity":{},"actual_result":"private"}},"team_member_id":{member},"project_code":{code}}}"#,
                json_string(&title, escape_all),
                json_string(&severity, escape_all),
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn generated_webhooks_keep_the_contract_on_both_topics(
        body in webhook(),
        fifo in any::<bool>(),
        api in prop::sample::select(vec![Api::Rest, Api::Http, Api::FunctionUrl]),
    ) {
        let rig = &*RIG;
        let app = &rig.apps[usize::from(fifo)];
        let event = EventBuilder::qase(api, &body);
        let response = rig.runtime.block_on(send(app, &event));
        let status = response.status().as_u16();
        let answer = json_body(&response);
        let literal_nonchar = body.contains(['\u{FFFE}', '\u{FFFF}']);
        if literal_nonchar {
            prop_assert_eq!(status, 400);
            prop_assert_eq!(answer["error"].as_str(), Some("unsupported_character"));
        } else {
            prop_assert_eq!(status, 202, "{}", answer);
            let checked = check_trio(&rig.oracle, app, &answer, &body);
            prop_assert!(checked.is_ok(), "{}", checked.unwrap_err());
        }
    }
}
