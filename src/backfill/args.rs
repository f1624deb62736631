//! `qase-backfill --project CODE --since RFC3339 [--until RFC3339] [--include-updates]
//! [--dry-run]`, read and checked before anything else happens.

use std::ffi::OsString;

use lexopt::ValueExt as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::replay::{EmptyWindow, Window};
use crate::qase::is_project_key;

/// How to call it, shown with every usage error and for `--help`.
pub const USAGE: &str =
    "usage: qase-backfill --project CODE --since RFC3339 [--until RFC3339] [--include-updates] [--dry-run]

Sends again, to the function's SNS topics, the defect events of project CODE that Qase sent
from --since (included) to --until (excluded; default: now), oldest first, each marked
\"replayed\": true: defect.created and defect.resolved (Qase's webhooks offer created,
resolved and deleted; a deleted defect is not listed, so its event cannot be sent again).
Times are RFC 3339, e.g. 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00.
--include-updates also sends a defect.updated for each defect last edited in the window, an
event Qase does not send: any edit counts, and only the last one is known.
--dry-run prints what would be published and publishes nothing.
Configuration: the function's environment variables (TOPIC_ARN, NOTIFICATION_TOPIC_ARN,
CHAT_TOPIC_ARN, CHAT_FILTER_POLICY, QASE_API_TOKEN or QASE_API_TOKEN_ARN, QASE_API_URL) and
the AWS SDK's (credentials, AWS_ENDPOINT_URL, AWS_CA_BUNDLE).";

/// What a run is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The Qase project's code.
    pub project: String,
    /// When the missed events happened.
    pub window: Window,
    /// Also a `defect.updated` for each defect last edited in the window (`--include-updates`).
    pub include_updates: bool,
    /// Print, publish nothing.
    pub dry_run: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Replay the window's events (or, with `--dry-run`, list them).
    Run(Args),
    /// `--help`.
    Help,
}

/// Why the command line cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// An unknown flag, a flag without its value, a stray argument.
    #[error(transparent)]
    Flags(#[from] lexopt::Error),
    /// A required flag is missing.
    #[error("{0} is required")]
    Missing(&'static str),
    /// A time that is not RFC 3339.
    #[error("{flag} {value:?} is not an RFC 3339 date-time such as 2026-12-01T09:00:00Z")]
    MalformedTime {
        /// `--since` or `--until`.
        flag: &'static str,
        /// What was given.
        value: String,
    },
    /// A project code that cannot name a project in the API's URL.
    #[error("--project must be a Qase project code: 1 to 64 letters and digits")]
    ProjectCode,
    /// `--since` is not before `--until`.
    #[error(transparent)]
    Window(#[from] EmptyWindow),
}

/// Reads `args` (without the program's name); `now` is `--until`'s default.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    now: OffsetDateTime,
) -> Result<Command, ArgsError> {
    use lexopt::Arg::Long;
    let (mut project, mut since, mut until) = (None, None, None);
    let (mut include_updates, mut dry_run) = (false, false);
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("project") => project = Some(parser.value()?.string()?),
            Long("since") => since = Some(time("--since", parser.value()?.string()?)?),
            Long("until") => until = Some(time("--until", parser.value()?.string()?)?),
            Long("dry-run") => dry_run = true,
            Long("include-updates") => include_updates = true,
            Long("help") | lexopt::Arg::Short('h') => return Ok(Command::Help),
            other => return Err(other.unexpected().into()),
        }
    }
    let project = project.ok_or(ArgsError::Missing("--project"))?;
    if !is_project_key(&project) {
        return Err(ArgsError::ProjectCode);
    }
    let since = since.ok_or(ArgsError::Missing("--since"))?;
    Ok(Command::Run(Args {
        // Qase's project codes are upper case, as webhooks carry them and filters match them.
        project: project.to_ascii_uppercase(),
        window: Window::new(since, until.unwrap_or(now))?,
        include_updates,
        dry_run,
    }))
}

fn time(flag: &'static str, value: String) -> Result<OffsetDateTime, ArgsError> {
    OffsetDateTime::parse(&value, &Rfc3339).map_err(|_| ArgsError::MalformedTime { flag, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-12-03T12:00:00Z";

    fn run(args: &[&str]) -> Result<Command, ArgsError> {
        let now = OffsetDateTime::parse(NOW, &Rfc3339).unwrap();
        parse(args.iter().map(OsString::from), now)
    }

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    #[test]
    fn reads_every_flag_in_either_spelling_and_until_defaults_to_now() {
        let Command::Run(args) = run(&[
            "--project",
            "Demo",
            "--since=2026-12-01T09:00:00+01:00",
            "--dry-run",
        ])
        .unwrap() else {
            panic!("a run")
        };
        assert_eq!(args.project, "DEMO", "as Qase writes project codes");
        assert!(args.dry_run);
        assert_eq!(args.window.since(), at("2026-12-01T08:00:00Z"));
        assert_eq!(args.window.until(), at(NOW));
        let Command::Run(args) = run(&[
            "--since",
            "2026-12-01T00:00:00Z",
            "--until",
            "2026-12-02T00:00:00Z",
            "--project=P2",
        ])
        .unwrap() else {
            panic!("a run")
        };
        assert_eq!(args.window.until(), at("2026-12-02T00:00:00Z"));
        assert!(!args.dry_run);
        assert!(matches!(run(&["--help"]).unwrap(), Command::Help));
    }

    #[test]
    fn says_what_is_wrong_with_a_command_line() {
        let message = |args: &[&str]| run(args).unwrap_err().to_string();
        assert_eq!(
            message(&["--since", "2026-12-01T00:00:00Z"]),
            "--project is required"
        );
        assert_eq!(message(&["--project", "DEMO"]), "--since is required");
        assert_eq!(
            message(&["--project", "DEMO", "--since", "2026-12-01"]),
            "--since \"2026-12-01\" is not an RFC 3339 date-time such as 2026-12-01T09:00:00Z"
        );
        assert_eq!(
            message(&[
                "--project",
                "DEMO",
                "--since",
                "2026-12-01T00:00:00Z",
                "--until",
                "yesterday"
            ]),
            "--until \"yesterday\" is not an RFC 3339 date-time such as 2026-12-01T09:00:00Z"
        );
        assert_eq!(
            message(&["--project", "DEMO", "--since", "2026-12-04T00:00:00Z"]),
            "--since must be before --until (the window is empty)"
        );
        for code in ["", "DE-MO", "../x", "DEMO?x=1"] {
            assert_eq!(
                message(&["--project", code, "--since", "2026-12-01T00:00:00Z"]),
                "--project must be a Qase project code: 1 to 64 letters and digits",
                "{code:?}"
            );
        }
        assert_eq!(
            message(&["--project", "DEMO", "--since"]),
            "missing argument for option '--since'"
        );
        assert_eq!(message(&["--force"]), "invalid option '--force'");
        assert_eq!(message(&["DEMO"]), "unexpected argument \"DEMO\"");
    }
}
