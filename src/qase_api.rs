//! The Qase API client: `GET {QASE_API_URL}/defect/{code}/{id}` (one defect, for enrichment)
//! and `GET {QASE_API_URL}/defect/{code}` (a page of a project's defects, for
//! `qase-backfill`) with the `Token` header; the only code that talks to Qase.
//!
//! hyper's client over rustls (ring), trusting the Mozilla roots compiled in (`webpki-roots`:
//! `api.qase.io` is not an AWS endpoint, so the Amazon roots the SDK client trusts do not
//! cover it) plus `AWS_CA_BUNDLE`'s, if any. No system trust store is read. The client is
//! built on the first lookup, not at cold start, so a function with enrichment off, or one
//! that never sees a defect event, pays nothing for it. Every failure is a [`LookupError`];
//! none carries the token. The overall budget is the caller's (`crate::enrichment`,
//! `crate::backfill`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt as _, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::http::header::{ACCEPT, RETRY_AFTER, USER_AGENT};
use hyper::http::{HeaderValue, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::CertificateDer;

use crate::auth::ApiToken;
use crate::qase::{DefectDetails, DefectPage};

/// The header the Qase API takes the token in (the `TokenAuth` scheme of its `OpenAPI` spec).
pub const TOKEN_HEADER: &str = "Token";
/// Connect timeout of one lookup.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// The largest answer about one defect read; a defect is a few kilobytes.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The largest page of defects read: [`PAGE_LIMIT`] of them.
pub const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;
/// Defects asked for per page: the most the API gives (`limit`, "maximum: 100" in
/// qase-tms/specs `parameters/pagination/Limit.yaml`).
pub const PAGE_LIMIT: u64 = 100;
/// The largest `offset` the list endpoint takes (qase-tms/specs, `api.yaml`,
/// `components.parameters.Offset`: maximum 100000): past it, a page is refused with a 400.
pub const MAX_OFFSET: u64 = 100_000;
/// How long a connection to Qase is kept for the next lookup. Short, under any server's
/// keep-alive (nginx closes after 75 s): a connection Qase closed while the function was frozen
/// is never reused, since an idle one older than this is dropped when the next lookup starts.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// `User-Agent` of every lookup.
pub const USER_AGENT_VALUE: &str = concat!("qase-defect-fanout/", env!("CARGO_PKG_VERSION"));

/// Why the Qase API said nothing useful about a defect. Each variant maps to a stable code.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// 404: the defect was deleted (or never existed in that project).
    #[error("the Qase API has no such defect (404 or 410)")]
    NotFound,
    /// 401 or 403: the token is wrong, or its user may not read the project.
    #[error("the Qase API refused the token ({0})")]
    Unauthorized(StatusCode),
    /// 429: over the rate limit; `Retry-After` says for how long, when it is there.
    #[error("the Qase API rate-limited the lookup (429)")]
    RateLimited {
        /// `Retry-After`, in seconds.
        retry_after: Option<Duration>,
    },
    /// 5xx, or any other status the API does not document for this call.
    #[error("the Qase API answered {0}")]
    Status(StatusCode),
    /// 200, but not a defect answer (or page) with anything usable, or larger than
    /// [`MAX_ANSWER_BYTES`] ([`MAX_PAGE_BYTES`]).
    #[error("the Qase API's answer is not a defect")]
    Malformed,
    /// No answer: connection refused or reset, DNS, TLS.
    #[error("the Qase API could not be reached")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// No answer within the budget.
    #[error("the Qase API did not answer within {0:?}")]
    TimedOut(Duration),
    /// Not asked: recent lookups failed, and lookups pause for a while.
    #[error("lookups are paused after repeated failures")]
    Paused,
}

impl LookupError {
    /// The stable, machine-readable code in the log line.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "qase_not_found",
            Self::Unauthorized(_) => "qase_unauthorized",
            Self::RateLimited { .. } => "qase_rate_limited",
            Self::Status(_) => "qase_error",
            Self::Malformed => "qase_malformed",
            Self::Unreachable(_) => "qase_unreachable",
            Self::TimedOut(_) => "qase_timeout",
            Self::Paused => "qase_paused",
        }
    }
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The Qase API at one base URL, with one token (a sensitive header value: its `Debug` is
/// `Sensitive`).
#[derive(Debug)]
pub struct QaseApi {
    base_url: String,
    token: HeaderValue,
    extra_roots: Vec<CertificateDer<'static>>,
    client: OnceLock<HttpsClient>,
}

impl QaseApi {
    /// The API at `base_url` (checked by `crate::config`: `https://`, or `http://` to a
    /// loopback address; no trailing `/`), calling with `token`, trusting `extra_roots` (the
    /// `AWS_CA_BUNDLE` file's, already checked) besides the Mozilla roots.
    pub fn new(
        base_url: &str,
        token: &ApiToken,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Self {
        let mut token =
            HeaderValue::from_str(token.expose()).expect("ApiToken::new admits header values only");
        token.set_sensitive(true);
        Self {
            base_url: base_url.to_owned(),
            token,
            extra_roots,
            client: OnceLock::new(),
        }
    }

    /// What the API says of defect `id` of project `code` (letters and digits only).
    pub async fn defect(&self, code: &str, id: u64) -> Result<DefectDetails, LookupError> {
        debug_assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
        let body = self
            .get(&format!("/defect/{code}/{id}"), MAX_ANSWER_BYTES)
            .await?;
        DefectDetails::from_answer(&body).map_err(|_| LookupError::Malformed)
    }

    /// The page of project `code`'s defects that starts after `offset` of them, [`PAGE_LIMIT`]
    /// long (`code`: letters and digits only).
    pub async fn defects(&self, code: &str, offset: u64) -> Result<DefectPage, LookupError> {
        debug_assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
        let path = format!("/defect/{code}?limit={PAGE_LIMIT}&offset={offset}");
        let body = self.get(&path, MAX_PAGE_BYTES).await?;
        DefectPage::from_answer(&body).map_err(|_| LookupError::Malformed)
    }

    /// `GET {base_url}{path}`: the body of a 200 of at most `max_bytes`, or why not.
    async fn get(&self, path: &str, max_bytes: usize) -> Result<Bytes, LookupError> {
        let request = Request::get(format!("{}{path}", self.base_url))
            .header(TOKEN_HEADER, self.token.clone())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(Empty::new())
            .map_err(|e| LookupError::Unreachable(e.into()))?;
        let response = self
            .client()
            .request(request)
            .await
            .map_err(|e| LookupError::Unreachable(e.into()))?;
        match response.status() {
            StatusCode::OK => {}
            // Qase's error table has both: the defect (or project) is not there.
            StatusCode::NOT_FOUND | StatusCode::GONE => return Err(LookupError::NotFound),
            status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                return Err(LookupError::Unauthorized(status));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let retry_after = response.headers().get(RETRY_AFTER).and_then(retry_after);
                return Err(LookupError::RateLimited { retry_after });
            }
            status => return Err(LookupError::Status(status)),
        }
        Ok(Limited::new(response.into_body(), max_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<LengthLimitError>() {
                    LookupError::Malformed
                } else {
                    LookupError::Unreachable(e)
                }
            })?
            .to_bytes())
    }

    /// The HTTPS client, built on first use.
    fn client(&self) -> &HttpsClient {
        self.client.get_or_init(|| {
            let mut roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            roots.add_parsable_certificates(self.extra_roots.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports rustls's default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            let mut http = HttpConnector::new();
            http.set_connect_timeout(Some(CONNECT_TIMEOUT));
            http.enforce_http(false);
            // http:// only reaches here for a loopback stand-in (crate::config checks it).
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(IDLE_TIMEOUT)
                .pool_timer(TokioTimer::new())
                .build(https)
        })
    }
}

/// `Retry-After` in delta-seconds, as Qase sends it; an HTTP date is not used (`None`: the
/// caller's default).
fn retry_after(value: &HeaderValue) -> Option<Duration> {
    let seconds = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_retry_after_in_seconds_and_nothing_else() {
        let read = |text: &str| retry_after(&HeaderValue::from_str(text).unwrap());
        assert_eq!(read("7"), Some(Duration::from_secs(7)));
        assert_eq!(read(" 60 "), Some(Duration::from_mins(1)));
        assert_eq!(read("0"), Some(Duration::ZERO));
        for other in ["Wed, 21 Oct 2015 07:28:00 GMT", "-1", "1.5", ""] {
            assert_eq!(read(other), None, "{other:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let api = QaseApi::new(
            "https://api.qase.io/v1",
            &ApiToken::new("tok-3n").unwrap(),
            Vec::new(),
        );
        let shown = format!("{api:?}");
        assert!(
            shown.contains("api.qase.io") && !shown.contains("tok-3n"),
            "{shown}"
        );
    }
}
