//! Fuzzes the parsing path: body bytes → `Webhook::parse` → subject, text and both publishes,
//! without enrichment and with details made of the same fuzzed strings; and the same bytes as
//! a Qase API answer. Any panic is a bug; so is a broken invariant asserted below.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qase_defect_fanout::message::{
    DataType, DeliverableBody, MAX_ATTRIBUTE_CHARS, MAX_PUBLISH_BYTES, MessageError, Outbound,
    is_sqs_character,
};
use qase_defect_fanout::qase::{DefectDetails, EventName, Webhook};
use qase_defect_fanout::summary::{self, MAX_SUBJECT_UTF16_UNITS};

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

    let subject = summary::subject(webhook, details);
    let units = subject.encode_utf16().count();
    assert!((1..=MAX_SUBJECT_UTF16_UNITS).contains(&units), "{subject:?}");
    assert!(
        subject
            .chars()
            .all(|c| is_sqs_character(c) && !c.is_control() && c != '\u{2028}' && c != '\u{2029}'),
        "{subject:?}"
    );
    let text = summary::text(webhook, details);
    assert!(text.chars().all(is_sqs_character), "{text:?}");
    assert!(
        text.lines().all(|l| !l.chars().any(char::is_control)),
        "{text:?}"
    );

    let checked = match DeliverableBody::new(body) {
        Ok(checked) => checked,
        Err(MessageError::UnsupportedCharacter { character, offset }) => {
            assert!(!is_sqs_character(character));
            assert_eq!(body[offset..].chars().next(), Some(character));
            return;
        }
        Err(other) => panic!("only characters are checked: {other}"),
    };
    match Outbound::event(webhook, checked, subject, true, details) {
        Ok(out) => {
            assert!(out.size() <= MAX_PUBLISH_BYTES);
            assert_eq!(out.message, body, "machines get the body");
            let note = out.notification(text);
            assert!(note.size() <= MAX_PUBLISH_BYTES);
            assert!(out.attributes.len() <= 10, "{:?}", out.attributes);
            for attribute in &out.attributes {
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
            let fifo = out.fifo.expect("asked for FIFO keys");
            assert!((1..=128).contains(&fifo.message_group_id.len()));
            assert_eq!(fifo.message_deduplication_id.len(), 64);
        }
        Err(MessageError::TooLarge { size, .. }) => assert!(size > MAX_PUBLISH_BYTES),
        Err(other) => panic!("characters were checked already: {other}"),
    }
}
