//! `qase-backfill` against a mock Qase API and the emulator: the library's run (pages, 429,
//! the plan, the report) and the binary itself (exit status, messages, nothing published when
//! it stops early).
#![allow(clippy::too_many_lines)] // The 60-line limit (clippy.toml) is for src/; a test is one scenario.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::moto::Moto;
use common::qase_mock::{self, QaseMock};
use qase_defect_fanout::aws::sns::SnsPublisher;
use qase_defect_fanout::backfill::{self, Args, BackfillError, Summary, Window};
use qase_defect_fanout::fanout::{self, Companions};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

/// A run of `project`'s window, with `--include-updates` (the tests below count the updates).
fn args(project: &str, since: &str, until: &str, dry_run: bool) -> Args {
    Args {
        project: project.to_owned(),
        window: Window::new(at(since), at(until)).unwrap(),
        include_updates: true,
        dry_run,
    }
}

/// The window of [`qase_mock::MANY`] the tests replay: its second day. By the mock's rules,
/// written out by hand: defects 24 to 47 were created in it (24 events), 30 and 40 updated
/// 30 minutes after (2), 25 resolved 90 minutes after (1): 27 events.
const SINCE: &str = "2026-11-02T00:00:00Z";
const UNTIL: &str = "2026-11-03T00:00:00Z";

/// An events topic with a raw queue and a notifications topic with one, on a fresh emulator.
struct Topics {
    moto: Moto,
    events: String,
    events_queue: String,
    notifications: String,
    notifications_queue: String,
}

impl Topics {
    async fn start() -> Self {
        let moto = Moto::start();
        let events = moto.create_topic("events", false).await;
        let events_queue = moto.subscribe_queue(&events, "events-all", None).await;
        let notifications = moto.create_topic("notifications", false).await;
        let notifications_queue = moto
            .subscribe_queue(&notifications, "notifications-all", None)
            .await;
        Self {
            moto,
            events,
            events_queue,
            notifications,
            notifications_queue,
        }
    }

    fn publishers(&self) -> fanout::Topics<SnsPublisher> {
        fanout::Topics {
            events: self.moto.publisher(&self.events),
            fifo_events: false,
            companions: Companions {
                notification: Some(self.moto.publisher(&self.notifications)),
                chat: None,
            },
            chat_filter: None,
        }
    }

    /// The function's own environment, aimed at this emulator and `qase`.
    fn env(&self, qase: &QaseMock, token: &str) -> Vec<(&'static str, String)> {
        vec![
            ("TOPIC_ARN", self.events.clone()),
            ("NOTIFICATION_TOPIC_ARN", self.notifications.clone()),
            ("QASE_API_URL", qase.url.clone()),
            ("QASE_API_TOKEN", token.to_owned()),
            ("AWS_ENDPOINT_URL", self.moto.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ]
    }
}

async fn run(
    qase: &QaseMock,
    topics: &Topics,
    args: &Args,
) -> (Result<Summary, BackfillError>, String) {
    let mut report = Vec::new();
    let api = qase.api(qase_mock::TOKEN);
    let summary = backfill::run(&api, &topics.publishers(), args, &mut report).await;
    (summary, String::from_utf8(report).unwrap())
}

/// The binary, built by cargo for this test, with only `env` (and PATH) set.
fn backfill_binary(env: &[(&'static str, String)], flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qase-backfill"))
        .args(flags)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("qase-backfill runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn by_default_only_the_events_qase_sends_are_replayed() {
    // Qase's webhook settings offer a defect's creation, resolution and deletion: of the
    // window's 27 events, the 2 updates are not sent unless asked for.
    let (qase, topics) = (QaseMock::start(), Topics::start().await);
    let only_sent = Args {
        include_updates: false,
        ..args(qase_mock::MANY, SINCE, UNTIL, false)
    };
    let (summary, report) = run(&qase, &topics, &only_sent).await;
    assert_eq!(summary.unwrap().published, 25, "{report}");
    assert!(!report.contains("defect.updated"), "{report}");
    let events = topics.moto.drain(&topics.events_queue).await;
    assert_eq!(events.len(), 25);
}

#[tokio::test]
async fn pages_through_every_defect_and_publishes_the_windows_events_oldest_first() {
    let (qase, topics) = (QaseMock::start(), Topics::start().await);
    let (summary, report) = run(&qase, &topics, &args(qase_mock::MANY, SINCE, UNTIL, false)).await;

    assert_eq!(
        summary.unwrap(),
        Summary {
            found: 27,
            published: 27,
            failed: 0,
            companions_failed: 0
        }
    );
    let paths: Vec<String> = qase.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            "/v1/defect/MANY?limit=100&offset=0",
            "/v1/defect/MANY?limit=100&offset=100",
            "/v1/defect/MANY?limit=100&offset=200",
        ],
        "three pages of at most 100 for 250 defects"
    );
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 28, "{report}");
    // Oldest first: 26 created at 02:00, then 25 resolved at 02:30 (created at 01:00).
    assert!(
        lines[0].starts_with(
            "2026-11-02T00:00:00Z published [MANY] defect.created #24: Defect 24 (message "
        ),
        "{}",
        lines[0]
    );
    assert!(lines[2].starts_with("2026-11-02T02:00:00Z published [MANY] defect.created #26"));
    assert!(lines[3].starts_with("2026-11-02T02:30:00Z published [MANY] defect.resolved #25"));
    assert!(lines[7].starts_with("2026-11-02T06:00:00Z published [MANY] defect.created #30"));
    assert!(lines[8].starts_with("2026-11-02T06:30:00Z published [MANY] defect.updated #30"));
    assert_eq!(
        lines[27],
        "qase-backfill: project MANY, 2026-11-02T00:00:00Z to 2026-11-03T00:00:00Z: \
         250 defects listed, 27 events found, 27 published, 0 failed"
    );

    let events = topics.moto.drain(&topics.events_queue).await;
    assert_eq!(events.len(), 27);
    let resolved = events
        .iter()
        .find(|m| m.body().unwrap().contains("defect.resolved"))
        .expect("the resolved event");
    // 2026-11-02T02:30:00Z is 1,793,586,600 s after the Unix epoch.
    assert_eq!(
        resolved.body().unwrap(),
        r#"{"event_name":"defect.resolved","timestamp":1793586600,"payload":{"id":25,"title":"Defect 25","severity":"minor"},"project_code":"MANY","replayed":true}"#
    );
    // A creation carries what the API gives of Qase's payload: its author as the initiator,
    // the actual result and the attachments (docs/backfill.md lists the differences).
    let created: serde_json::Value = serde_json::from_str(
        (events.iter())
            .find_map(|m| m.body().filter(|b| b.contains("\"id\":24,")))
            .expect("defect 24's creation"),
    )
    .unwrap();
    assert_eq!(created["team_member_id"], 40);
    assert_eq!(created["payload"]["actual_result"], "PRIVATE actual result");
    assert_eq!(created["payload"]["attachments"][0]["filename"], "log.txt");
    let attribute = |name: &str| {
        let attributes = resolved.message_attributes().unwrap();
        attributes
            .get(name)
            .and_then(|a| a.string_value().map(str::to_owned))
    };
    assert_eq!(attribute("replayed").as_deref(), Some("true"));
    assert_eq!(attribute("event_name").as_deref(), Some("defect.resolved"));
    assert_eq!(
        attribute("status").as_deref(),
        Some("resolved"),
        "the API's details, as a lookup gives them"
    );
    assert_eq!(attribute("tags").as_deref(), Some(r#"["backfill"]"#));
    assert!(
        events
            .iter()
            .all(|m| m.message_attributes().unwrap().len() <= 10),
        "at most 10 attributes"
    );

    let notes = topics.moto.drain(&topics.notifications_queue).await;
    assert_eq!(notes.len(), 27, "the same plan: every event has its text");
    assert!(
        notes.iter().any(|m| m
            .body()
            .unwrap()
            .starts_with("Qase project MANY: defect.resolved\nDefect #25: Defect 25\n")),
        "{:?}",
        notes.first().map(|m| m.body())
    );
}

#[tokio::test]
async fn waits_out_a_429_for_as_long_as_retry_after_says() {
    let (qase, topics) = (QaseMock::start(), Topics::start().await);
    let (summary, report) = run(
        &qase,
        &topics,
        &args(qase_mock::LIMITED, SINCE, UNTIL, true),
    )
    .await;
    assert_eq!(summary.unwrap().found, 27);
    assert!(
        report.starts_with("the Qase API answered 429: waiting 1 s, as its Retry-After says\n"),
        "{report}"
    );
    let seen = qase.seen();
    assert_eq!(seen[0].path, seen[1].path, "the same page, asked again");
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "asked again after {waited:?}"
    );

    let (stopped, _) = run(
        &qase,
        &topics,
        &args(qase_mock::ALWAYS_LIMITED, SINCE, UNTIL, false),
    )
    .await;
    assert_eq!(
        stopped.unwrap_err().to_string(),
        "the Qase API answered 429 5 times in a row; try again later"
    );
}

#[tokio::test]
async fn an_empty_project_and_a_window_with_nothing_in_it_publish_nothing() {
    let (qase, topics) = (QaseMock::start(), Topics::start().await);
    let (summary, report) = run(&qase, &topics, &args(qase_mock::EMPTY, SINCE, UNTIL, false)).await;
    assert_eq!(summary.unwrap(), Summary::default());
    assert_eq!(
        report,
        "qase-backfill: project EMPTY, 2026-11-02T00:00:00Z to 2026-11-03T00:00:00Z: \
         0 defects listed, 0 events found, 0 published, 0 failed\n"
    );
    let (summary, report) = run(
        &qase,
        &topics,
        &args(
            qase_mock::MANY,
            "2025-01-01T00:00:00Z",
            "2025-02-01T00:00:00Z",
            false,
        ),
    )
    .await;
    assert_eq!(summary.unwrap(), Summary::default());
    assert!(
        report.contains("250 defects listed, 0 events found, 0 published"),
        "{report}"
    );
    assert!(topics.moto.drain(&topics.events_queue).await.is_empty());
}

#[tokio::test]
async fn a_dry_run_prints_what_it_would_publish_and_publishes_nothing() {
    let (qase, topics) = (QaseMock::start(), Topics::start().await);
    let out = backfill_binary(
        &topics.env(&qase, qase_mock::TOKEN),
        &[
            "--project",
            "MANY",
            "--since",
            SINCE,
            "--until",
            UNTIL,
            "--include-updates",
            "--dry-run",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "2026-11-02T00:00:00Z would publish [MANY] defect.created #24: Defect 24 \
         (to message, notification)"
    );
    assert_eq!(
        lines[27],
        "qase-backfill: project MANY, 2026-11-02T00:00:00Z to 2026-11-03T00:00:00Z: \
         250 defects listed, 27 events found, 0 published (dry run), 0 failed"
    );
    assert!(topics.moto.drain(&topics.events_queue).await.is_empty());
    assert!(
        topics
            .moto
            .drain(&topics.notifications_queue)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn stops_before_publishing_on_a_refused_token_an_unknown_project_or_an_unreadable_time() {
    let (qase, topics) = (QaseMock::start(), Topics::start().await);
    let flags = |project| ["--project", project, "--since", SINCE, "--until", UNTIL];
    for (env, project, message) in [
        (
            topics.env(&qase, "not-the-token-at-all"),
            "MANY",
            "qase-backfill: listing the defects of project MANY failed: the Qase API refused \
             the token (401 Unauthorized); nothing was published\n",
        ),
        (
            topics.env(&qase, qase_mock::TOKEN),
            qase_mock::GONE,
            "qase-backfill: the Qase API has no project GONE (404); nothing was published\n",
        ),
        (
            topics.env(&qase, qase_mock::TOKEN),
            qase_mock::BAD_TIME,
            "qase-backfill: the Qase API's `created_at` of defect 1 is not an RFC 3339 \
             date-time; nothing was published\n",
        ),
    ] {
        let out = backfill_binary(&env, &flags(project));
        assert_eq!(out.status.code(), Some(1), "{project}");
        assert_eq!(text(&out.stderr), message);
        assert!(!text(&out.stderr).contains("not-the-token-at-all"));
        assert_eq!(
            text(&out.stdout),
            format!(
                "qase-backfill: project {project}, 2026-11-02T00:00:00Z to \
                 2026-11-03T00:00:00Z: stopped before publishing: 0 events found, 0 published, \
                 0 failed\n"
            ),
            "no event line; the summary line of a stopped run"
        );
    }
    assert!(topics.moto.drain(&topics.events_queue).await.is_empty());
}

#[tokio::test]
async fn a_missing_variable_or_a_malformed_time_stops_it_with_a_clear_message() {
    let (qase, topics) = (QaseMock::start(), Topics::start().await);
    let flags = ["--project", "MANY", "--since", SINCE];
    let without = |name: &str| {
        let mut env = topics.env(&qase, qase_mock::TOKEN);
        env.retain(|(n, _)| *n != name);
        env
    };
    for (env, message) in [
        (
            without("TOPIC_ARN"),
            "qase-backfill: TOPIC_ARN is not set; nothing was published\n",
        ),
        (
            without("QASE_API_TOKEN"),
            "qase-backfill: QASE_API_TOKEN (or QASE_API_TOKEN_ARN) is not set; nothing was \
             published\n",
        ),
    ] {
        let out = backfill_binary(&env, &flags);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stderr), message);
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with("qase-backfill: project MANY, 2026-11-02T00:00:00Z to ")
                && stdout.ends_with(
                    ": stopped before publishing: 0 events found, 0 published, 0 failed\n"
                ),
            "{stdout}"
        );
    }
    let env = topics.env(&qase, qase_mock::TOKEN);
    let out = backfill_binary(&env, &["--project", "MANY", "--since", "2026-11-02 00:00"]);
    assert_eq!(out.status.code(), Some(2), "a command-line mistake");
    assert!(
        text(&out.stderr).starts_with(
            "qase-backfill: --since \"2026-11-02 00:00\" is not an RFC 3339 date-time such as \
             2026-12-01T09:00:00Z\n\nusage: qase-backfill --project CODE"
        ),
        "{}",
        text(&out.stderr)
    );
    assert!(qase.seen().is_empty(), "nothing asked of Qase either");
    assert!(topics.moto.drain(&topics.events_queue).await.is_empty());
}
