//! A mock Qase API on loopback: real HTTP (or HTTPS, with a throwaway CA), driven by the
//! function's real client (`qase_api::QaseApi`). `GET /v1/defect/{code}/{id}` answers by id,
//! so a test picks the failure it wants by the defect id it sends; every other id is a
//! defect. `GET /v1/defect/{code}?limit=..&offset=..` lists a project's defects, the project
//! picking the case ([`project_defects`]). It records each request's path, `Token` header and
//! time.

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
/// 410: gone, as Qase's error table lists it.
pub const GONE_DEFECT: u64 = 410;
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

/// A project of [`MANY_DEFECTS`] defects, listed newest first: defect `n` created `n` hours
/// after [`MANY_EPOCH`]; every 10th updated 30 minutes later; every 25th resolved (and so
/// updated) 90 minutes later.
pub const MANY: &str = "MANY";
pub const MANY_DEFECTS: u64 = 250;
pub const MANY_EPOCH: &str = "2026-11-01T00:00:00Z";
/// A project without defects.
pub const EMPTY: &str = "EMPTY";
/// [`MANY`], but its first page is answered 429 with `Retry-After: 1` once.
pub const LIMITED: &str = "LIMITED";
/// Answered 429 with `Retry-After: 0`, every time.
pub const ALWAYS_LIMITED: &str = "NOLUCK";
/// No such project: 404.
pub const GONE: &str = "GONE";
/// One defect whose `created_at` is the deprecated `2021-12-30 19:23:59` form.
pub const BAD_TIME: &str = "BADTIME";

/// One request the mock got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub token: Option<String>,
    pub at: std::time::Instant,
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
                at: std::time::Instant::now(),
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
    let asked_before = (seen.lock().unwrap().iter())
        .filter(|s| s.path == path)
        .count();
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        token: token.clone(),
        at: std::time::Instant::now(),
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
    if let Some((code, offset)) = list_request(&path) {
        let (status, headers, body) = project_defects(code, offset, asked_before);
        return http1::respond(writer, status, headers, &body);
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
        GONE_DEFECT => (
            "410 Gone",
            JSON,
            br#"{"status":false,"errorMessage":"Defect is gone"}"#.to_vec(),
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

/// `/v1/defect/{code}?limit=100&offset={offset}`: the project and the offset.
fn list_request(path: &str) -> Option<(&str, u64)> {
    let (path, query) = path.split_once('?')?;
    let code = path.strip_prefix("/v1/defect/")?;
    assert!(
        query.split('&').any(|pair| pair == "limit=100"),
        "pages of 100: {query}"
    );
    let offset = (query.split('&'))
        .find_map(|pair| pair.strip_prefix("offset="))?
        .parse()
        .ok()?;
    Some((code, offset))
}

/// The page of `code` from `offset`, by the project (see [`MANY`] and the others);
/// `asked_before`: how often this very page was asked for already.
fn project_defects(
    code: &str,
    offset: u64,
    asked_before: usize,
) -> (&'static str, &'static str, Vec<u8>) {
    let page = |total: u64, entities: Vec<serde_json::Value>| {
        let body = serde_json::json!({"status": true, "result": {
            "total": total, "filtered": total, "count": entities.len(), "entities": entities
        }});
        ("200 OK", JSON, body.to_string().into_bytes())
    };
    match code {
        EMPTY => page(0, Vec::new()),
        GONE => (
            "404 Not Found",
            JSON,
            br#"{"status":false,"errorMessage":"Project not found"}"#.to_vec(),
        ),
        ALWAYS_LIMITED => ("429 Too Many Requests", "retry-after: 0\r\n", Vec::new()),
        LIMITED if asked_before == 0 => ("429 Too Many Requests", "retry-after: 1\r\n", Vec::new()),
        BAD_TIME => {
            let mut defect = many_defect(1);
            defect["created_at"] = "2021-12-30 19:23:59".into();
            page(1, vec![defect])
        }
        _ => {
            // Newest first, 100 a page.
            let ids = (1..=MANY_DEFECTS)
                .rev()
                .skip(usize::try_from(offset).unwrap())
                .take(100);
            page(MANY_DEFECTS, ids.map(many_defect).collect())
        }
    }
}

/// Defect `id` of [`MANY`].
fn many_defect(id: u64) -> serde_json::Value {
    let epoch =
        time::OffsetDateTime::parse(MANY_EPOCH, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let created = epoch + time::Duration::hours(i64::try_from(id).unwrap());
    let resolved = id
        .is_multiple_of(25)
        .then(|| created + time::Duration::minutes(90));
    let updated = resolved.unwrap_or(if id.is_multiple_of(10) {
        created + time::Duration::minutes(30)
    } else {
        created
    });
    let text = |at: time::OffsetDateTime| {
        at.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    serde_json::json!({
        "id": id,
        "title": format!("Defect {id}"),
        "actual_result": "PRIVATE actual result",
        "severity": if id.is_multiple_of(2) { "major" } else { "minor" },
        "status": if resolved.is_some() { "resolved" } else { "open" },
        "milestone_id": null,
        "tags": [{"title": "backfill", "internal_id": 1}],
        "created_at": text(created),
        "updated_at": text(updated),
        "resolved_at": resolved.map(text),
        "created": "2026-11-01 00:00:00",
        "author_id": 40,
        "attachments": [{"size": 7, "mime": "text/plain", "filename": "log.txt", "url": "https://qase.example/log.txt"}]
    })
}
