//! One SNS `Publish` request as it went over the wire: the Query protocol's form body decoded
//! into its parameters. Shared by the AWS-contract oracle (`oracle.rs`), the recording
//! publisher (which sends what the production adapter would) and `make bench`'s SNS stub.
#![allow(dead_code)] // each user takes what it needs

use std::collections::HashMap;

/// One `Publish` request, decoded from the form body the SDK sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publish {
    pub topic_arn: Option<String>,
    pub message: Option<String>,
    pub subject: Option<String>,
    pub message_structure: Option<String>,
    /// `(name, data type, string value)` in the order sent.
    pub attributes: Vec<(String, String, Option<String>)>,
    pub message_group_id: Option<String>,
    pub message_deduplication_id: Option<String>,
    /// The message id the oracle answered.
    pub message_id: String,
}

impl Publish {
    /// Decodes `Action=Publish&...` (`application/x-www-form-urlencoded`).
    pub fn from_form(body: &[u8], message_id: String) -> Result<Self, String> {
        let fields: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        if fields.get("Action").map(String::as_str) != Some("Publish") {
            return Err(format!("not a Publish: {:?}", fields.get("Action")));
        }
        let mut attributes = Vec::new();
        for n in 1.. {
            let key = |part: &str| format!("MessageAttributes.entry.{n}.{part}");
            let Some(name) = fields.get(&key("Name")) else {
                break;
            };
            attributes.push((
                name.clone(),
                fields
                    .get(&key("Value.DataType"))
                    .cloned()
                    .unwrap_or_default(),
                fields.get(&key("Value.StringValue")).cloned(),
            ));
        }
        Ok(Self {
            topic_arn: fields.get("TopicArn").cloned(),
            message: fields.get("Message").cloned(),
            subject: fields.get("Subject").cloned(),
            message_structure: fields.get("MessageStructure").cloned(),
            attributes,
            message_group_id: fields.get("MessageGroupId").cloned(),
            message_deduplication_id: fields.get("MessageDeduplicationId").cloned(),
            message_id,
        })
    }

    /// What the production adapter sends to SNS for `outbound` on the topic `topic_arn`: the
    /// same parameters, as the recording fake stands in for it.
    pub fn from_outbound(
        topic_arn: &str,
        outbound: &qase_defect_fanout::message::Outbound<'_>,
        message_id: &str,
    ) -> Self {
        Self {
            topic_arn: Some(topic_arn.to_owned()),
            message: Some(outbound.message.clone().into_owned()),
            subject: Some(outbound.subject.clone()),
            message_structure: None,
            attributes: outbound
                .attributes
                .iter()
                .map(|a| {
                    (
                        a.name.to_owned(),
                        a.data_type.as_str().to_owned(),
                        Some(a.value.clone()),
                    )
                })
                .collect(),
            message_group_id: outbound.fifo.as_ref().map(|f| f.message_group_id.clone()),
            message_deduplication_id: outbound
                .fifo
                .as_ref()
                .map(|f| f.message_deduplication_id.clone()),
            message_id: message_id.to_owned(),
        }
    }

    /// The string value of the attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _, _)| n == name)
            .and_then(|(_, _, v)| v.as_deref())
    }

    /// SNS names FIFO topics with exactly the lower-case suffix `.fifo`.
    #[allow(clippy::case_sensitive_file_extension_comparisons)]
    pub fn is_fifo_topic(&self) -> bool {
        self.topic_arn
            .as_deref()
            .is_some_and(|arn| arn.ends_with(".fifo"))
    }
}
