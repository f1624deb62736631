//! The local AWS emulator: moto's server mode on a free loopback port, started per test and
//! stopped when the guard drops. A missing emulator is a test failure, never a skip.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::aws::{EndpointUrls, sdk_config, tls::https_client};
use qase_defect_fanout::config::{ENV_ENDPOINT_URL_PREFIX, TopicArn};

/// The production SDK configuration with dummy credentials, every AWS call sent to `endpoint`
/// (the emulator, or a fault proxy in front of it) through `AWS_ENDPOINT_URL`.
pub fn sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    let credentials =
        aws_sdk_sns::config::Credentials::new("testing", "testing", None, None, "moto");
    sdk_config(
        https_client(None),
        credentials,
        EndpointUrls(BTreeMap::from([(
            ENV_ENDPOINT_URL_PREFIX.to_owned(),
            endpoint.to_owned(),
        )])),
    )
}

/// Where `make tools` installs moto; `MOTO_SERVER` overrides it.
fn moto_server_path() -> PathBuf {
    std::env::var_os("MOTO_SERVER").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/.venv/bin/moto_server"
            ))
        },
        PathBuf::from,
    )
}

/// A running moto server; killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let path = moto_server_path();
        assert!(
            path.exists(),
            "the SNS/SQS emulator is missing: {} does not exist. Run `make test` (it installs \
             moto into .venv), or set MOTO_SERVER to a moto_server executable.",
            path.display()
        );
        let port = free_port();
        let child = Command::new(&path)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        moto.wait_until_listening(port);
        moto
    }

    fn wait_until_listening(&mut self, port: u16) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("can poll moto_server") {
                panic!("moto_server exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {addr} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The production SDK configuration ([`sdk_config`]) aimed at this emulator, with dummy
    /// credentials.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        let config = aws_sdk_sns::config::Builder::from(&self.sdk_config())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        aws_sdk_sns::Client::from_conf(config)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::config::Builder::from(&self.sdk_config())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    /// The production publisher, built by the production code path, aimed at this emulator.
    pub fn publisher(&self, topic_arn: &str) -> SnsPublisher {
        let topic = TopicArn::parse(topic_arn).expect("emulator topic ARNs are valid");
        SnsPublisher::from_config(&self.sdk_config(), &topic)
    }

    pub fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        let config = aws_sdk_secretsmanager::config::Builder::from(&self.sdk_config())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    /// A Secrets Manager secret called `name` whose string is `value`; answers its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        let created = self
            .secrets_manager()
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("the emulator creates the secret");
        created
            .arn()
            .expect("a created secret has an ARN")
            .to_owned()
    }

    pub async fn create_topic(&self, name: &str, fifo: bool) -> String {
        let mut request = self.sns().create_topic().name(name);
        if fifo {
            request = request
                .attributes("FifoTopic", "true")
                .attributes("ContentBasedDeduplication", "false");
        }
        request
            .send()
            .await
            .expect("create_topic")
            .topic_arn
            .unwrap()
    }

    /// Creates a queue and subscribes it to `topic_arn` with raw message delivery and, when
    /// given, a filter policy on message attributes. Returns the queue URL.
    pub async fn subscribe_queue(
        &self,
        topic_arn: &str,
        name: &str,
        filter_policy: Option<&str>,
    ) -> String {
        self.subscribe(topic_arn, name, filter_policy, true).await
    }

    /// As [`Self::subscribe_queue`], without raw delivery: each message is SNS's JSON
    /// envelope (`Message`, `Subject`, `MessageId`, `MessageAttributes`), what an email or
    /// HTTP subscriber is given to read.
    pub async fn subscribe_envelope_queue(
        &self,
        topic_arn: &str,
        name: &str,
        filter_policy: Option<&str>,
    ) -> String {
        self.subscribe(topic_arn, name, filter_policy, false).await
    }

    async fn subscribe(
        &self,
        topic_arn: &str,
        name: &str,
        filter_policy: Option<&str>,
        raw: bool,
    ) -> String {
        let sqs = self.sqs();
        let mut create = sqs.create_queue().queue_name(name);
        if std::path::Path::new(name).extension() == Some("fifo".as_ref()) {
            create = create.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let url = create
            .send()
            .await
            .expect("create_queue")
            .queue_url
            .unwrap();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("get_queue_attributes");
        let queue_arn = attributes.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
        let mut subscribe = self
            .sns()
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", raw.to_string());
        if let Some(policy) = filter_policy {
            subscribe = subscribe.attributes("FilterPolicy", policy);
        }
        subscribe.send().await.expect("subscribe");
        url
    }

    /// Subscribes the HTTP endpoint `url` to the topic with `filter_policy`. moto delivers to
    /// it within each publish call, SNS's JSON envelope as the body without the message
    /// attributes, and asks for no confirmation.
    pub async fn subscribe_http(&self, topic_arn: &str, url: &str, filter_policy: &str) {
        self.sns()
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("http")
            .endpoint(url)
            .attributes("FilterPolicy", filter_policy)
            .send()
            .await
            .expect("subscribe");
    }

    /// Everything in the queue now, in receive order, deleting as it reads (moto slows down
    /// with every message left in a queue, hidden or not).
    pub async fn drain(&self, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let sqs = self.sqs();
        let mut all = Vec::new();
        loop {
            let batch = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive_message")
                .messages
                .unwrap_or_default();
            if batch.is_empty() {
                return all;
            }
            let mut delete = sqs.delete_message_batch().queue_url(queue_url);
            for (i, message) in batch.iter().enumerate() {
                let entry = aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(message.receipt_handle().unwrap())
                    .build()
                    .unwrap();
                delete = delete.entries(entry);
            }
            delete.send().await.expect("delete_message_batch");
            all.extend(batch);
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("can bind an ephemeral loopback port")
        .port()
}
