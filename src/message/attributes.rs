//! The routing attributes every message of one webhook carries, and the rules AWS documents
//! for their names, types and values. Subscribers' filter policies match on these names: they
//! are the contract (`docs` and the template's default policies name the same constants).

use super::is_sqs_character;
use crate::qase::{DefectDetails, Webhook};

/// Attribute: the full event name, e.g. `defect.created` (String, always present).
pub const ATTR_EVENT_NAME: &str = "event_name";
/// Attribute: the part of the event name before the dot, e.g. `defect` (String).
pub const ATTR_ENTITY: &str = "entity";
/// Attribute: the part of the event name after the dot, e.g. `created` (String).
pub const ATTR_ACTION: &str = "action";
/// Attribute: the Qase project code, e.g. `DEMO` (String).
pub const ATTR_PROJECT_CODE: &str = "project_code";
/// Attribute: `payload.id`, the id of the defect, case, run... (Number).
pub const ATTR_ENTITY_ID: &str = "entity_id";
/// Attribute: `payload.severity` when it is a string, e.g. `critical` (String).
pub const ATTR_SEVERITY: &str = "severity";
/// Attribute: who triggered the event; 0 for an automation token (Number).
pub const ATTR_TEAM_MEMBER_ID: &str = "team_member_id";
/// Attribute: `"true"` on an event `qase-backfill` sent again (the body's `"replayed": true`);
/// absent on what Qase sent (String).
pub const ATTR_REPLAYED: &str = "replayed";
/// Attribute: the defect's status from the Qase API, e.g. `resolved` (String; enrichment).
pub const ATTR_STATUS: &str = "status";
/// Attribute: the defect's tags from the Qase API, e.g. `["login","ui"]` (String.Array;
/// enrichment): a filter policy `{"tags": ["login"]}` matches any one of them.
pub const ATTR_TAGS: &str = "tags";

/// Every attribute name the function sends.
pub const ATTRIBUTE_NAMES: [&str; 10] = [
    ATTR_EVENT_NAME,
    ATTR_ENTITY,
    ATTR_ACTION,
    ATTR_PROJECT_CODE,
    ATTR_ENTITY_ID,
    ATTR_SEVERITY,
    ATTR_TEAM_MEMBER_ID,
    ATTR_REPLAYED,
    ATTR_STATUS,
    ATTR_TAGS,
];

/// The longest string attribute value we send, and the longest element of a `String.Array`;
/// longer values are omitted, not cut.
pub const MAX_ATTRIBUTE_CHARS: usize = 256;
/// The largest magnitude a `Number` attribute is sent with: filter policies match numbers
/// "from -10^9 to 10^9" (SNS Developer Guide, "Filter policy constraints"). Larger values are
/// omitted: a policy could not match them right.
pub const MAX_NUMBER_ATTRIBUTE: u64 = 1_000_000_000;
/// The most tags sent in [`ATTR_TAGS`]; more are left out.
pub const MAX_TAGS: usize = 20;

/// The SNS data type of a message attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `String`: matched by string filter policies.
    String,
    /// `Number`: matched by numeric filter policies.
    Number,
    /// `String.Array`: a JSON array of strings; a filter policy matches any one of them.
    StringArray,
}

impl DataType {
    /// The name SNS uses for this type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::Number => "Number",
            Self::StringArray => "String.Array",
        }
    }

    /// The type SNS calls `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::String, Self::Number, Self::StringArray]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// One message attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// One of the `ATTR_*` names.
    pub name: &'static str,
    /// Its SNS data type.
    pub data_type: DataType,
    /// Its value, as SNS carries it (numbers in decimal).
    pub value: String,
}

/// The attributes subscribers filter on: the event name and its two halves always, the
/// project, ids and severity when the webhook has usable values, and what the Qase API said
/// of the defect (`details`): its severity when the payload has none, its status and tags;
/// and [`ATTR_REPLAYED`] on a replayed event. At most 10 attributes: "Messages with more than
/// 10 message attributes directed towards Raw Message Delivery enabled Amazon SQS
/// subscriptions will be discarded" (SNS Developer Guide, "Amazon SNS message attributes").
pub fn routing_attributes(webhook: &Webhook, details: Option<&DefectDetails>) -> Vec<Attribute> {
    let name = &webhook.event_name;
    let mut attributes = vec![
        Attribute::string(ATTR_EVENT_NAME, name.as_str()),
        Attribute::string(ATTR_ENTITY, name.entity()),
        Attribute::string(ATTR_ACTION, name.action()),
    ];
    let project_code = webhook.project_code.as_deref().filter(|s| is_clean(s));
    attributes.extend(project_code.map(|v| Attribute::string(ATTR_PROJECT_CODE, v)));
    let entity_id = webhook.payload.id.filter(|id| *id <= MAX_NUMBER_ATTRIBUTE);
    attributes.extend(entity_id.map(|v| Attribute::number(ATTR_ENTITY_ID, v)));
    let severity = severity(webhook, details);
    attributes.extend(severity.map(|v| Attribute::string(ATTR_SEVERITY, v)));
    let member = webhook
        .team_member_id
        .filter(|id| id.unsigned_abs() <= MAX_NUMBER_ATTRIBUTE);
    attributes.extend(member.map(|v| Attribute::number(ATTR_TEAM_MEMBER_ID, v)));
    if webhook.replayed {
        attributes.push(Attribute::string(ATTR_REPLAYED, "true"));
    }
    if let Some(details) = details {
        let status = details.status.as_deref().filter(|s| is_clean(s));
        attributes.extend(status.map(|v| Attribute::string(ATTR_STATUS, v)));
        let tags: Vec<&str> = details
            .tags
            .iter()
            .map(String::as_str)
            .filter(|t| is_clean(t))
            .take(MAX_TAGS)
            .collect();
        if !tags.is_empty() {
            attributes.push(Attribute {
                name: ATTR_TAGS,
                data_type: DataType::StringArray,
                value: serde_json::to_string(&tags).expect("a list of strings serialises"),
            });
        }
    }
    attributes
}

/// The severity every message of `webhook` shows (its attribute, the email, the chat
/// message): the payload's, or else what the Qase API said of the defect (`details`), the
/// first that can be sent as an attribute value.
pub fn severity<'a>(webhook: &'a Webhook, details: Option<&'a DefectDetails>) -> Option<&'a str> {
    [
        webhook.payload.severity.as_deref(),
        details.and_then(|d| d.severity.as_deref()),
    ]
    .into_iter()
    .flatten()
    .find(|s| is_clean(s))
}

pub(super) fn attribute<'v>(attributes: &'v [Attribute], name: &str) -> Option<&'v str> {
    attributes
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

impl Attribute {
    fn string(name: &'static str, value: &str) -> Self {
        Self {
            name,
            data_type: DataType::String,
            value: value.to_owned(),
        }
    }

    fn number(name: &'static str, value: impl std::fmt::Display) -> Self {
        Self {
            name,
            data_type: DataType::Number,
            value: value.to_string(),
        }
    }
}

/// Whether a string may be sent as an attribute value: non-empty ("Name, type, and value
/// must not be empty or null"), not too long, with only characters SQS delivers and no
/// control characters (none belong in a routing value).
pub(super) fn is_clean(value: &str) -> bool {
    !value.is_empty()
        && value.chars().count() <= MAX_ATTRIBUTE_CHARS
        && value
            .chars()
            .all(|c| is_sqs_character(c) && !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::testing::{details, event};

    #[test]
    fn defect_created_gets_every_attribute_with_its_type() {
        let body = r#"{"event_name":"defect.created","payload":{"id":42,"title":"Login button does nothing","severity":"critical"},"team_member_id":0,"project_code":"DEMO"}"#;
        let out = event(body, false, None).unwrap();
        let got: Vec<_> = out
            .attributes
            .iter()
            .map(|a| (a.name, a.data_type, a.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (ATTR_EVENT_NAME, DataType::String, "defect.created"),
                (ATTR_ENTITY, DataType::String, "defect"),
                (ATTR_ACTION, DataType::String, "created"),
                (ATTR_PROJECT_CODE, DataType::String, "DEMO"),
                (ATTR_ENTITY_ID, DataType::Number, "42"),
                (ATTR_SEVERITY, DataType::String, "critical"),
                (ATTR_TEAM_MEMBER_ID, DataType::Number, "0"),
            ]
        );
        assert_eq!(out.message, body);
        assert_eq!(out.fifo, None);
    }

    #[test]
    fn omits_absent_empty_and_unclean_values_instead_of_sending_them_empty() {
        let body = r#"{"event":"defect.resolved","payload":{"id":"x","severity":"bad\u0000value"},"project_code":""}"#;
        let out = event(body, false, None).unwrap();
        let names: Vec<_> = out.attributes.iter().map(|a| a.name).collect();
        assert_eq!(names, [ATTR_EVENT_NAME, ATTR_ENTITY, ATTR_ACTION]);
    }

    #[test]
    fn numbers_beyond_what_filter_policies_match_are_omitted() {
        let with = |id: &str, member: &str| {
            format!(
                r#"{{"event_name":"defect.deleted","payload":{{"id":{id}}},"team_member_id":{member}}}"#
            )
        };
        let body = with("1000000000", "-1000000000");
        let out = event(&body, false, None).unwrap();
        assert_eq!(out.attribute(ATTR_ENTITY_ID), Some("1000000000"));
        assert_eq!(out.attribute(ATTR_TEAM_MEMBER_ID), Some("-1000000000"));
        let body = with("1000000001", "-1000000001");
        let out = event(&body, false, None).unwrap();
        assert_eq!(out.attribute(ATTR_ENTITY_ID), None);
        assert_eq!(out.attribute(ATTR_TEAM_MEMBER_ID), None);
        assert_eq!(out.message, body, "the body keeps them");
    }

    #[test]
    fn string_values_with_characters_sqs_would_not_deliver_are_omitted() {
        let body = r#"{"event_name":"defect.created","payload":{"id":1,"severity":"hi\uffff"},"project_code":"A\u0085B"}"#;
        let out = event(body, false, None).unwrap();
        assert_eq!(out.attribute(ATTR_SEVERITY), None);
        assert_eq!(out.attribute(ATTR_PROJECT_CODE), None);
    }

    #[test]
    fn string_values_of_256_characters_are_sent_and_of_257_left_out() {
        let with = |severity: &str, code: &str| {
            format!(
                r#"{{"event_name":"defect.created","payload":{{"id":1,"severity":"{severity}"}},"project_code":"{code}"}}"#
            )
        };
        // 256 characters of two bytes each: the limit counts characters.
        let (kept, kept_code) = ("é".repeat(256), "Q".repeat(256));
        let body = with(&kept, &kept_code);
        let out = event(&body, false, None).unwrap();
        assert_eq!(out.attribute(ATTR_SEVERITY), Some(kept.as_str()));
        assert_eq!(out.attribute(ATTR_PROJECT_CODE), Some(kept_code.as_str()));
        let body = with(&"é".repeat(257), &"Q".repeat(257));
        let out = event(&body, false, None).unwrap();
        assert_eq!(out.attribute(ATTR_SEVERITY), None);
        assert_eq!(out.attribute(ATTR_PROJECT_CODE), None);
        let tags: Vec<String> = vec!["t".repeat(256), "u".repeat(257)];
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        let body = r#"{"event_name":"defect.resolved","payload":{"id":3}}"#;
        let out = event(body, false, Some(&details(&tags))).unwrap();
        let sent: Vec<String> = serde_json::from_str(out.attribute(ATTR_TAGS).unwrap()).unwrap();
        assert_eq!(
            sent,
            ["t".repeat(256)],
            "the tag of 257 characters is left out"
        );
    }

    #[test]
    fn enrichment_adds_severity_status_and_tags_as_a_string_array() {
        let body = r#"{"event_name":"defect.resolved","payload":{"id":3},"project_code":"DEMO","team_member_id":1}"#;
        let details = details(&["login", "ui \"quoted\"", "", "bad\u{FFFF}"]);
        let out = event(body, false, Some(&details)).unwrap();
        let got: Vec<_> = out
            .attributes
            .iter()
            .map(|a| (a.name, a.data_type.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("event_name", "String", "defect.resolved"),
                ("entity", "String", "defect"),
                ("action", "String", "resolved"),
                ("project_code", "String", "DEMO"),
                ("entity_id", "Number", "3"),
                ("severity", "String", "critical"),
                ("team_member_id", "Number", "1"),
                ("status", "String", "resolved"),
                ("tags", "String.Array", r#"["login","ui \"quoted\""]"#),
            ]
        );
        assert_eq!(out.message, body, "the body is not touched");
    }

    #[test]
    fn the_payloads_severity_wins_and_tags_are_capped() {
        let body = r#"{"event_name":"defect.created","payload":{"id":3,"severity":"minor"},"project_code":"DEMO"}"#;
        let many: Vec<String> = (0..30).map(|n| format!("t{n}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let out = event(body, false, Some(&details(&many))).unwrap();
        assert_eq!(out.attribute(ATTR_SEVERITY), Some("minor"));
        let tags: Vec<String> = serde_json::from_str(out.attribute(ATTR_TAGS).unwrap()).unwrap();
        assert_eq!(tags.len(), 20);
        assert_eq!(tags[19], "t19");
    }

    #[test]
    fn a_replayed_event_says_so_and_with_every_other_attribute_makes_ten() {
        let replayed = r#"{"event_name":"defect.resolved","timestamp":1,"payload":{"id":3,"title":"t","severity":"major"},"team_member_id":1,"project_code":"DEMO","replayed":true}"#;
        let out = event(replayed, false, Some(&details(&["login"]))).unwrap();
        assert_eq!(out.attribute(ATTR_REPLAYED), Some("true"));
        // The most any message carries; SNS discards a raw SQS delivery of more than 10
        // ("Amazon SNS message attributes", SNS Developer Guide).
        assert_eq!(out.attributes.len(), 10);
        for not_replayed in [
            r#"{"event_name":"defect.resolved","payload":{"id":3}}"#,
            r#"{"event_name":"defect.resolved","payload":{"id":3},"replayed":false}"#,
            r#"{"event_name":"defect.resolved","payload":{"id":3},"replayed":"true"}"#,
            r#"{"event_name":"defect.resolved","payload":{"id":3},"replayed":1}"#,
        ] {
            let out = event(not_replayed, false, None).unwrap();
            assert_eq!(out.attribute(ATTR_REPLAYED), None, "{not_replayed}");
        }
    }
}
