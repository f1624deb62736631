//! Runs a subject (a release Lambda binary) through the Runtime API emulator: cold starts in
//! fresh processes, then warm blocks in one process, CPU per invocation from each thread's
//! run-time counter.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::runtime_api::{Log, RuntimeApi};
use crate::sns_stub::Counts;
use crate::{CHAT_TOPIC_ARN, NOTIFICATION_TOPIC_ARN, SECRET, TOPIC_ARN};

/// Where a subject publishes: an SNS endpoint, the CA file it must trust (TLS), and the
/// stub's counts (moto has none).
pub struct Sns {
    pub url: String,
    pub ca_file: Option<PathBuf>,
    pub counts: Option<Arc<Counts>>,
}

/// A binary to measure, configured as one column of the table.
pub struct Subject<'a> {
    pub binary: &'a Path,
    /// What every answer must contain.
    pub expect: &'a [&'a str],
    pub sns: Sns,
    /// Whether `NOTIFICATION_TOPIC_ARN` is set (a second publish per webhook).
    pub notifications: bool,
    /// Whether `CHAT_TOPIC_ARN` is set (a third publish per webhook).
    pub chat: bool,
    /// The Qase API the function enriches defect events from; `None`: enrichment off.
    pub qase_url: Option<&'a str>,
}

/// What one subject measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub init_median_ms: f64,
    pub init_max_ms: f64,
    pub cold_median_ms: f64,
    pub cold_max_ms: f64,
    pub warm_p50_us: f64,
    pub warm_p99_us: f64,
    /// CPU per warm invocation, median over the blocks.
    pub cpu_us: f64,
    /// The same, lowest and highest block.
    pub cpu_min_us: f64,
    pub cpu_max_us: f64,
    /// CPU per invocation of each block, µs, in block order: block `i` of every subject ran
    /// at about the same time, so ratios are best taken block by block.
    pub cpu_blocks: Vec<f64>,
    pub peak_rss_mb: f64,
}

impl Figures {
    /// The median over blocks of this subject's CPU per webhook over `other`'s in the same
    /// block: background load on this shared machine hits both sides of each ratio alike.
    pub fn cpu_ratio_to(&self, other: &Figures) -> f64 {
        let mut ratios: Vec<f64> = self
            .cpu_blocks
            .iter()
            .zip(&other.cpu_blocks)
            .map(|(a, b)| a / b)
            .collect();
        ratios.sort_by(f64::total_cmp);
        percentile(&ratios, 0.5)
    }
}

fn spawn(subject: &Subject, runtime: &RuntimeApi) -> Child {
    let mut command = Command::new(subject.binary);
    // A clean environment: what Lambda gives a bootstrap, and the function's configuration.
    command
        .env_clear()
        // With AWS_LAMBDA_LOG_LEVEL=INFO, as template.yaml deploys it: one INFO line per
        // request, to stdout (discarded here).
        .envs(runtime.lambda_environment())
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "ASIABENCHBENCHBENCH0")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "bench/bench/bench/bench/bench/bench/bench0",
        )
        .env("AWS_SESSION_TOKEN", "bench-session-token")
        .env("AWS_ENDPOINT_URL", &subject.sns.url)
        .env("TOPIC_ARN", TOPIC_ARN)
        .env("QASE_WEBHOOK_SECRET", SECRET);
    if subject.notifications {
        command.env("NOTIFICATION_TOPIC_ARN", NOTIFICATION_TOPIC_ARN);
    }
    if subject.chat {
        command.env("CHAT_TOPIC_ARN", CHAT_TOPIC_ARN);
    }
    if let Some(ca) = &subject.sns.ca_file {
        command.env("AWS_CA_BUNDLE", ca);
    }
    if let Some(url) = subject.qase_url {
        command
            .env("QASE_API_URL", url)
            .env("QASE_API_TOKEN", "bench-qase-token");
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", subject.binary.display()))
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Each thread's time on a CPU so far, in ns: the first field of
/// `/proc/<pid>/task/<tid>/schedstat` (the scheduler's own accounting, not 10 ms ticks).
fn thread_cpu_ns(pid: u32) -> HashMap<u32, u64> {
    let mut threads = HashMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let Ok(tid) = task.file_name().to_string_lossy().parse() else {
            continue;
        };
        // A thread may end between the listing and the read.
        if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat"))
            && let Some(ns) = stat.split_whitespace().next().and_then(|f| f.parse().ok())
        {
            threads.insert(tid, ns);
        }
    }
    threads
}

/// CPU used between two snapshots: every thread seen in `after`, less what it had in
/// `before` (zero for a thread started in between). A thread that ended in between is lost
/// with what it used since `before`; the subjects start none after their first invocation.
fn cpu_between(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        // saturating: a thread id reused in between must not wrap.
        .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

impl Subject<'_> {
    fn check_answers(&self, log: &Log) {
        for done in &log.done {
            let body = String::from_utf8_lossy(&done.body);
            assert!(
                !done.error && self.expect.iter().all(|e| body.contains(e)),
                "{}: unexpected answer {body}",
                self.binary.display()
            );
        }
    }

    /// A fresh emulator and a fresh process, through its first invocation, whose answer is
    /// checked: (emulator, process, when it was exec'd, what the emulator saw). A fresh
    /// emulator for every process: a killed process's `/next` may still be waiting in the
    /// old one, and must not take the next process's event.
    fn launch(&self, event: &[u8]) -> (RuntimeApi, Child, Instant, Log) {
        let runtime = RuntimeApi::start();
        runtime.queue([event.to_vec()]);
        let started = Instant::now();
        let child = spawn(self, &runtime);
        let log = runtime
            .wait_done_idle(1, Duration::from_secs(30))
            .expect("the first invocation is answered within 30 s");
        self.check_answers(&log);
        (runtime, child, started, log)
    }

    /// One fresh process, one invocation: (init, cold total) in ms.
    fn cold_start(&self, event: &[u8]) -> (f64, f64) {
        let (_runtime, child, started, log) = self.launch(event);
        stop(child);
        (ms(log.next_at[0] - started), ms(log.done[0].at - started))
    }

    /// Publishes the stub saw from this subject since the last call, checked against what
    /// `invocations` webhooks must have made.
    fn check_published(&self, invocations: usize) {
        let Some(counts) = &self.sns.counts else {
            return;
        };
        let published = counts.take();
        let n = u64::try_from(invocations).unwrap();
        let expected = (
            n,
            if self.notifications { n } else { 0 },
            if self.chat { n } else { 0 },
        );
        assert_eq!(
            published,
            expected,
            "{}: publishes (events, notifications, chat) the SNS stub counted",
            self.binary.display()
        );
    }
}

/// One warm process and what its blocks measured so far.
struct WarmProcess {
    runtime: RuntimeApi,
    child: Child,
    latencies: Vec<f64>,
    /// CPU per invocation of each block, µs.
    cpu_blocks: Vec<f64>,
}

impl WarmProcess {
    /// A process past its first invocation, idle in `/next`.
    fn start(subject: &Subject, event: &[u8]) -> Self {
        let (runtime, child, _, _) = subject.launch(event);
        Self {
            runtime,
            child,
            latencies: Vec::new(),
            cpu_blocks: Vec::new(),
        }
    }

    fn block(&mut self, subject: &Subject, event: &[u8], n: usize) {
        let before = thread_cpu_ns(self.child.id());
        self.runtime.queue(std::iter::repeat_n(event.to_vec(), n));
        let log = self
            .runtime
            .wait_done_idle(n, Duration::from_secs(300))
            .expect("a warm block is answered within 300 s");
        let after = thread_cpu_ns(self.child.id());
        assert!(
            !after.is_empty(),
            "no /proc/<pid>/task/*/schedstat: this kernel has no scheduler statistics"
        );
        let cpu = cpu_between(&before, &after);
        assert!(
            cpu > 0,
            "{n} invocations took no CPU time: the counters are not running"
        );
        subject.check_answers(&log);
        #[allow(clippy::cast_precision_loss)]
        self.cpu_blocks.push(cpu as f64 / 1e3 / n as f64);
        self.latencies.extend(
            log.sent
                .iter()
                .zip(&log.done)
                .map(|((_, sent), done)| (done.at - *sent).as_secs_f64() * 1e6),
        );
    }
}

/// Cold starts of every subject taken in turns, then warm blocks in turns, so a busy moment
/// on this shared machine hits all of them alike. `warms` invocations in `blocks` blocks.
pub fn measure(
    subjects: &[Subject],
    event: &[u8],
    colds: usize,
    warms: usize,
    blocks: usize,
) -> Vec<Figures> {
    let mut inits = vec![Vec::new(); subjects.len()];
    let mut totals = vec![Vec::new(); subjects.len()];
    for _ in 0..colds {
        for (i, subject) in subjects.iter().enumerate() {
            let (init, total) = subject.cold_start(event);
            inits[i].push(init);
            totals[i].push(total);
        }
    }
    let mut warm: Vec<WarmProcess> = subjects
        .iter()
        .map(|s| WarmProcess::start(s, event))
        .collect();
    for block in 0..blocks {
        let n = warms / blocks + usize::from(block < warms % blocks);
        for (process, subject) in warm.iter_mut().zip(subjects) {
            process.block(subject, event, n);
        }
    }
    warm.into_iter()
        .zip(subjects)
        .zip(inits.iter_mut().zip(totals.iter_mut()))
        .map(|((mut process, subject), (inits, totals))| {
            let rss = peak_rss_kib(process.child.id());
            stop(process.child);
            subject.check_published(colds + 1 + warms);
            let cpu_blocks = process.cpu_blocks.clone();
            for v in [
                &mut *inits,
                &mut *totals,
                &mut process.latencies,
                &mut process.cpu_blocks,
            ] {
                v.sort_by(f64::total_cmp);
            }
            #[allow(clippy::cast_precision_loss)]
            Figures {
                init_median_ms: percentile(inits, 0.5),
                init_max_ms: *inits.last().unwrap(),
                cold_median_ms: percentile(totals, 0.5),
                cold_max_ms: *totals.last().unwrap(),
                warm_p50_us: percentile(&process.latencies, 0.5),
                warm_p99_us: percentile(&process.latencies, 0.99),
                cpu_us: percentile(&process.cpu_blocks, 0.5),
                cpu_min_us: process.cpu_blocks[0],
                cpu_max_us: *process.cpu_blocks.last().unwrap(),
                cpu_blocks,
                peak_rss_mb: rss as f64 / 1024.0,
            }
        })
        .collect()
}
