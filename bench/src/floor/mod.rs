//! What both publishing floors (`floor-publish`, `floor-sdk`) do besides publishing: read the
//! API Gateway event and the webhook's routing fields with plain serde, build the function's
//! routing attributes, subject and notification text, the least that makes the same publishes.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Deserialize;

/// The API Gateway fields a floor needs (HTTP API payload 2.0).
#[derive(Deserialize)]
pub struct ApiEvent {
    pub body: String,
    pub headers: HashMap<String, String>,
}

/// The webhook fields the routing attributes come from.
#[derive(Deserialize)]
pub struct Webhook {
    pub event_name: String,
    pub project_code: Option<String>,
    pub team_member_id: Option<u64>,
    pub payload: Payload,
}

#[derive(Deserialize)]
pub struct Payload {
    pub id: Option<u64>,
    pub title: Option<String>,
    pub severity: Option<String>,
}

/// What every publish of one webhook carries besides its message.
pub struct Routing {
    /// `(name, data type, value)`, as the function sends them.
    pub attributes: Vec<(&'static str, &'static str, String)>,
    pub subject: String,
    /// The notification's text.
    pub text: String,
}

impl Routing {
    pub fn of(webhook: &Webhook) -> Self {
        let (entity, action) = webhook
            .event_name
            .split_once('.')
            .unwrap_or((&webhook.event_name, ""));
        let mut attributes = vec![
            ("event_name", "String", webhook.event_name.clone()),
            ("entity", "String", entity.to_owned()),
            ("action", "String", action.to_owned()),
        ];
        let code = webhook.project_code.clone().unwrap_or_default();
        if !code.is_empty() {
            attributes.push(("project_code", "String", code.clone()));
        }
        if let Some(id) = webhook.payload.id {
            attributes.push(("entity_id", "Number", id.to_string()));
        }
        if let Some(severity) = &webhook.payload.severity {
            attributes.push(("severity", "String", severity.clone()));
        }
        if let Some(member) = webhook.team_member_id {
            attributes.push(("team_member_id", "Number", member.to_string()));
        }
        let title = webhook.payload.title.as_deref().unwrap_or_default();
        let mut subject = format!("[{code}] {}", webhook.event_name);
        if let Some(id) = webhook.payload.id {
            let _ = write!(subject, " #{id}");
        }
        let _ = write!(subject, ": {title}");
        let text = format!("Qase project {code}: {}\n{subject}\n", webhook.event_name);
        Self {
            attributes,
            subject,
            text,
        }
    }
}

/// An environment variable, when set and not empty.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
