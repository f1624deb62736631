//! A mock Qase API on loopback: real HTTP (or HTTPS, with a throwaway CA), driven by the
//! function's real client (`qase_api::QaseApi`). `GET /v1/defect/{code}/{id}` answers by id,
//! so a test picks the failure it wants by the defect id it sends; every other id is a
//! defect. It records each request's path and `Token` header.

use std::io::{BufRead, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qase_defect_fanout::auth::ApiToken;
use qase_defect_fanout::enrichment::Enricher;
use qase_defect_fanout::qase_api::QaseApi;

use super::{http1, throwaway_ca};

/// The token the mock accepts; any other gets 401.
pub const TOKEN: &str = "qase-api-token-TOKEN-5150";
/// 404: the defect was deleted.
pub const NOT_FOUND: u64 = 404;
/// 429 with `Retry-After: 7`.
pub const RATE_LIMITED: u64 = 429;
/// 500.
pub const SERVER_ERROR: u64 = 500;
/// Answers after 3 s, past the 1.5 s budget.
pub const SLOW: u64 = 3000;
/// Reads the request and never answers.
pub const SILENT: u64 = 9999;
/// 200 with an HTML page.
pub const GARBAGE: u64 = 7000;
/// 200 with a `result` whose fields have the wrong types.
pub const WRONG_TYPES: u64 = 7001;
/// A defect whose tags stretch the attribute rules: quotes, non-Latin, emoji, a U+FFFF, many.
pub const ODD_TAGS: u64 = 7002;
/// 200 with 2 MiB of defect, over the client's 1 MiB limit.
pub const HUGE: u64 = 7003;
/// 200 with the headers at once and the body a byte every 100 ms: past the budget.
pub const TRICKLE: u64 = 7004;
/// 429 with `Retry-After: 0`: try again at once.
pub const RATE_LIMITED_BRIEFLY: u64 = 4290;
/// A defect with some fields of the wrong type: `status` is usable, the rest is not.
pub const PARTLY_WRONG: u64 = 7005;

/// One request the mock got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub token: Option<String>,
}

pub struct QaseMock {
    /// The base URL to configure (`QASE_API_URL`).
    pub url: String,
    /// For an HTTPS mock: the PEM of the CA that issued its certificate (for `localhost`).
    pub ca_pem: Option<Vec<u8>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl QaseMock {
    /// Listens on a free loopback port; its threads end with the process.
    pub fn start() -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let recorded = seen.clone();
        let address = http1::listen(move |stream| {
            let (mut reader, mut writer) = http1::split(stream);
            serve(&mut reader, &mut writer, &recorded);
        });
        Self {
            url: format!("http://{address}/v1"),
            ca_pem: None,
            seen,
        }
    }

    /// The same mock behind TLS: a throwaway CA issues its certificate for `localhost`; the
    /// client trusts it only when given [`Self::ca_pem`] (as it takes `AWS_CA_BUNDLE`).
    pub fn start_tls() -> Self {
        let (config, ca_pem) = throwaway_ca::server("localhost");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let recorded = seen.clone();
        let address = http1::listen(move |stream| {
            let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut tls = std::io::BufReader::new(rustls::StreamOwned::new(connection, stream));
            serve_tls(&mut tls, &recorded);
        });
        Self {
            url: format!("https://localhost:{}/v1", address.port()),
            ca_pem: Some(ca_pem.into_bytes()),
            seen,
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The function's client aimed at the mock, with `token`.
    pub fn api(&self, token: &str) -> QaseApi {
        use rustls::pki_types::pem::PemObject as _;
        let roots = (self.ca_pem.iter())
            .flat_map(|pem| rustls::pki_types::CertificateDer::pem_slice_iter(pem))
            .collect::<Result<_, _>>()
            .expect("the throwaway CA is PEM");
        QaseApi::new(&self.url, &ApiToken::new(token).unwrap(), roots)
    }

    /// A fresh enricher (its own circuit breaker) with the right token.
    pub fn enricher(&self) -> Enricher {
        Enricher::new(self.api(TOKEN))
    }
}

/// The answer for a defect that exists.
pub fn defect_json(id: u64) -> String {
    let tags = if id == ODD_TAGS {
        let mut tags: Vec<serde_json::Value> = vec![
            serde_json::json!({"title": "say \"hi\"", "internal_id": 1}),
            serde_json::json!({"title": "вход", "internal_id": 2}),
            serde_json::json!({"title": "😀", "internal_id": 3}),
            serde_json::json!({"title": "bad\u{FFFF}", "internal_id": 4}),
            serde_json::json!({"title": "", "internal_id": 5}),
        ];
        tags.extend(
            (0..30).map(|n| serde_json::json!({"title": format!("t{n}"), "internal_id": n})),
        );
        serde_json::Value::from(tags)
    } else {
        serde_json::json!([{"title": "login", "internal_id": 1}, {"title": "ui", "internal_id": 2}])
    };
    serde_json::json!({
        "status": true,
        "result": {
            "id": id,
            "title": format!("Defect {id} from the Qase API"),
            "actual_result": "PRIVATE actual result",
            "severity": "critical",
            "status": "resolved",
            "milestone_id": null,
            "tags": tags,
            "resolved_at": "2026-11-22T10:00:00+00:00",
            "created_at": "2026-11-20T10:00:00+00:00"
        }
    })
    .to_string()
}

/// Serves one TLS connection: the same answers as [`serve`], over the one stream.
fn serve_tls(
    tls: &mut std::io::BufReader<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>,
    seen: &Mutex<Vec<Seen>>,
) {
    while let Some(request) = http1::read_request(tls) {
        if !answer_request(&request, tls.get_mut(), seen) {
            return;
        }
    }
}

fn serve(reader: &mut impl BufRead, writer: &mut impl Write, seen: &Mutex<Vec<Seen>>) {
    while let Some(request) = http1::read_request(reader) {
        if request.path().ends_with(&format!("/{SILENT}")) {
            seen.lock().unwrap().push(Seen {
                path: request.path().to_owned(),
                token: request.header("token").map(str::to_owned),
            });
            // Hold the connection until the client gives up on it.
            while http1::read_request(reader).is_some() {}
            return;
        }
        if !answer_request(&request, writer, seen) {
            return;
        }
    }
}

/// Records and answers one request; answers whether the client is still there.
fn answer_request(
    request: &http1::Request,
    writer: &mut impl Write,
    seen: &Mutex<Vec<Seen>>,
) -> bool {
    let path = request.path().to_owned();
    let token = request.header("token").map(str::to_owned);
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        token: token.clone(),
    });
    let id: u64 = path
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or(0);
    if token.as_deref() != Some(TOKEN) {
        let refused = br#"{"status":false,"errorMessage":"API token is invalid"}"#;
        return http1::respond(writer, "401 Unauthorized", JSON, refused);
    }
    if id == TRICKLE {
        let body = defect_json(id);
        let head = format!(
            "HTTP/1.1 200 OK\r\n{JSON}content-length: {}\r\n\r\n",
            body.len()
        );
        if writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.flush())
            .is_err()
        {
            return false;
        }
        for byte in body.as_bytes() {
            std::thread::sleep(Duration::from_millis(100));
            if writer
                .write_all(&[*byte])
                .and_then(|()| writer.flush())
                .is_err()
            {
                return false;
            }
        }
        return true;
    }
    let (status, headers, body) = answer(id);
    http1::respond(writer, status, headers, &body)
}

const JSON: &str = "content-type: application/json\r\n";

/// The answer to an authorised `GET /defect/{code}/{id}`: status, header lines, body.
fn answer(id: u64) -> (&'static str, &'static str, Vec<u8>) {
    match id {
        NOT_FOUND => (
            "404 Not Found",
            JSON,
            br#"{"status":false,"errorMessage":"Defect not found"}"#.to_vec(),
        ),
        RATE_LIMITED => ("429 Too Many Requests", "retry-after: 7\r\n", Vec::new()),
        RATE_LIMITED_BRIEFLY => ("429 Too Many Requests", "retry-after: 0\r\n", Vec::new()),
        HUGE => {
            let mut body = defect_json(id).into_bytes();
            body.truncate(body.len() - 1);
            body.extend_from_slice(br#","padding":""#);
            body.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
            body.extend_from_slice(br#""}"#);
            ("200 OK", JSON, body)
        }
        PARTLY_WRONG => (
            "200 OK",
            JSON,
            br#"{"status":true,"result":{"id":"x","title":5,"severity":{"id":1},"status":"resolved","tags":{"title":"x"}}}"#.to_vec(),
        ),
        SERVER_ERROR => ("500 Internal Server Error", "", b"oops".to_vec()),
        GARBAGE => (
            "200 OK",
            "content-type: text/html\r\n",
            b"<html>maintenance</html>".to_vec(),
        ),
        WRONG_TYPES => (
            "200 OK",
            JSON,
            br#"{"status":true,"result":{"id":"x","title":5,"severity":{"id":1},"status":[],"tags":{"title":"x"}}}"#.to_vec(),
        ),
        _ => {
            if id == SLOW {
                std::thread::sleep(Duration::from_secs(3));
            }
            ("200 OK", JSON, defect_json(id).into_bytes())
        }
    }
}
