//! Fuzzes the parsing path: body bytes → `Webhook::parse` → subject, text and both publishes.
//! Any panic is a bug; so is a broken invariant asserted below.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qase_defect_fanout::message::{MAX_ATTRIBUTE_CHARS, MAX_PUBLISH_BYTES, Outbound};
use qase_defect_fanout::summary::{self, MAX_SUBJECT_CHARS};
use qase_defect_fanout::qase::{EventName, Webhook};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(webhook) = Webhook::parse(body) else {
        return;
    };
    assert!(EventName::parse(webhook.event_name.as_str()).is_ok());

    let subject = summary::subject(&webhook);
    assert!(
        !subject.is_empty() && subject.len() <= MAX_SUBJECT_CHARS,
        "{subject:?}"
    );
    assert!(
        subject.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
        "{subject:?}"
    );
    let text = summary::text(&webhook);
    assert!(
        text.lines().all(|l| !l.chars().any(char::is_control)),
        "{text:?}"
    );

    match Outbound::event(&webhook, body, true) {
        Ok(out) => {
            assert!(out.size() <= MAX_PUBLISH_BYTES);
            assert_eq!(out.message, body, "machines get the body");
            let note = Outbound::notification(&webhook, &out);
            assert_eq!(note.message, text);
            assert!(note.size() <= MAX_PUBLISH_BYTES);
            for attribute in &out.attributes {
                assert!(!attribute.value.is_empty());
                assert!(attribute.value.chars().count() <= MAX_ATTRIBUTE_CHARS);
                assert!(!attribute.value.chars().any(char::is_control));
            }
            let fifo = out.fifo.expect("asked for FIFO keys");
            assert!((1..=128).contains(&fifo.message_group_id.len()));
            assert_eq!(fifo.message_deduplication_id.len(), 64);
        }
        Err(too_large) => assert!(too_large.size > MAX_PUBLISH_BYTES),
    }
});
