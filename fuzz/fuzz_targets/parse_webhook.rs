//! Fuzzes the parsing path: body bytes → `Webhook::parse` → the plan (`fanout::plan`: every
//! message, with both topics configured), without enrichment and with details made of the same
//! fuzzed strings; and the same bytes as a Qase API answer. Any panic is a bug; so is a broken
//! invariant asserted below.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qase_defect_fanout::fanout::{self, Companions, Topics};
use qase_defect_fanout::message::{
    Attribute, DataType, DeliverableBody, MAX_ATTRIBUTE_CHARS, MAX_PUBLISH_BYTES,
    MAX_SUBJECT_UTF16_UNITS, MessageError, is_sqs_character,
};
use qase_defect_fanout::qase::{DefectDetails, EventName, Webhook};

fuzz_target!(|data: &[u8]| {
    let _ = DefectDetails::from_answer(data);
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(webhook) = Webhook::parse(body) else {
        return;
    };
    assert!(EventName::parse(webhook.event_name.as_str()).is_ok());
    // What the Qase API might say, made of the webhook's own (fuzzed) strings.
    let odd = DefectDetails {
        title: webhook.payload.title.clone(),
        severity: webhook.project_code.clone(),
        status: webhook.payload.severity.clone(),
        tags: [&webhook.payload.title, &webhook.project_code, &webhook.payload.severity]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
    };
    for details in [None, Some(&odd)] {
        check(body, &webhook, details);
    }
});

fn check(body: &str, webhook: &Webhook, details: Option<&DefectDetails>) {
    let checked = match DeliverableBody::new(webhook, body) {
        Ok(checked) => checked,
        Err(MessageError::UnsupportedCharacter { character, offset }) => {
            assert!(!is_sqs_character(character));
            assert_eq!(body[offset..].chars().next(), Some(character));
            return;
        }
        Err(MessageError::TooLarge { size, .. }) => {
            assert!(size > MAX_PUBLISH_BYTES);
            return;
        }
    };
    let topics = Topics {
        events: (),
        fifo_events: true,
        companions: Companions {
            notification: Some(()),
            chat: Some(()),
        },
        chat_filter: None,
    };
    let plan = fanout::plan(webhook, checked, details, &topics);
    let (event, companions) = (&plan.events, &plan.companions);
    let (note, chat) = (companions.notification.as_ref(), companions.chat.as_ref());
    let (note, chat) = (note.expect("a notification"), chat.expect("a chat message"));
    for (topic, outbound) in [("message", event), ("notification", note), ("chat", chat)] {
        check_subject(&outbound.subject);
        assert!(outbound.size() <= MAX_PUBLISH_BYTES, "{topic}");
        check_attributes(&outbound.attributes);
        assert_eq!(outbound.attributes, event.attributes, "one filter fits all");
    }
    assert_eq!(event.message, body, "machines get the body");
    let fifo = event.fifo.as_ref().expect("asked for FIFO keys");
    assert!((1..=128).contains(&fifo.message_group_id.len()));
    assert_eq!(fifo.message_deduplication_id.len(), 64);
    assert!(note.fifo.is_none(), "the notifications topic is never FIFO");
    check_chat(&chat.message);
    let text = &note.message;
    assert!(text.chars().all(is_sqs_character), "{text:?}");
    assert!(
        text.lines().all(|l| !l.chars().any(char::is_control)),
        "{text:?}"
    );
}

/// Amazon Q Developer's custom notification: the required fields, and no text a user wrote
/// that could act (no `<`, no bare `@`, no `://`) outside the function's own link.
fn check_chat(message: &str) {
    assert!(message.chars().all(is_sqs_character), "{message:?}");
    let chat: serde_json::Value = serde_json::from_str(message).expect("JSON");
    assert_eq!(chat["version"], "1.0");
    assert_eq!(chat["source"], "custom");
    let content = &chat["content"];
    assert_eq!(content["textType"], "client-markdown");
    let description = content["description"].as_str().expect("a description");
    assert!(!description.trim().is_empty());
    let title = content["title"].as_str().expect("a title");
    for text in [title, description] {
        assert!(!text.contains('<') && !text.contains('@') && !text.contains("://"), "{text:?}");
        assert!(!text.contains('\u{202E}') && !text.contains('\u{200B}'), "{text:?}");
    }
}

/// One line, within SNS's subject length, in SQS's character set.
fn check_subject(subject: &str) {
    let units = subject.encode_utf16().count();
    assert!((1..=MAX_SUBJECT_UTF16_UNITS).contains(&units), "{subject:?}");
    assert!(
        subject
            .chars()
            .all(|c| is_sqs_character(c) && !c.is_control() && c != '\u{2028}' && c != '\u{2029}'),
        "{subject:?}"
    );
}

/// At most 10, none empty, each value (and each element of a `String.Array`) clean and within
/// the length limit.
fn check_attributes(attributes: &[Attribute]) {
    assert!(attributes.len() <= 10, "{attributes:?}");
    for attribute in attributes {
        assert!(!attribute.value.is_empty());
        assert!(!attribute.value.chars().any(char::is_control));
        assert!(attribute.value.chars().all(is_sqs_character));
        // A String.Array holds its values in JSON: the limit is on each of them.
        let values: Vec<String> = if attribute.data_type == DataType::StringArray {
            serde_json::from_str(&attribute.value).expect("a JSON array of strings")
        } else {
            vec![attribute.value.clone()]
        };
        assert!(values.iter().all(|v| !v.is_empty()));
        assert!(values.iter().all(|v| v.chars().count() <= MAX_ATTRIBUTE_CHARS));
    }
}
