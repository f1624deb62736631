//! The chat schema oracle: what Amazon Q Developer in chat applications takes as a custom
//! notification, written from its Administrator Guide ("Custom notifications using Amazon Q
//! Developer in chat applications",
//! <https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html>), never from the
//! code under test. A message outside the schema is dropped by the service ("Event Received
//! is not supported") and no error reaches the publisher, so every chat publish of every test
//! is held to it.
//!
//! The guide's event format: `{"version", "source", "id", "content": {"textType", "title",
//! "description", "nextSteps": [..], "keywords": [..]}, "metadata": {"threadId", "summary",
//! "eventType", "relatedResources": [..], "additionalContext": {..}}}`; `version` "Must be
//! 1.0", `source` "Must be custom", `textType`: "Only client-markdown textType is currently
//! supported"; a description is the least a notification carries (every example of the guide
//! has one).
#![allow(dead_code)] // each user takes what it needs

use serde_json::{Map, Value};

/// The chat topic of every test: the contract oracle holds what is published to it to the
/// schema.
pub const CHAT_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:qase-chat";

/// Where the rules come from.
pub const CHAT_SCHEMA_PAGE: &str = "Amazon Q Developer in chat applications Administrator Guide, \
     \"Custom notifications using Amazon Q Developer in chat applications\" \
     (https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html)";

/// Every way `message` (an SNS message for a chat topic) departs from the schema.
pub fn chat_violations(message: &str) -> Vec<String> {
    let mut broken = Vec::new();
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(message) else {
        return vec![format!("not a JSON object: {message:?}")];
    };
    only_keys(
        &root,
        "",
        &["version", "source", "id", "content", "metadata"],
        &mut broken,
    );
    if root.get("version") != Some(&Value::from("1.0")) {
        broken.push(format!(
            "version must be \"1.0\": {:?}",
            root.get("version")
        ));
    }
    if root.get("source") != Some(&Value::from("custom")) {
        broken.push(format!(
            "source must be \"custom\": {:?}",
            root.get("source")
        ));
    }
    if root.get("id").is_some_and(|id| !id.is_string()) {
        broken.push("id must be a string".to_owned());
    }
    match root.get("content") {
        Some(Value::Object(content)) => check_content(content, &mut broken),
        other => broken.push(format!("content must be an object: {other:?}")),
    }
    match root.get("metadata") {
        None => {}
        Some(Value::Object(metadata)) => check_metadata(metadata, &mut broken),
        other => broken.push(format!("metadata must be an object: {other:?}")),
    }
    broken
}

fn check_content(content: &Map<String, Value>, broken: &mut Vec<String>) {
    let keys = ["textType", "title", "description", "nextSteps", "keywords"];
    only_keys(content, "content.", &keys, broken);
    if content
        .get("textType")
        .is_some_and(|t| t != "client-markdown")
    {
        broken.push(format!(
            "textType must be client-markdown: {:?}",
            content["textType"]
        ));
    }
    match content.get("description") {
        Some(Value::String(d)) if !d.trim().is_empty() => {}
        other => broken.push(format!("content.description must be text: {other:?}")),
    }
    string_field(content, "content.", "title", broken);
    strings_field(content, "content.", "nextSteps", broken);
    strings_field(content, "content.", "keywords", broken);
}

fn check_metadata(metadata: &Map<String, Value>, broken: &mut Vec<String>) {
    let keys = [
        "threadId",
        "summary",
        "eventType",
        "relatedResources",
        "additionalContext",
        "enableCustomActions",
    ];
    only_keys(metadata, "metadata.", &keys, broken);
    for key in ["threadId", "summary", "eventType"] {
        string_field(metadata, "metadata.", key, broken);
    }
    strings_field(metadata, "metadata.", "relatedResources", broken);
    match metadata.get("additionalContext") {
        None => {}
        Some(Value::Object(context)) if context.values().all(Value::is_string) => {}
        other => broken.push(format!("metadata.additionalContext: {other:?}")),
    }
    if metadata
        .get("enableCustomActions")
        .is_some_and(|v| !v.is_boolean())
    {
        broken.push("metadata.enableCustomActions must be a boolean".to_owned());
    }
}

fn only_keys(object: &Map<String, Value>, at: &str, known: &[&str], broken: &mut Vec<String>) {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            broken.push(format!("{at}{key} is not in the schema"));
        }
    }
}

fn string_field(object: &Map<String, Value>, at: &str, key: &str, broken: &mut Vec<String>) {
    if object.get(key).is_some_and(|v| !v.is_string()) {
        broken.push(format!("{at}{key} must be a string"));
    }
}

fn strings_field(object: &Map<String, Value>, at: &str, key: &str, broken: &mut Vec<String>) {
    match object.get(key) {
        None => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        other => broken.push(format!("{at}{key} must be a list of strings: {other:?}")),
    }
}

/// What in the text a user could have written would act in Slack or Teams: a mention, a link,
/// markup. `fields` are the chat message's user-facing texts other than the function's own
/// link (title, description, keywords).
pub fn acting_text(fields: &[&str]) -> Vec<String> {
    // Slack: <!here>, <!channel>, <!everyone>, <@U…>, <#C…>, <url|text>; Teams: <at>, HTML.
    let angle = [
        "<!", "<@", "<#", "<http", "<mailto", "<at>", "<a ", "<script",
    ];
    // Bare mentions and links, and markdown link, emphasis and code syntax.
    let bare = [
        "@here",
        "@channel",
        "@everyone",
        "://",
        "](",
        "**",
        "```",
        "www.",
    ];
    let mut acting = Vec::new();
    for field in fields {
        let lower = field.to_lowercase();
        for pattern in angle.iter().chain(&bare) {
            if lower.contains(pattern) {
                acting.push(format!("{pattern:?} in {field:?}"));
            }
        }
        // A host name Slack or Teams would link (`evil.example`): a dot between letters.
        let chars: Vec<char> = lower.chars().collect();
        for window in chars.windows(3) {
            if window[1] == '.'
                && window[0].is_ascii_alphanumeric()
                && window[2].is_ascii_alphabetic()
            {
                acting.push(format!("a host name in {field:?}"));
                break;
            }
        }
        if field.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}')) {
            acting.push(format!("an invisible format character in {field:?}"));
        }
    }
    acting
}
