//! `make bench`: runs release Lambda binaries exactly as Lambda does, through the Lambda
//! Runtime API, and times them itself; no cargo-lambda in between.
//!
//! A Runtime API emulator on loopback serves `GET /2018-06-01/runtime/invocation/next` and
//! takes `.../response` and `.../error`; it spawns the binary with `AWS_LAMBDA_RUNTIME_API`
//! set. Cold start: fresh processes, init = exec → first `/next`, cold total = exec → first
//! response posted. Warm: many invocations in one process: latency percentiles, CPU per
//! invocation (user + sys from `/proc/<pid>/stat`) and peak RSS (`VmHWM`). SNS is either a
//! stub that answers `Publish` at once (our cost alone) or moto (realism). Every figure is
//! also given as a ratio to a bare `lambda_runtime` echo measured the same way in the same run.
//!
//! Usage: runtime-bench --function PATH --floor PATH --event FILE [--moto PATH]
//!        [--zip LABEL=PATH]... [--quick] [--json OUT]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "local-demo-secret";
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:bench";
const NOTIFICATION_TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:bench-notifications";

// The Runtime API emulator and the HTTP/1.1 helpers the tests use, shared by path.
#[path = "../../../tests/common/http1.rs"]
mod http1;
#[path = "../../../tests/common/runtime_api.rs"]
mod runtime_api;

use runtime_api::{Log, RuntimeApi};

/// An SNS stub: answers every request with a valid `Publish` response at once.
fn start_sns_stub() -> u16 {
    let address = http1::listen(|stream| {
        let (mut reader, mut writer) = http1::split(stream);
        let mut n = 0u64;
        while http1::read_request(&mut reader).is_some() {
            n += 1;
            let body = format!(
                "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
                 <PublishResult><MessageId>00000000-0000-0000-0000-{n:012}</MessageId>\
                 </PublishResult><ResponseMetadata><RequestId>r-{n}</RequestId>\
                 </ResponseMetadata></PublishResponse>"
            );
            let xml = "content-type: text/xml\r\n";
            if !http1::respond(&mut writer, "200 OK", xml, body.as_bytes()) {
                return;
            }
        }
    });
    address.port()
}

/// A Qase API stub: answers every request with the same defect at once; counts them.
fn start_qase_stub() -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = count.clone();
    let address = http1::listen(move |stream| {
        let (mut reader, mut writer) = http1::split(stream);
        while http1::read_request(&mut reader).is_some() {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let body = br#"{"status":true,"result":{"id":1,"title":"Example defect","severity":"critical","status":"open","tags":[{"title":"login","internal_id":1}]}}"#;
            let json = "content-type: application/json\r\n";
            if !http1::respond(&mut writer, "200 OK", json, body) {
                return;
            }
        }
    });
    (format!("http://{address}/v1"), count)
}

/// moto's server on a free port, with the bench topic created; killed on drop.
struct Moto(Child, u16);

impl Moto {
    fn start(path: &Path) -> Self {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(path)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let moto = Self(child, port); // from here on, dropped (killed) even on a panic
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        for arn in [TOPIC_ARN, NOTIFICATION_TOPIC_ARN] {
            moto.create_topic(arn.rsplit(':').next().unwrap());
        }
        moto
    }

    /// `CreateTopic` by hand (moto does not check signatures): the topics the function uses.
    fn create_topic(&self, name: &str) {
        let body = format!("Action=CreateTopic&Name={name}&Version=2010-03-31");
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.1)).unwrap();
        let request = format!(
            "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\n\
             authorization: AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(
            answer.contains(&format!(":{name}<")),
            "moto did not create topic {name}: {answer}"
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(binary: &Path, runtime: &RuntimeApi, sns_port: u16, qase_url: Option<&str>) -> Child {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        // As template.yaml deploys it: one INFO line per request, to stdout (discarded here).
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "ASIABENCHBENCHBENCH0")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "bench/bench/bench/bench/bench/bench/bench0",
        )
        .env("AWS_SESSION_TOKEN", "bench-session-token")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{sns_port}"))
        .env("TOPIC_ARN", TOPIC_ARN)
        // Both publishes on, as template.yaml deploys the function.
        .env("NOTIFICATION_TOPIC_ARN", NOTIFICATION_TOPIC_ARN)
        .env("QASE_WEBHOOK_SECRET", SECRET);
    if let Some(url) = qase_url {
        command
            .env("QASE_API_URL", url)
            .env("QASE_API_TOKEN", "bench-qase-token");
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()))
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// user + sys CPU time of a process so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may contain spaces) start after ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    init_median_ms: f64,
    init_max_ms: f64,
    cold_median_ms: f64,
    cold_max_ms: f64,
    warm_p50_us: f64,
    warm_p99_us: f64,
    cpu_per_invocation_us: f64,
    peak_rss_mb: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// What the issue asks of a figure: a ratio to the floor, or an absolute bound.
#[derive(Clone, Copy)]
enum Target {
    None,
    RatioAtMost(f64),
    AtMost(f64),
}

impl Target {
    /// Whether `value` (the function's; `floor` the bare echo's) meets it, if it has one.
    fn met(self, value: f64, floor: f64) -> Option<bool> {
        match self {
            Self::None => None,
            Self::RatioAtMost(r) => Some(value <= r * floor),
            Self::AtMost(bound) => Some(value <= bound),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("-"),
            Self::RatioAtMost(r) => write!(f, "≤ {r} × floor"),
            Self::AtMost(bound) => write!(f, "≤ {bound}"),
        }
    }
}

fn yes_no(met: Option<bool>) -> &'static str {
    match met {
        None => "-",
        Some(true) => "yes",
        Some(false) => "**no**",
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A binary to measure, with the SNS endpoint it gets and what its answers must contain.
struct Subject<'a> {
    binary: &'a Path,
    /// What every answer must contain.
    expect: &'a [&'a str],
    sns_port: u16,
    /// The Qase API the function enriches defect events from; `None`: enrichment off.
    qase_url: Option<&'a str>,
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
        let child = spawn(self.binary, &runtime, self.sns_port, self.qase_url);
        let log = runtime
            .wait_done(1, Duration::from_secs(30))
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

    /// A process past its first invocation, ready for warm batches.
    fn warm_process(&self, event: &[u8]) -> WarmProcess {
        let (runtime, child, _, _) = self.launch(event);
        let cpu_before = cpu_time(child.id());
        WarmProcess {
            runtime,
            child,
            cpu_before,
            latencies: Vec::new(),
        }
    }
}

/// One warm process and what its batches measured so far.
struct WarmProcess {
    runtime: RuntimeApi,
    child: Child,
    cpu_before: Duration,
    latencies: Vec<f64>,
}

impl WarmProcess {
    fn batch(&mut self, subject: &Subject, event: &[u8], n: usize) {
        self.runtime.queue(std::iter::repeat_n(event.to_vec(), n));
        let log = self
            .runtime
            .wait_done(n, Duration::from_secs(300))
            .expect("a warm batch is answered within 300 s");
        subject.check_answers(&log);
        self.latencies.extend(
            log.sent
                .iter()
                .zip(&log.done)
                .map(|((_, sent), done)| (done.at - *sent).as_secs_f64() * 1e6),
        );
    }

    /// (sorted latencies in µs, CPU time since the first invocation, peak RSS in KiB). Between
    /// batches the process waits in `/next`, using no CPU.
    fn finish(mut self) -> (Vec<f64>, Duration, u64) {
        let cpu = cpu_time(self.child.id()) - self.cpu_before;
        let rss = peak_rss_kib(self.child.id());
        stop(self.child);
        self.latencies.sort_by(f64::total_cmp);
        (self.latencies, cpu, rss)
    }
}

/// Cold starts of every subject taken in turns, then warm batches in turns (10 per
/// subject), so a busy moment on this shared machine hits all of them alike.
fn measure(subjects: &[Subject], event: &[u8], colds: usize, warms: usize) -> Vec<Figures> {
    const ROUNDS: usize = 10;
    let mut inits = vec![Vec::new(); subjects.len()];
    let mut totals = vec![Vec::new(); subjects.len()];
    for _ in 0..colds {
        for (i, subject) in subjects.iter().enumerate() {
            let (init, total) = subject.cold_start(event);
            inits[i].push(init);
            totals[i].push(total);
        }
    }
    let mut warm: Vec<WarmProcess> = subjects.iter().map(|s| s.warm_process(event)).collect();
    for round in 0..ROUNDS {
        let n = warms / ROUNDS + usize::from(round < warms % ROUNDS);
        for (process, subject) in warm.iter_mut().zip(subjects) {
            process.batch(subject, event, n);
        }
    }
    warm.into_iter()
        .zip(inits.iter_mut().zip(totals.iter_mut()))
        .map(|(process, (inits, totals))| {
            let (latencies, cpu, rss) = process.finish();
            inits.sort_by(f64::total_cmp);
            totals.sort_by(f64::total_cmp);
            #[allow(clippy::cast_precision_loss)]
            Figures {
                init_median_ms: percentile(inits, 0.5),
                init_max_ms: *inits.last().unwrap(),
                cold_median_ms: percentile(totals, 0.5),
                cold_max_ms: *totals.last().unwrap(),
                warm_p50_us: percentile(&latencies, 0.5),
                warm_p99_us: percentile(&latencies, 0.99),
                cpu_per_invocation_us: cpu.as_secs_f64() * 1e6 / warms as f64,
                peak_rss_mb: rss as f64 / 1024.0,
            }
        })
        .collect()
}

struct Args {
    function: PathBuf,
    floor: PathBuf,
    event: PathBuf,
    moto: Option<PathBuf>,
    zips: Vec<(String, PathBuf)>,
    quick: bool,
    json: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        function: PathBuf::new(),
        floor: PathBuf::new(),
        event: PathBuf::new(),
        moto: None,
        zips: Vec::new(),
        quick: false,
        json: PathBuf::from("target/bench/results.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--function" => args.function = value().into(),
            "--floor" => args.floor = value().into(),
            "--event" => args.event = value().into(),
            "--moto" => args.moto = Some(value().into()),
            "--json" => args.json = value().into(),
            "--quick" => args.quick = true,
            "--zip" => {
                let v = value();
                let (label, path) = v.split_once('=').expect("--zip LABEL=PATH");
                args.zips.push((label.to_owned(), path.into()));
            }
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn size_mb(path: &Path) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    std::fs::metadata(path)
        .ok()
        .map(|m| m.len() as f64 / 1_048_576.0)
}

fn main() {
    let args = args();
    let event = std::fs::read(&args.event).expect("--event file");
    let (colds, warms) = if args.quick { (3, 100) } else { (20, 2000) };
    let stub = start_sns_stub();

    let (qase_url, qase_lookups) = start_qase_stub();

    // The floor echoes the event; the function must answer 202 with both publishes, every time:
    // without enrichment, and with it (the event is a defect.created the stub knows).
    let published: &[&str] = &["\"statusCode\":202", "notification_id"];
    let subjects = [
        Subject {
            binary: &args.floor,
            expect: &["\"routeKey\""],
            sns_port: stub,
            qase_url: None,
        },
        Subject {
            binary: &args.function,
            expect: published,
            sns_port: stub,
            qase_url: None,
        },
        Subject {
            binary: &args.function,
            expect: published,
            sns_port: stub,
            qase_url: Some(&qase_url),
        },
    ];
    let [floor, ours, enriched] = measure(&subjects, &event, colds, warms)[..] else {
        unreachable!("one figure set per subject")
    };
    let lookups = qase_lookups.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        lookups >= u64::try_from(colds + warms).unwrap(),
        "the enriched function looked every event up: {lookups} lookups"
    );
    let moto = args.moto.as_ref().map(|path| {
        let moto = Moto::start(path);
        let subject = Subject {
            binary: &args.function,
            expect: published,
            sns_port: moto.1,
            qase_url: None,
        };
        measure(&[subject], &event, colds.min(5), warms.min(200))[0]
    });

    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let row = |name, unit, target, figure: fn(&Figures) -> f64| {
        let (f, o, e) = (figure(&floor), figure(&ours), figure(&enriched));
        (name, unit, target, f, o, e, moto.as_ref().map(figure))
    };
    let rows = [
        row(
            "init (exec → first /next), median",
            "ms",
            Target::RatioAtMost(1.5),
            |f| f.init_median_ms,
        ),
        row("init, max", "ms", Target::None, |f| f.init_max_ms),
        row(
            "cold total (exec → first response), median",
            "ms",
            Target::RatioAtMost(2.0),
            |f| f.cold_median_ms,
        ),
        row("cold total, max", "ms", Target::None, |f| f.cold_max_ms),
        row("warm latency p50", "µs", Target::None, |f| f.warm_p50_us),
        row("warm latency p99", "µs", Target::AtMost(2000.0), |f| {
            f.warm_p99_us
        }),
        row(
            "warm CPU per invocation (user+sys)",
            "µs",
            Target::AtMost(150.0),
            |f| f.cpu_per_invocation_us,
        ),
        row("peak RSS (VmHWM)", "MB", Target::AtMost(12.0), |f| {
            f.peak_rss_mb
        }),
    ];
    let moto_note = if moto.is_some() {
        format!(
            "; moto column: {} cold, {} warm",
            colds.min(5),
            warms.min(200)
        )
    } else {
        String::new()
    };
    println!(
        "\n{colds} cold starts, {warms} warm invocations of {} (stub SNS){moto_note}; \
         enrichment from a stub Qase API: {lookups} lookups\n",
        args.event.display()
    );
    println!(
        "| figure | unit | bare floor | qase-defect-fanout | × floor | target | met \
         | + enrichment | × floor | met | with moto SNS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut json_rows = Vec::new();
    for (name, unit, target, f, o, e, m) in rows {
        let m_text = m.map_or("-".to_owned(), |m| format!("{m:.2}"));
        let (met, met_enriched) = (target.met(o, f), target.met(e, f));
        println!(
            "| {name} | {unit} | {f:.2} | {o:.2} | {:.2} | {target} | {} | {e:.2} | {:.2} | {} \
             | {m_text} |",
            ratio(o, f),
            yes_no(met),
            ratio(e, f),
            yes_no(met_enriched)
        );
        json_rows.push(serde_json::json!({
            "figure": name, "unit": unit, "floor": f, "function": o,
            "ratio_to_floor": ratio(o, f), "target": target.to_string(), "met": met,
            "with_enrichment": e, "with_enrichment_ratio_to_floor": ratio(e, f),
            "with_enrichment_met": met_enriched, "with_moto": m,
        }));
    }
    let floor_size = size_mb(&args.floor).unwrap_or(f64::NAN);
    let ours_size = size_mb(&args.function).unwrap_or(f64::NAN);
    println!(
        "| bootstrap size (host build) | MB | {floor_size:.2} | {ours_size:.2} | {:.2} | - | - | - | - | - | - |",
        ratio(ours_size, floor_size)
    );
    let mut zips = Vec::new();
    let zip_target = Target::AtMost(2.5);
    for (label, path) in &args.zips {
        if let Some(size) = size_mb(path) {
            let met = zip_target.met(size, f64::NAN);
            println!(
                "| deploy zip, {label} | MB | - | {size:.2} | - | {zip_target} | {} | - | - | - | - |",
                yes_no(met)
            );
            zips.push(serde_json::json!({
                "label": label, "mb": size, "target": zip_target.to_string(), "met": met,
            }));
        }
    }
    if args.quick {
        println!("\n--quick: too few runs for the targets to mean anything; none is asserted.");
    }
    let json = serde_json::json!({
        "quick": args.quick, "cold_starts": colds, "warm_invocations": warms,
        "rows": json_rows, "bootstrap_mb": {"floor": floor_size, "function": ours_size},
        "zips": zips,
    });
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    println!("\nresults: {}", args.json.display());
}
