//! The CPU floor for `make bench`: the least a Rust Lambda can do for this job. One signed
//! Query-protocol `Publish` of the webhook body to `TOPIC_ARN` with the function's routing
//! attributes and subject, and a second, concurrent one of a short text to
//! `NOTIFICATION_TOPIC_ARN` when that is set; no AWS SDK, no logging, no retries.
//!
//! `lambda_runtime` on a current-thread runtime, `serde_json`, `aws-sigv4` and a keep-alive
//! hyper client (rustls with ring; the roots are the `AWS_CA_BUNDLE` file's, if any). Built
//! with the function's release profile. It must really publish: the bench's SNS stub checks
//! every request it sends.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[path = "../floor/mod.rs"]
mod floor;
use floor::{ApiEvent, Routing, Webhook, env};

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// What the floor reads from the environment once, at init.
struct Publisher {
    client: Client<Https, Full<Bytes>>,
    endpoint: String,
    host: String,
    region: String,
    identity: Identity,
    secret: String,
    topic: String,
    notification_topic: Option<String>,
}

impl Publisher {
    fn from_env() -> Self {
        let region = env("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = env("AWS_ENDPOINT_URL")
            .unwrap_or_else(|| format!("https://sns.{region}.amazonaws.com"));
        let endpoint = format!("{}/", endpoint.trim_end_matches('/'));
        let host = endpoint
            .split_once("://")
            .map_or("", |(_, rest)| rest.trim_end_matches('/'))
            .to_owned();
        let credentials = Credentials::new(
            env("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID"),
            env("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY"),
            env("AWS_SESSION_TOKEN"),
            None,
            "environment",
        );
        let mut roots = rustls::RootCertStore::empty();
        if let Some(path) = env("AWS_CA_BUNDLE") {
            use rustls::pki_types::{CertificateDer, pem::PemObject};
            let pem = std::fs::read(&path).expect("AWS_CA_BUNDLE is readable");
            for cert in CertificateDer::pem_slice_iter(&pem) {
                roots.add(cert.expect("a PEM certificate")).expect("a root");
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(
            rustls::crypto::ring::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .expect("TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            endpoint,
            host,
            region,
            identity: credentials.into(),
            secret: env("QASE_WEBHOOK_SECRET").unwrap_or_default(),
            topic: env("TOPIC_ARN").expect("TOPIC_ARN"),
            notification_topic: env("NOTIFICATION_TOPIC_ARN"),
        }
    }

    /// One signed `Publish`; the `MessageId` SNS answered.
    async fn publish(&self, form: String) -> Result<String, Error> {
        let body = Bytes::from(form);
        let content_type = "application/x-www-form-urlencoded";
        let mut request = http::Request::post(&self.endpoint)
            .header("host", &self.host)
            .header("content-type", content_type)
            .body(Full::new(body.clone()))?;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("sns")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let headers = [("host", self.host.as_str()), ("content-type", content_type)];
        let signable = SignableRequest::new(
            "POST",
            &self.endpoint,
            headers.into_iter(),
            SignableBody::Bytes(&body),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(&mut request);
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let ok = response.status().is_success();
        let xml = response.into_body().collect().await?.to_bytes();
        let xml = std::str::from_utf8(&xml)?;
        let id = xml
            .split_once("<MessageId>")
            .and_then(|(_, rest)| rest.split_once("</MessageId>"))
            .map(|(id, _)| id.to_owned());
        match id {
            Some(id) if ok => Ok(id),
            _ => Err(format!("SNS refused the publish: {xml}").into()),
        }
    }

    async fn handle(&self, event: LambdaEvent<ApiEvent>) -> Result<Value, Error> {
        let event = event.payload;
        if event.headers.get("x-qase-secret") != Some(&self.secret) {
            return Ok(json!({"statusCode": 401, "body": "{\"error\":\"unauthorized\"}"}));
        }
        let webhook: Webhook = serde_json::from_str(&event.body)?;
        let Routing {
            attributes,
            subject,
            text,
        } = Routing::of(&webhook);
        let form = |topic: &str, message: &str| {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", "Publish")
                .append_pair("Version", "2010-03-31")
                .append_pair("TopicArn", topic)
                .append_pair("Message", message)
                .append_pair("Subject", &subject);
            for (i, (name, kind, value)) in attributes.iter().enumerate() {
                let key = format!("MessageAttributes.entry.{}", i + 1);
                form.append_pair(&format!("{key}.Name"), name)
                    .append_pair(&format!("{key}.Value.DataType"), kind)
                    .append_pair(&format!("{key}.Value.StringValue"), value);
            }
            form.finish()
        };
        let events = self.publish(form(&self.topic, &event.body));
        let (message_id, notification_id) = match &self.notification_topic {
            Some(topic) => {
                let (a, b) = tokio::join!(events, self.publish(form(topic, &text)));
                (a?, Some(b?))
            }
            None => (events.await?, None),
        };
        let mut body = json!({ "message_id": message_id });
        if let Some(id) = notification_id {
            body["notification_id"] = json!(id);
        }
        Ok(json!({"statusCode": 202, "body": body.to_string()}))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let publisher = &Publisher::from_env();
    lambda_runtime::run(service_fn(move |event| publisher.handle(event))).await
}
