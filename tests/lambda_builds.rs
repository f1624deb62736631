//! The bootstraps `sam build` makes for Lambda, checked where they will run: `make arm64-check`
//! builds both architectures and names them in `LAMBDA_BUILDS` (`arch=path ...`), and this
//! file (compiled only with the `lambda-builds` feature that target turns on) checks:
//! - each needs no glibc newer than `provided.al2023` has: Amazon Linux 2023 ships glibc 2.34
//!   (AL2023 User Guide, "Core toolchain packages glibc, gcc, binutils",
//!   <https://docs.aws.amazon.com/linux/al2023/ug/core-glibc.html>); a bootstrap that needs
//!   more fails at init with ``version `GLIBC_2.38' not found`` (aws-lambda-rust-runtime#932);
//! - the arm64 one (the template's default) answers webhooks under qemu-user (`QEMU_ARM64`),
//!   through the Runtime API emulator, publishing to moto, as the `x86_64` one does in
//!   `tests/binary.rs`.
#![allow(clippy::too_many_lines)] // The 60-line limit (clippy.toml) is for src/; a test is one scenario.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::qase_mock::{self, QaseMock};
use common::runtime_api::RuntimeApi;
use common::{Api, EventBuilder, SECRET, qase_fixture};

/// The newest glibc symbol version `provided.al2023` has.
const AL2023_GLIBC: (u32, u32) = (2, 34);

/// `LAMBDA_BUILDS`, as `arch → bootstrap`; both architectures the template offers must be
/// there, so that nothing passes for want of a build.
fn builds() -> BTreeMap<String, PathBuf> {
    let spec = std::env::var("LAMBDA_BUILDS").expect(
        "LAMBDA_BUILDS names the bootstraps to check (x86_64=PATH arm64=PATH); run `make arm64-check`",
    );
    let builds: BTreeMap<String, PathBuf> = spec
        .split_whitespace()
        .map(|pair| {
            let (arch, path) = pair.split_once('=').expect("arch=path");
            (arch.to_owned(), PathBuf::from(path))
        })
        .collect();
    assert_eq!(
        builds.keys().map(String::as_str).collect::<Vec<_>>(),
        ["arm64", "x86_64"],
        "the template's two architectures"
    );
    builds
}

fn readelf(args: &[&str], path: &PathBuf) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("readelf (binutils): {e}"));
    assert!(out.status.success(), "readelf {args:?} {}", path.display());
    String::from_utf8(out.stdout).unwrap()
}

/// The `GLIBC_*` versions in a `readelf --version-info` listing's version needs section
/// (`.gnu.version_r`, what the dynamic loader checks before `main`).
fn glibc_needed(version_info: &str) -> Vec<(u32, u32, u32)> {
    let Some(needs) = version_info.split("Version needs section").nth(1) else {
        return Vec::new();
    };
    let needs = needs.split("Version definition section").next().unwrap();
    needs
        .split("Name: GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let version = rest.split_whitespace().next()?;
            let mut parts = version.split('.').map(str::parse::<u32>);
            match (parts.next(), parts.next(), parts.next()) {
                (Some(Ok(major)), Some(Ok(minor)), patch) => {
                    Some((major, minor, patch.and_then(Result::ok).unwrap_or(0)))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn the_glibc_check_reads_readelfs_listing() {
    // As binutils 2.40 prints it for a bootstrap that needs glibc 2.38 (the failure of
    // aws-lambda-rust-runtime#932).
    let listing = "
Version symbols section '.gnu.version' contains 120 entries:
 Addr: 0x0000000000001234  Offset: 0x001234  Link: 6 (.dynsym)
  000:   0 (*local*)       2 (GLIBC_2.2.5)   3 (GLIBC_2.38)

Version needs section '.gnu.version_r' contains 2 entries:
 Addr: 0x0000000000005678  Offset: 0x005678  Link: 7 (.dynstr)
  000000: Version: 1  File: libgcc_s.so.1  Cnt: 1
  0x0010:   Name: GCC_3.0  Flags: none  Version: 5
  0x0020: Version: 1  File: libc.so.6  Cnt: 3
  0x0030:   Name: GLIBC_2.38  Flags: none  Version: 4
  0x0040:   Name: GLIBC_2.2.5  Flags: none  Version: 3
  0x0050:   Name: GLIBC_2.34  Flags: none  Version: 2
";
    let needed = glibc_needed(listing);
    assert_eq!(needed, [(2, 38, 0), (2, 2, 5), (2, 34, 0)]);
    assert!(needed.iter().any(|&(a, b, _)| (a, b) > AL2023_GLIBC));
    assert_eq!(glibc_needed("no version information"), []);
}

#[test]
fn both_bootstraps_need_no_glibc_newer_than_provided_al2023_has() {
    for (arch, path) in builds() {
        let header = readelf(&["--file-header", "--wide"], &path);
        let machine = if arch == "arm64" { "AArch64" } else { "X86-64" };
        assert!(
            header
                .lines()
                .any(|l| l.trim_start().starts_with("Machine:") && l.contains(machine)),
            "{arch}: {} is not an {machine} executable:\n{header}",
            path.display()
        );
        let needed = glibc_needed(&readelf(&["--version-info", "--wide"], &path));
        let newest = needed.iter().max().copied();
        let (major, minor, patch) = newest.expect("a dynamically linked bootstrap needs glibc");
        println!(
            "{arch}: {} needs GLIBC_{major}.{minor}{} at most ({} versions named); \
             provided.al2023 has {}.{}",
            path.display(),
            if patch > 0 {
                format!(".{patch}")
            } else {
                String::new()
            },
            needed.len(),
            AL2023_GLIBC.0,
            AL2023_GLIBC.1
        );
        assert!(
            (major, minor) <= AL2023_GLIBC,
            "{arch}: needs GLIBC_{major}.{minor}, newer than provided.al2023's"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arm64_bootstrap_answers_webhooks_under_qemu() {
    let bootstrap = builds().remove("arm64").unwrap();
    let runner = std::env::var("QEMU_ARM64")
        .expect("QEMU_ARM64 is the qemu-user command line (make arm64-check sets it)");
    let mut runner = runner.split_whitespace();
    let moto = Moto::start();
    let events_topic = moto.create_topic("qase-events", false).await;
    let notifications_topic = moto.create_topic("qase-notifications", false).await;
    let queue = moto.subscribe_queue(&events_topic, "events", None).await;
    let qase = QaseMock::start();
    let runtime = RuntimeApi::start();

    let created = qase_fixture("defect.created");
    let resolved = qase_fixture("defect.resolved");
    let invocations = [
        (EventBuilder::qase(Api::Http, &created), 202),
        (EventBuilder::qase(Api::FunctionUrl, &resolved), 202),
        (
            EventBuilder::with_secret(Api::Http, "not-the-secret", &created),
            401,
        ),
        (EventBuilder::qase(Api::Http, "{not json"), 400),
    ];
    runtime.queue(
        invocations
            .iter()
            .map(|(event, _)| event.event().to_string().into_bytes()),
    );

    let started = Instant::now();
    let mut child = Command::new(runner.next().unwrap())
        .args(runner)
        .arg(&bootstrap)
        .env_clear()
        .envs(runtime.lambda_environment())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("TOPIC_ARN", &events_topic)
        .env("NOTIFICATION_TOPIC_ARN", &notifications_topic)
        .env("QASE_WEBHOOK_SECRET", SECRET)
        .env("QASE_API_URL", &qase.url)
        .env("QASE_API_TOKEN", qase_mock::TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bootstrap.display()));
    let n = invocations.len();
    let (log, output) = tokio::task::spawn_blocking(move || {
        let log = runtime.wait_answered_by(&mut child, n, Duration::from_mins(2));
        let _ = child.kill();
        (log, child.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    let log = log.unwrap_or_else(|| panic!("not every invocation was answered:\n{printed}"));

    let init = log.next_at[0] - started;
    let mut answers = Vec::new();
    for ((_, status), done) in invocations.iter().zip(&log.done) {
        assert!(!done.error, "{}", String::from_utf8_lossy(&done.body));
        let answer: serde_json::Value = serde_json::from_slice(&done.body).unwrap();
        assert_eq!(answer["statusCode"], *status, "{answer}");
        answers.push(format!("{} {}", answer["statusCode"], answer["body"]));
    }
    let delivered: Vec<String> = moto
        .drain(&queue)
        .await
        .into_iter()
        .map(|m| m.body.unwrap())
        .collect();
    assert_eq!(
        delivered.len(),
        2,
        "the two accepted webhooks reached the queue"
    );
    for body in [&created, &resolved] {
        assert!(delivered.contains(body), "byte for byte: {body}");
    }
    assert!(!qase.seen().is_empty(), "the Qase API lookup ran on arm64");
    let metrics = common::emf::documents(&printed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        metrics.len(),
        invocations.len(),
        "one EMF document per request"
    );
    assert!(!printed.contains(SECRET) && !printed.contains(qase_mock::TOKEN));
    println!(
        "arm64 bootstrap under qemu-user: init {:.0} ms (to the first /next); answers:",
        init.as_secs_f64() * 1e3
    );
    for answer in answers {
        println!("  {answer}");
    }
    let enriched = printed
        .lines()
        .find(|l| l.contains("\"_aws\"") && l.contains("\"Enrichment\""))
        .expect("the defect.resolved lookup's metrics");
    println!("its EMF document for defect.resolved:\n{enriched}");
}
