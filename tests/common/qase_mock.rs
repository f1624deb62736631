//! A mock Qase API on loopback: real HTTP, driven by the function's real client
//! (`qase_api::QaseApi`). `GET /v1/defect/{code}/{id}` answers by id, so a test picks the
//! failure it wants by the defect id it sends; every other id is a defect. It records each
//! request's path and `Token` header.

use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qase_defect_fanout::auth::ApiToken;
use qase_defect_fanout::enrichment::Enricher;
use qase_defect_fanout::qase_api::QaseApi;

use super::http1;

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

/// One request the mock got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub token: Option<String>,
}

pub struct QaseMock {
    /// The base URL to configure (`QASE_API_URL`).
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl QaseMock {
    /// Listens on a free loopback port; its threads end with the process.
    pub fn start() -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let recorded = seen.clone();
        let address = http1::listen(move |stream| serve(stream, &recorded));
        Self {
            url: format!("http://{address}/v1"),
            seen,
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The function's client aimed at the mock, with `token`.
    pub fn api(&self, token: &str) -> QaseApi {
        QaseApi::new(&self.url, &ApiToken::new(token).unwrap(), None).unwrap()
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

fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>) {
    let (mut reader, mut writer) = http1::split(stream);
    while let Some(request) = http1::read_request(&mut reader) {
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
        if id == SILENT && token.as_deref() == Some(TOKEN) {
            // Hold the connection until the client gives up on it.
            while http1::read_request(&mut reader).is_some() {}
            return;
        }
        let (status, headers, body) = if token.as_deref() == Some(TOKEN) {
            answer(id)
        } else {
            let refused = br#"{"status":false,"errorMessage":"API token is invalid"}"#;
            ("401 Unauthorized", JSON, refused.to_vec())
        };
        if !http1::respond(&mut writer, status, headers, &body) {
            return;
        }
    }
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
