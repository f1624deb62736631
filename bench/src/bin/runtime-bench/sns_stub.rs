//! The SNS stub the subjects publish to: answers every `Publish` at once, and checks and
//! counts it first, so a floor that does not really publish cannot pass for one. Plain HTTP,
//! or TLS with a throwaway CA (the TLS pass), the certificate naming `127.0.0.1`.

use std::io::{BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::publish::Publish;
use crate::{http1, throwaway_ca};

/// The attributes every `Publish` of the bench's `defect.created` event must carry.
const ROUTING_ATTRIBUTES: &[&str] = &[
    "event_name",
    "entity",
    "action",
    "project_code",
    "entity_id",
    "severity",
    "team_member_id",
];

/// What every `Publish` must be.
pub struct Expected {
    /// The events topic's ARN: its message is the webhook body, byte for byte.
    pub topic: &'static str,
    /// The notifications topic's ARN: any non-empty message.
    pub notification_topic: &'static str,
    /// The chat topic's ARN: a custom notification (`"source":"custom"`).
    pub chat_topic: &'static str,
    /// The webhook body the events topic must carry.
    pub body: String,
}

/// Publishes counted per topic, and the first wrong request seen.
#[derive(Default)]
pub struct Counts {
    pub events: AtomicU64,
    pub notifications: AtomicU64,
    pub chat: AtomicU64,
    pub wrong: Mutex<Option<String>>,
}

impl Counts {
    /// (events, notifications, chat) published so far; panics if any request was wrong.
    pub fn take(&self) -> (u64, u64, u64) {
        if let Some(wrong) = self.wrong.lock().unwrap().take() {
            panic!("the SNS stub got a wrong request: {wrong}");
        }
        (
            self.events.swap(0, Ordering::Relaxed),
            self.notifications.swap(0, Ordering::Relaxed),
            self.chat.swap(0, Ordering::Relaxed),
        )
    }
}

/// A running stub: its endpoint URL, the CA file to trust (TLS only) and its counts.
pub struct Stub {
    pub url: String,
    pub ca_file: Option<std::path::PathBuf>,
    pub counts: Arc<Counts>,
}

impl Stub {
    /// A stub on plain HTTP.
    pub fn start(expected: Arc<Expected>) -> Self {
        let counts = Arc::new(Counts::default());
        let counted = counts.clone();
        let address = http1::listen(move |stream| {
            let _ = stream.set_nodelay(true);
            serve(&mut BufReader::new(stream), &expected, &counted);
        });
        Self {
            url: format!("http://{address}"),
            ca_file: None,
            counts,
        }
    }

    /// A stub behind TLS: a throwaway CA issues its certificate for the IP address
    /// `127.0.0.1`; its PEM is written to `ca_file`, which the subjects get as `AWS_CA_BUNDLE`.
    pub fn start_tls(expected: Arc<Expected>, ca_file: &std::path::Path) -> Self {
        let (config, ca_pem) = throwaway_ca::server("127.0.0.1");
        std::fs::write(ca_file, ca_pem).unwrap();
        let counts = Arc::new(Counts::default());
        let counted = counts.clone();
        let address = http1::listen(move |stream| {
            let _ = stream.set_nodelay(true);
            let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let tls = rustls::StreamOwned::new(connection, stream);
            serve(&mut BufReader::new(tls), &expected, &counted);
        });
        Self {
            url: format!("https://{address}"),
            ca_file: Some(ca_file.to_owned()),
            counts,
        }
    }
}

/// Serves one connection, keep-alive: checks, counts, answers.
fn serve<S: Read + Write>(reader: &mut BufReader<S>, expected: &Expected, counts: &Counts) {
    let mut n = 0u64;
    while let Some(request) = http1::read_request(reader) {
        n += 1;
        let answer = match check(&request, expected) {
            Ok(topic) => {
                let counter = match topic {
                    Topic::Events => &counts.events,
                    Topic::Notifications => &counts.notifications,
                    Topic::Chat => &counts.chat,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                let body = format!(
                    "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                     <PublishResult><MessageId>00000000-0000-0000-0000-{n:012}</MessageId>\
                     </PublishResult><ResponseMetadata><RequestId>r-{n}</RequestId>\
                     </ResponseMetadata></PublishResponse>"
                );
                ("200 OK", body)
            }
            Err(wrong) => {
                counts.wrong.lock().unwrap().get_or_insert(wrong.clone());
                let body = format!(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code>\
                     <Message>{wrong}</Message></Error></ErrorResponse>"
                );
                ("400 Bad Request", body)
            }
        };
        let xml = "content-type: text/xml\r\n";
        if !http1::respond(reader.get_mut(), answer.0, xml, answer.1.as_bytes()) {
            return;
        }
        let _ = reader.get_mut().flush();
    }
}

/// Which topic a checked `Publish` went to.
enum Topic {
    Events,
    Notifications,
    Chat,
}

/// Whether `request` is a signed `Publish` to one of the three topics with the right message,
/// and to which.
fn check(request: &http1::Request, expected: &Expected) -> Result<Topic, String> {
    let signed = request
        .header("authorization")
        .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 Credential="));
    if !signed {
        return Err("not signed with SigV4".to_owned());
    }
    let publish = Publish::from_form(&request.body, String::new())?;
    // The routing attributes the function sends for the bench's event, and a subject: the
    // floor must send as much as the function does.
    let names: Vec<&str> = publish.attributes.iter().map(|(n, _, _)| n.as_str()).collect();
    for name in ROUTING_ATTRIBUTES {
        if !names.contains(name) {
            return Err(format!("no {name} attribute (sent: {names:?})"));
        }
    }
    if publish.subject.as_deref().is_none_or(str::is_empty) {
        return Err("no Subject".to_owned());
    }
    let message = publish.message.as_deref().unwrap_or_default();
    match publish.topic_arn.as_deref() {
        Some(topic) if topic == expected.topic => {
            if message == expected.body {
                Ok(Topic::Events)
            } else {
                Err("the events topic's message is not the webhook body".to_owned())
            }
        }
        Some(topic) if topic == expected.notification_topic && !message.is_empty() => {
            Ok(Topic::Notifications)
        }
        Some(topic) if topic == expected.chat_topic && message.contains(r#""source":"custom""#) => {
            Ok(Topic::Chat)
        }
        other => Err(format!("TopicArn {other:?} with message {message:?}")),
    }
}
