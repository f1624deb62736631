//! Thin defect events made useful: `defect.resolved`, `.deleted` and `.updated` carry only an
//! id, so the function asks the Qase API for the defect's title, severity, status and tags,
//! once, at the source, for every subscriber.
//!
//! What this module decides: which events are looked up, the budget a lookup may take, and
//! when to stop asking (a small circuit breaker, [`Breaker`]). It never fails an event: any
//! failure means the event is published without what the lookup would have added. The HTTP
//! is `crate::qase_api`'s.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::qase::{DefectDetails, Webhook};
use crate::qase_api::{LookupError, QaseApi};

/// The most a lookup may take, connecting included: with the SNS budget (7 s) and parking's
/// (3 s) it stays under the function's 12 s timeout and far under Qase's 15 s.
pub const BUDGET: Duration = Duration::from_millis(1500);
/// Failures in a row after which lookups pause.
pub const FAILURES_BEFORE_PAUSE: u32 = 3;
/// How long lookups pause after [`FAILURES_BEFORE_PAUSE`] failures in a row.
pub const PAUSE: Duration = Duration::from_secs(30);
/// The pause after a 429: its `Retry-After`, at most this long, or this long without one.
/// Qase documents a 60 s lockout once the limit is exceeded.
pub const RATE_LIMIT_PAUSE: Duration = Duration::from_mins(1);

/// What a lookup brought: the details, or why there are none; and what that means.
#[derive(Debug)]
pub struct Enrichment(Result<DefectDetails, LookupError>);

impl From<Result<DefectDetails, LookupError>> for Enrichment {
    fn from(lookup: Result<DefectDetails, LookupError>) -> Self {
        Self(lookup)
    }
}

impl Enrichment {
    /// What the Qase API said of the defect, when the lookup added something.
    pub fn details(&self) -> Option<&DefectDetails> {
        self.0.as_ref().ok()
    }

    /// Why the lookup added nothing, when it did not.
    pub fn error(&self) -> Option<&LookupError> {
        self.0.as_ref().err()
    }

    /// `added`, or why the lookup added nothing: the log's `enrichment=` and the metrics'
    /// `Enrichment` property.
    pub fn code(&self) -> &'static str {
        self.error().map_or("added", LookupError::code)
    }

    /// Whether the lookup failed: it added nothing, and not because the defect is gone (a
    /// 404 is an answer).
    pub fn is_failure(&self) -> bool {
        self.error()
            .is_some_and(|e| !matches!(e, LookupError::NotFound))
    }
}

/// The circuit breaker: after [`FAILURES_BEFORE_PAUSE`] failures in a row, or a 429, no
/// lookup for a while, so that an outage at Qase costs nothing per event. The first lookup
/// after the pause is a trial: success closes it, failure pauses again. A 404 is an answer
/// (the defect was deleted), not a failure. Pure: the caller passes the clock.
#[derive(Debug, Default)]
pub struct Breaker {
    failures_in_a_row: u32,
    paused_until: Option<Instant>,
}

impl Breaker {
    /// Whether a lookup may be made at `now`.
    pub fn allows(&self, now: Instant) -> bool {
        self.paused_until.is_none_or(|until| now >= until)
    }

    /// Takes the outcome of a lookup made at `now`.
    pub fn record(&mut self, outcome: &Enrichment, now: Instant) {
        match outcome.error() {
            Some(LookupError::Paused) => {}
            _ if !outcome.is_failure() => *self = Self::default(),
            Some(LookupError::RateLimited { retry_after }) => {
                let pause =
                    retry_after.map_or(RATE_LIMIT_PAUSE, |after| after.min(RATE_LIMIT_PAUSE));
                self.failures_in_a_row += 1;
                self.paused_until = Some(now + pause);
            }
            _ => {
                self.failures_in_a_row += 1;
                if self.failures_in_a_row >= FAILURES_BEFORE_PAUSE {
                    self.paused_until = Some(now + PAUSE);
                }
            }
        }
    }
}

/// Looks defects up in the Qase API, within [`BUDGET`], minding the [`Breaker`].
#[derive(Debug)]
pub struct Enricher {
    api: QaseApi,
    breaker: Mutex<Breaker>,
}

impl Enricher {
    /// Looks defects up with `api`.
    pub fn new(api: QaseApi) -> Self {
        Self {
            api,
            breaker: Mutex::default(),
        }
    }

    /// What the Qase API says of the defect `webhook` is about; `None` when it is not a
    /// defect event with a project code and an id (nothing is asked then).
    pub async fn enrich(&self, webhook: &Webhook) -> Option<Enrichment> {
        let (code, id) = lookup_key(webhook)?;
        if !self.breaker().allows(Instant::now()) {
            return Some(Err(LookupError::Paused).into());
        }
        let outcome = tokio::time::timeout(BUDGET, self.api.defect(code, id))
            .await
            .unwrap_or(Err(LookupError::TimedOut(BUDGET)))
            .into();
        self.breaker().record(&outcome, Instant::now());
        Some(outcome)
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // A panic elsewhere cannot leave a Breaker half-updated: every write is one assignment.
        self.breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The project code and id to look a defect event up by: a code that names a project
/// ([`Webhook::project_key`]; no other value would be safe in the URL path) and an id.
fn lookup_key(webhook: &Webhook) -> Option<(&str, u64)> {
    webhook.defect?;
    Some((webhook.project_key()?, webhook.payload.id?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> Enrichment {
        Err(LookupError::Status(hyper::http::StatusCode::BAD_GATEWAY)).into()
    }

    #[test]
    fn pauses_after_failures_in_a_row_and_tries_once_when_the_pause_is_over() {
        let start = Instant::now();
        let mut breaker = Breaker::default();
        for n in 1..=3 {
            assert!(breaker.allows(start), "before failure {n}");
            breaker.record(&failure(), start);
        }
        assert!(!breaker.allows(start), "paused after 3 failures");
        assert!(!breaker.allows(start + Duration::from_secs(29)));
        let trial = start + Duration::from_secs(30);
        assert!(breaker.allows(trial), "one trial after 30 s");
        breaker.record(&failure(), trial);
        assert!(!breaker.allows(trial), "a failed trial pauses again");
        let later = trial + Duration::from_secs(30);
        breaker.record(&Ok(DefectDetails::default()).into(), later);
        assert!(breaker.allows(later));
        breaker.record(&failure(), later);
        assert!(breaker.allows(later), "a success starts the count again");
    }

    #[test]
    fn the_outcome_says_its_code_and_whether_it_failed() {
        let added = Enrichment::from(Ok(DefectDetails::default()));
        assert_eq!((added.code(), added.is_failure()), ("added", false));
        let gone = Enrichment::from(Err(LookupError::NotFound));
        assert_eq!((gone.code(), gone.is_failure()), ("qase_not_found", false));
        assert_eq!(
            (failure().code(), failure().is_failure()),
            ("qase_error", true)
        );
        let paused = Enrichment::from(Err(LookupError::Paused));
        assert_eq!((paused.code(), paused.is_failure()), ("qase_paused", true));
    }

    #[test]
    fn a_deleted_defect_is_an_answer_not_a_failure() {
        let now = Instant::now();
        let mut breaker = Breaker::default();
        for _ in 0..10 {
            breaker.record(&Err(LookupError::NotFound).into(), now);
        }
        assert!(breaker.allows(now));
    }

    #[test]
    fn a_rate_limit_pauses_at_once_for_retry_after_capped_at_a_minute() {
        let now = Instant::now();
        let limited = |secs: Option<u64>| {
            Enrichment::from(Err(LookupError::RateLimited {
                retry_after: secs.map(Duration::from_secs),
            }))
        };
        let mut breaker = Breaker::default();
        breaker.record(&limited(Some(5)), now);
        assert!(!breaker.allows(now + Duration::from_secs(4)));
        assert!(breaker.allows(now + Duration::from_secs(5)));

        let mut breaker = Breaker::default();
        breaker.record(&limited(Some(3600)), now);
        assert!(
            breaker.allows(now + Duration::from_mins(1)),
            "capped at 60 s"
        );

        let mut breaker = Breaker::default();
        breaker.record(&limited(None), now);
        assert!(!breaker.allows(now + Duration::from_secs(59)));
        assert!(
            breaker.allows(now + Duration::from_mins(1)),
            "Qase's 60 s lockout"
        );
    }

    #[test]
    fn only_defect_events_with_a_clean_code_and_an_id_are_looked_up() {
        let key = |body: &str| {
            let webhook = Webhook::parse(body).unwrap();
            lookup_key(&webhook).map(|(c, id)| (c.to_owned(), id))
        };
        assert_eq!(
            key(r#"{"event_name":"defect.resolved","payload":{"id":3},"project_code":"DEMO"}"#),
            Some(("DEMO".to_owned(), 3))
        );
        for body in [
            r#"{"event_name":"run.started","payload":{"id":3},"project_code":"DEMO"}"#,
            r#"{"event_name":"defect.resolved","payload":{},"project_code":"DEMO"}"#,
            r#"{"event":"defect.resolved","payload":{"id":3}}"#,
            r#"{"event_name":"defect.resolved","payload":{"id":3},"project_code":"DE/../MO"}"#,
            r#"{"event_name":"defect.resolved","payload":{"id":3},"project_code":""}"#,
        ] {
            assert_eq!(key(body), None, "{body}");
        }
    }
}
