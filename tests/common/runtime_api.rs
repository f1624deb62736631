//! A Lambda Runtime API emulator on loopback: what Lambda gives a `provided.al2023`
//! bootstrap. It serves `GET /2018-06-01/runtime/invocation/next` from a queue of events,
//! takes `.../invocation/<id>/response` and `.../error`, and logs when each happened.
//!
//! Used by `tests/binary.rs` (the release bootstrap answering the hostile corpus) and by
//! `make bench` (which includes this file), so both drive the binary exactly as Lambda does.
#![allow(dead_code)] // each user takes what it needs

use std::collections::VecDeque;
use std::net::TcpStream;
use std::process::Child;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::http1;

/// The function name Lambda gives the bootstrap here: not the one the function falls back on
/// without `AWS_LAMBDA_FUNCTION_NAME`, so a test can tell it was read.
pub const FUNCTION_NAME: &str = "fanout-under-test";

/// One answered invocation.
#[derive(Debug, Clone)]
pub struct Done {
    /// The request id the emulator gave the invocation.
    pub request_id: String,
    /// When the answer arrived.
    pub at: Instant,
    /// Whether it came to `/error` (the runtime's invocation error) rather than `/response`.
    pub error: bool,
    /// What the function answered.
    pub body: Vec<u8>,
}

/// What the emulator saw, in time order.
#[derive(Debug, Default)]
pub struct Log {
    /// When each `/next` request arrived.
    pub next_at: Vec<Instant>,
    /// Each invocation handed out: its request id and when.
    pub sent: Vec<(String, Instant)>,
    /// Each answer, in arrival order.
    pub done: Vec<Done>,
}

/// The events still to hand out, the log, and the count of invocations handed out so far,
/// behind one lock; the condvar signals both ways.
type Shared = (Mutex<(VecDeque<Vec<u8>>, Log, u64)>, Condvar);

/// The emulator: a queue of events and the log.
pub struct RuntimeApi {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    state: Arc<Shared>,
}

impl RuntimeApi {
    /// Listens on a free loopback port; its threads end with the process.
    pub fn start() -> Self {
        let state: Arc<Shared> = Arc::default();
        let shared = state.clone();
        let port = http1::listen(move |stream| serve(stream, &shared)).port();
        Self { port, state }
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the function.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The environment Lambda gives a `provided.al2023` bootstrap (and nothing else), for
    /// `Command::env_clear().envs(..)`; `lambda_runtime` refuses to start without the
    /// function's name, memory size and version.
    pub fn lambda_environment(&self) -> [(&'static str, String); 8] {
        [
            ("PATH", "/usr/bin:/bin".into()),
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME.into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Replaces the queue with `events` and forgets what was logged. Wakes a `/next` that is
    /// already waiting: the function may ask before the events exist.
    pub fn queue(&self, events: impl IntoIterator<Item = Vec<u8>>) {
        let (lock, cvar) = &*self.state;
        let mut guard = lock.lock().unwrap();
        guard.0 = events.into_iter().collect();
        guard.1 = Log::default();
        cvar.notify_all();
    }

    /// Waits until `n` invocations are answered (or `timeout`), then answers the log. `None`
    /// on timeout, with what was seen by then left in place.
    pub fn wait_done(&self, n: usize, timeout: Duration) -> Option<Log> {
        self.wait_for(timeout, |log| log.done.len() >= n)
    }

    /// Waits until `ready` holds for the log (or `timeout`), then takes the log. `None` on
    /// timeout, with what was seen by then left in place.
    fn wait_for(&self, timeout: Duration, ready: impl Fn(&Log) -> bool) -> Option<Log> {
        let (lock, cvar) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut guard = lock.lock().unwrap();
        while !ready(&guard.1) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            guard = cvar.wait_timeout(guard, left).unwrap().0;
        }
        Some(std::mem::take(&mut guard.1))
    }
}

impl RuntimeApi {
    /// As [`Self::wait_done`], and then until the function is back in `/next` (idle: what it
    /// does after posting its last answer belongs to that answer). `make bench` measures CPU
    /// between such points.
    pub fn wait_done_idle(&self, n: usize, timeout: Duration) -> Option<Log> {
        self.wait_for(timeout, |log| {
            log.done.len() >= n
                && log
                    .done
                    .last()
                    .is_none_or(|d| log.next_at.last().is_some_and(|next| *next >= d.at))
        })
    }

    /// As [`Self::wait_done`], but stops as soon as `child` (the bootstrap) is gone.
    pub fn wait_answered_by(&self, child: &mut Child, n: usize, timeout: Duration) -> Option<Log> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(log) = self.wait_done(n, Duration::from_millis(200)) {
                return Some(log);
            }
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                return None;
            }
        }
    }
}

fn serve(stream: TcpStream, state: &Shared) {
    let (mut reader, mut writer) = http1::split(stream);
    while let Some(request) = http1::read_request(&mut reader) {
        let now = Instant::now();
        let path = request.path().to_owned();
        let body = request.body;
        let (lock, cvar) = state;
        if path.ends_with("/invocation/next") {
            let mut guard = lock.lock().unwrap();
            guard.1.next_at.push(now);
            cvar.notify_all(); // for wait_done_idle
            let event = loop {
                if let Some(event) = guard.0.pop_front() {
                    break event;
                }
                guard = cvar.wait(guard).unwrap();
            };
            guard.2 += 1;
            let request_id = format!("req-{}", guard.2);
            guard.1.sent.push((request_id.clone(), Instant::now()));
            drop(guard);
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 10_000;
            let headers = format!(
                "content-type: application/json\r\nlambda-runtime-aws-request-id: {request_id}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:qase\r\n\
                 lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n"
            );
            if !http1::respond(&mut writer, "200 OK", &headers, &event) {
                return;
            }
        } else {
            // .../invocation/<id>/response, .../invocation/<id>/error, .../init/error
            let mut parts = path.rsplit('/');
            let kind = parts.next().unwrap_or_default();
            let request_id = parts.next().unwrap_or_default().to_owned();
            lock.lock().unwrap().1.done.push(Done {
                request_id,
                at: now,
                error: kind == "error",
                body,
            });
            cvar.notify_all();
            if !http1::respond(&mut writer, "202 Accepted", "", b"{\"status\":\"OK\"}") {
                return;
            }
        }
    }
}
