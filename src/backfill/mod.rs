//! `qase-backfill`: the defect events a window missed (an outage, a wrong secret), sent again
//! from what the Qase API says of the project's defects now, through the same plan as a
//! webhook.
//!
//! A run lists every defect of the project first (`GET /defect/{code}`,
//! [`crate::qase_api::PAGE_LIMIT`] at a
//! time, waiting out each 429 for as long as `Retry-After` says), so that a refused token or a
//! malformed answer stops it before anything is published. Then [`replay`] decides the events,
//! oldest first, and each is planned as the webhook Qase would have sent, marked
//! `"replayed": true`, and published to every configured topic. One line per event and a
//! summary line are written to the report. [`args`] reads the command line.

pub mod args;
pub mod replay;

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use time::UtcOffset;
use time::format_description::well_known::Rfc3339;

pub use args::{Args, ArgsError, Command, USAGE};
pub use replay::{EmptyWindow, Replay, UnreadableTime, Window, event_name, replays};

use crate::fanout::{self, Plan, Topics};
use crate::message::{DeliverableBody, MessageError};
use crate::publisher::{Answer, Publisher};
use crate::qase::{DefectPage, ListedDefect, Webhook};
use crate::qase_api::{LookupError, MAX_OFFSET, PAGE_LIMIT, QaseApi};

/// 429s in a row on one page before the run gives up.
pub const MAX_RATE_LIMITED: u32 = 5;
/// The wait after a 429 without a usable `Retry-After`: Qase's documented "timeout period is
/// set to 60 seconds once the limit is exceeded" (developers.qase.io, "API Rate limits").
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_mins(1);
/// The budget of one page.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a run stopped before publishing.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The Qase API has no such project (404).
    #[error("the Qase API has no project {0} (404)")]
    NoSuchProject(String),
    /// A page could not be listed: the token, the API, the network.
    #[error("listing the defects of project {project} failed")]
    List {
        /// Its code, as given with `--project`.
        project: String,
        /// What the API (or the network) said.
        #[source]
        source: LookupError,
    },
    /// The API kept answering 429.
    #[error("the Qase API answered 429 {MAX_RATE_LIMITED} times in a row; try again later")]
    RateLimited,
    /// The project has more defects than the list endpoint pages through.
    #[error(
        "project {project} has {total} defects, and the Qase API lists only the first {} \
         (its offset goes up to {MAX_OFFSET}): the window's events among the others cannot be \
         found this way; nothing was published. Look for them in Qase's defect list instead, \
         filtered to the window",
        MAX_OFFSET + PAGE_LIMIT
    )]
    TooManyDefects {
        /// The project.
        project: String,
        /// How many defects the Qase API says it has.
        total: u64,
    },
    /// A time in the API's answer cannot be read.
    #[error(transparent)]
    Time(#[from] UnreadableTime),
    /// The report could not be written (stdout closed): events may have been published.
    #[error("writing the report failed; events may have been published before it did")]
    Report(#[from] std::io::Error),
}

impl BackfillError {
    /// Whether the run stopped before it published anything.
    pub fn before_publishing(&self) -> bool {
        !matches!(self, Self::Report(_))
    }
}

/// How a run went: the summary line's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events in the window.
    pub found: usize,
    /// Events the events topic took.
    pub published: usize,
    /// Events the events topic did not take (or that cannot be published).
    pub failed: usize,
    /// Messages to the notifications or chat topic that were not taken (the event itself was).
    pub companions_failed: usize,
}

/// Lists project `args.project`'s defects, then publishes each event of `args.window` through
/// `topics` (nothing when `args.dry_run`), writing one line per event and the summary
/// line to `report`.
pub async fn run<P: Publisher>(
    api: &QaseApi,
    topics: &Topics<P>,
    args: &Args,
    report: &mut impl Write,
) -> Result<Summary, BackfillError> {
    let page = |offset| api.defects(&args.project, offset);
    let defects = list(page, &args.project, report).await?;
    let replays = replays(&args.project, &defects, &args.window, args.include_updates)?;
    let mut summary = Summary {
        found: replays.len(),
        ..Summary::default()
    };
    for replay in &replays {
        let line = send(topics, replay, args.dry_run, &mut summary).await;
        writeln!(report, "{} {line}", utc(replay.at))?;
    }
    writeln!(report, "{}", summary_line(args, &defects, &summary))?;
    Ok(summary)
}

/// Every defect of `project`, page after page (`page(offset)`) until the API's `total` is
/// reached (or a page is empty).
async fn list<Page: Future<Output = Result<DefectPage, LookupError>>>(
    mut page: impl FnMut(u64) -> Page,
    project: &str,
    report: &mut impl Write,
) -> Result<Vec<ListedDefect>, BackfillError> {
    let mut defects = Vec::new();
    let (mut rate_limited, mut total) = (0, 0);
    loop {
        let offset = defects.len() as u64;
        if offset > MAX_OFFSET {
            let project = project.to_owned();
            return Err(BackfillError::TooManyDefects { project, total });
        }
        let listed = tokio::time::timeout(PAGE_TIMEOUT, page(offset))
            .await
            .unwrap_or(Err(LookupError::TimedOut(PAGE_TIMEOUT)));
        match listed {
            Ok(page) => {
                (rate_limited, total) = (0, page.total);
                let listed = page.defects.len();
                defects.extend(page.defects);
                if listed == 0 || defects.len() as u64 >= page.total {
                    return Ok(defects);
                }
            }
            Err(LookupError::RateLimited { retry_after }) => {
                rate_limited += 1;
                if rate_limited >= MAX_RATE_LIMITED {
                    return Err(BackfillError::RateLimited);
                }
                let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
                writeln!(
                    report,
                    "the Qase API answered 429: waiting {} s, as its Retry-After says",
                    wait.as_secs()
                )?;
                tokio::time::sleep(wait).await;
            }
            Err(LookupError::NotFound) => {
                return Err(BackfillError::NoSuchProject(project.to_owned()));
            }
            Err(source) => {
                let project = project.to_owned();
                return Err(BackfillError::List { project, source });
            }
        }
    }
}

/// Plans `replay` as a webhook and publishes it (or not, in a dry run); answers its line.
async fn send<P: Publisher>(
    topics: &Topics<P>,
    replay: &Replay,
    dry_run: bool,
    summary: &mut Summary,
) -> String {
    let plan = match plan(topics, replay) {
        Ok(plan) => plan,
        Err(refused) => {
            summary.failed += 1;
            return format!(
                "FAILED {} #{}: {} ({refused})",
                event_name(replay.action),
                replay.defect,
                refused.code()
            );
        }
    };
    let subject = printable(&plan.events.subject);
    if dry_run {
        let companions = plan
            .companions
            .iter()
            .map(|(topic, _)| format!(", {topic}"));
        return format!(
            "would publish {subject} (to message{})",
            companions.collect::<String>()
        );
    }
    let (events, companions) = topics.publish(&plan).await;
    let failures: Vec<String> = (companions.iter())
        .filter_map(|(topic, answer)| failed(topic, answer))
        .inspect(|_| summary.companions_failed += 1)
        .collect();
    let others = (Some(failures.join(", ")).filter(|f| !f.is_empty()))
        .map_or_else(String::new, |f| format!("; {f}"));
    match events {
        Ok(message_id) => {
            summary.published += 1;
            format!("published {subject} (message {message_id}{others})")
        }
        Err(refused) => {
            summary.failed += 1;
            format!("FAILED {subject} ({}: {refused}{others})", refused.code())
        }
    }
}

fn plan<'r, P>(topics: &Topics<P>, replay: &'r Replay) -> Result<Plan<'r>, MessageError> {
    let webhook = Webhook::parse(&replay.body).expect("a replay's body is a webhook");
    let body = DeliverableBody::new(&webhook, &replay.body)?;
    Ok(fanout::plan(&webhook, body, Some(&replay.details), topics))
}

/// `notification failed: sns_throttled` for a companion that was not taken.
fn failed(topic: &str, answer: &Answer) -> Option<String> {
    let refused = answer.as_ref().err()?;
    Some(format!("{topic} failed: {}", refused.code()))
}

/// The summary line of a run stopped before it published anything (a refused token, an
/// unknown project, an unreadable time...): the run still ends with one.
pub fn stopped_line(args: &Args) -> String {
    let heading = heading(args);
    format!("{heading}: stopped before publishing: 0 events found, 0 published, 0 failed")
}

/// `qase-backfill: project DEMO, <since> to <until>`: how every summary line starts.
fn heading(args: &Args) -> String {
    let (since, until) = (utc(args.window.since()), utc(args.window.until()));
    format!(
        "qase-backfill: project {}, {since} to {until}",
        args.project
    )
}

fn summary_line(args: &Args, defects: &[ListedDefect], summary: &Summary) -> String {
    let published = if args.dry_run {
        "0 published (dry run)".to_owned()
    } else {
        format!("{} published", summary.published)
    };
    let companions = match summary.companions_failed {
        0 => String::new(),
        n => format!(", {n} notification or chat messages failed"),
    };
    format!(
        "{}: {} defects listed, {} events found, {published}, {} failed{companions}",
        heading(args),
        defects.len(),
        summary.found,
        summary.failed,
    )
}

/// `text` (a subject: no control characters already) for a terminal: every character Rust's
/// `escape_debug` would escape as unprintable (format characters such as U+202E, which
/// reorders what follows it, unassigned ones) is written as its `\u{..}` escape; quotes and
/// people's own scripts are kept.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            let escaped = c.escape_debug();
            if escaped.len() == 1 || matches!(c, '\'' | '"' | '\\') {
                c.to_string()
            } else {
                c.escape_unicode().to_string()
            }
        })
        .collect()
}

/// `2026-12-01T09:00:00Z`.
fn utc(at: time::OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .expect("a time within the API's years formats")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qase::DefectDetails;

    /// A page of `total` defects holding the one with `id`.
    fn page(id: u64, total: u64) -> DefectPage {
        let defect = ListedDefect {
            id,
            details: DefectDetails::default(),
            created_at: None,
            updated_at: None,
            resolved_at: None,
            author: None,
            actual_result: None,
            attachments: None,
        };
        DefectPage {
            total,
            defects: vec![defect],
        }
    }

    /// Lists with `answers`, one a page asked for, on tokio's paused clock: the defects (or
    /// the error), how long the listing took on that clock, and the report.
    async fn listed(
        answers: Vec<Option<Result<DefectPage, LookupError>>>,
    ) -> (Result<Vec<u64>, BackfillError>, Duration, String) {
        let mut answers = answers.into_iter();
        let started = tokio::time::Instant::now();
        let mut report = Vec::new();
        let answer = |_offset| {
            let next = answers
                .next()
                .expect("no page asked for past the last answer");
            async move {
                match next {
                    Some(answer) => answer,
                    None => std::future::pending().await,
                }
            }
        };
        let result = list(answer, "DEMO", &mut report).await;
        let ids = result.map(|defects| defects.iter().map(|d| d.id).collect());
        (ids, started.elapsed(), String::from_utf8(report).unwrap())
    }

    #[tokio::test]
    async fn a_project_past_the_list_endpoints_offset_cap_stops_before_asking_past_it() {
        // qase-tms/specs, api.yaml, components.parameters.Offset: "maximum: 100000"; pages of
        // 100 (Limit's maximum). A project of 250,000 defects: offsets 0, 100, ... 100000.
        let asked = std::cell::RefCell::new(Vec::new());
        let full_page = |offset: u64| {
            asked.borrow_mut().push(offset);
            let defects = (offset..offset + 100).map(|id| page(id, 250_000).defects.remove(0));
            let page = DefectPage {
                total: 250_000,
                defects: defects.collect(),
            };
            async move { Ok(page) }
        };
        let mut report = Vec::new();
        let refused = list(full_page, "HUGE", &mut report).await.unwrap_err();
        let asked = asked.into_inner();
        assert_eq!((asked.first(), asked.last()), (Some(&0), Some(&100_000)));
        assert_eq!(asked.len(), 1001);
        let message = refused.to_string();
        assert!(
            message.contains("250000 defects") && message.contains("first 100100"),
            "{message}"
        );
        assert!(refused.before_publishing());
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_is_waited_out_for_as_long_as_retry_after_says_or_a_minute_without_one() {
        let limited = |seconds: Option<u64>| {
            Some(Err(LookupError::RateLimited {
                retry_after: seconds.map(Duration::from_secs),
            }))
        };
        let (ids, took, report) = listed(vec![
            limited(Some(7)),
            Some(Ok(page(1, 2))),
            limited(None),
            Some(Ok(page(2, 2))),
        ])
        .await;
        assert_eq!(ids.unwrap(), [1, 2]);
        // 7 s, as Retry-After said; then Qase's documented 60 s lockout without one.
        assert_eq!(took, Duration::from_secs(7 + 60));
        assert_eq!(
            report,
            "the Qase API answered 429: waiting 7 s, as its Retry-After says\n\
             the Qase API answered 429: waiting 60 s, as its Retry-After says\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_run_stops_after_five_429s_in_a_row_and_a_page_that_never_comes_after_its_budget() {
        let limited = || Some(Err(LookupError::RateLimited { retry_after: None }));
        let (stopped, took, _) = listed((0..5).map(|_| limited()).collect()).await;
        assert!(
            matches!(stopped, Err(BackfillError::RateLimited)),
            "{stopped:?}"
        );
        assert_eq!(
            took,
            Duration::from_mins(4),
            "four waits of 60 s between five 429s"
        );

        let (stopped, took, _) = listed(vec![Some(Ok(page(1, 2))), None]).await;
        let Err(BackfillError::List { source, .. }) = stopped else {
            panic!("{stopped:?}");
        };
        assert!(
            matches!(source, LookupError::TimedOut(PAGE_TIMEOUT)),
            "{source:?}"
        );
        assert_eq!(took, Duration::from_secs(30), "the page's budget, 30 s");
    }

    #[test]
    fn a_subject_is_printed_as_people_wrote_it_but_for_what_would_fool_a_terminal() {
        assert_eq!(
            printable("[DEMO] defect.created #1: L'écran \"Вход\" 😀"),
            "[DEMO] defect.created #1: L'écran \"Вход\" 😀"
        );
        assert_eq!(printable("evil \u{202E}txt.exe"), "evil \\u{202e}txt.exe");
    }
}
