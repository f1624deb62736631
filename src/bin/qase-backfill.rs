//! `qase-backfill --project CODE --since RFC3339 [--until RFC3339] [--dry-run]`: sends again
//! the defect events a window missed (see `qase_defect_fanout::backfill`). Configured like the
//! function; every problem found before publishing ends the run with a message on stderr, the
//! summary line of a stopped run and exit status 1 (2 for a command-line mistake, before any
//! run), nothing published.

use std::process::ExitCode;

use qase_defect_fanout::aws::secrets_manager::resolve;
use qase_defect_fanout::aws::{self, sns};
use qase_defect_fanout::backfill::{self, Args, BackfillError, Command, Summary, USAGE};
use qase_defect_fanout::config::BackfillConfig;
use qase_defect_fanout::lambda::logging::error_chain;
use qase_defect_fanout::qase_api::QaseApi;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let now = time::OffsetDateTime::now_utc();
    let args = match backfill::args::parse(std::env::args_os().skip(1), now) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(mistake) => {
            eprintln!("qase-backfill: {mistake}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match start(&args).await {
        Ok(summary) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            let published = err
                .downcast_ref::<BackfillError>()
                .is_some_and(|err| !err.before_publishing());
            let nothing = if published {
                ""
            } else {
                "; nothing was published"
            };
            eprintln!("qase-backfill: {}{nothing}", error_chain(err.as_ref()));
            if !published {
                println!("{}", backfill::stopped_line(&args));
            }
            ExitCode::FAILURE
        }
    }
}

async fn start(args: &Args) -> Result<Summary, Box<dyn std::error::Error>> {
    let config = BackfillConfig::from_env()?;
    let (sdk, extra_roots) = aws::from_environment(config.aws)?;
    let token = resolve(&sdk, config.qase_api.token).await?;
    let api = QaseApi::new(&config.qase_api.url, &token, extra_roots);
    let topics = sns::publishers(&sdk, &config.topics);
    Ok(backfill::run(&api, &topics, args, &mut std::io::stdout().lock()).await?)
}
