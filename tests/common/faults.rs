//! A fault-injecting HTTP proxy between the SNS client and the emulator, on loopback only.
//!
//! One request per connection (answers carry `Connection: close`), so a fault switched on
//! applies to the very next attempt, kept-alive connections included. It counts the requests
//! that reached it, and keeps their bodies, so tests can check the client's retry budget and
//! which attempts one message took.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward to the emulator.
    None,
    /// Stop listening: connections are refused.
    Refuse,
    /// Read the request, then reset the connection.
    Reset,
    /// Answer with an SNS error: the HTTP status and the error code, as SNS's Query protocol
    /// sends them (`<ErrorResponse><Error><Code>…`).
    SnsError { status: u16, code: &'static str },
    /// Wait this long, then forward.
    Slow(Duration),
    /// Read the request and never answer.
    Hang,
}

impl Fault {
    /// 500 `InternalError`, as SNS answers when it fails.
    pub const SERVER_ERROR: Self = Self::SnsError {
        status: 500,
        code: "InternalError",
    };
    /// 400 `Throttling`, as SNS answers past its rate limit.
    pub const THROTTLE: Self = Self::SnsError {
        status: 400,
        code: "Throttling",
    };
}

pub struct FaultProxy {
    pub endpoint: String,
    fault: watch::Sender<Fault>,
    requests: Arc<AtomicUsize>,
    bodies: Bodies,
    task: JoinHandle<()>,
}

/// The requests that reached the proxy, in the order they did.
type Bodies = Arc<Mutex<Vec<Seen>>>;

/// One request that reached the proxy: which attempt of its operation the SDK said it was
/// (its `amz-sdk-request: attempt=N; max=M` header), and its body.
#[derive(Debug, Clone)]
pub struct Seen {
    pub attempt: Option<u32>,
    pub body: Vec<u8>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (`http://host:port`).
    /// Must be called inside a Tokio runtime.
    pub fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("upstream is http://ip:port");
        let (listener, port) = bind_outside_ephemeral_range();
        let (fault, mut changes) = watch::channel(Fault::None);
        let requests = Arc::new(AtomicUsize::new(0));
        let bodies = Bodies::default();
        let (counted, kept) = (requests.clone(), bodies.clone());
        let task = tokio::spawn(async move {
            let mut listener = Some(listener);
            loop {
                let current = *changes.borrow_and_update();
                if current == Fault::Refuse {
                    listener = None; // nothing listens: the kernel refuses connections
                    if changes.changed().await.is_err() {
                        return;
                    }
                    continue;
                }
                let active = match &listener {
                    Some(l) => l,
                    None => listener.insert(rebind(port).await),
                };
                tokio::select! {
                    accepted = active.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        let fault = *changes.borrow();
                        let seen = (counted.clone(), kept.clone());
                        tokio::spawn(serve(client, upstream, fault, seen));
                    }
                    update = changes.changed() => if update.is_err() { return },
                }
            }
        });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            fault,
            requests,
            bodies,
            task,
        }
    }

    /// Applies `fault` to every request from now on.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Clears any fault and waits (at most 5 s) until the proxy accepts connections again:
    /// after `Refuse` it must listen anew, which its task does concurrently.
    pub async fn clear(&self) {
        self.set(Fault::None);
        let address = self.endpoint.trim_start_matches("http://").to_owned();
        for _ in 0..500 {
            if TcpStream::connect(&address).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the proxy did not listen again within 5 s");
    }

    /// Requests that reached the proxy so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Every request that reached the proxy so far (each attempt of the client).
    pub fn seen(&self) -> Vec<Seen> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(64)
}

/// While refusing, the port is free; below Linux's ephemeral range (32768 and up) no
/// outgoing connection of another test can take it meanwhile.
fn bind_outside_ephemeral_range() -> (TcpListener, u16) {
    use std::hash::{BuildHasher, RandomState};
    let seed = RandomState::new().hash_one(std::process::id());
    for i in 0..2000 {
        let port = 20_000 + u16::try_from((seed + i) % 12_000).unwrap();
        if let Ok(listener) = bind(port) {
            return (listener, port);
        }
    }
    panic!("no free loopback port between 20000 and 32000");
}

async fn rebind(port: u16) -> TcpListener {
    for _ in 0..100 {
        if let Ok(listener) = bind(port) {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the proxy could not listen on port {port} again");
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body).
async fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap_or(0));
            if data.len() >= end + 4 + length {
                return Some(data);
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    }
}

fn sns_error(status: u16, code: &str) -> Vec<u8> {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>{kind}</Type>\
         <Code>{code}</Code><Message>injected by the test proxy</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 {status} Error\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    (requests, bodies): (Arc<AtomicUsize>, Bodies),
) {
    let Some(request) = read_request(&mut client).await else {
        return;
    };
    let end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
    let attempt = (head.lines())
        .find_map(|l| l.strip_prefix("amz-sdk-request:"))
        .and_then(|v| v.trim().strip_prefix("attempt="))
        .and_then(|v| v.split(';').next()?.trim().parse().ok());
    let body = request[end + 4..].to_vec();
    bodies.lock().unwrap().push(Seen { attempt, body });
    requests.fetch_add(1, Ordering::SeqCst);
    match fault {
        Fault::None | Fault::Refuse => forward(client, upstream, request).await,
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            forward(client, upstream, request).await;
        }
        Fault::Reset => {
            // A zero linger makes the close a reset; with zero it does not block.
            #[allow(deprecated)]
            let _ = client.set_linger(Some(Duration::ZERO));
            drop(client);
        }
        Fault::SnsError { status, code } => {
            let _ = client.write_all(&sns_error(status, code)).await;
        }
        Fault::Hang => {
            // Hold the connection open until the client gives up on it.
            let mut sink = [0u8; 1024];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
        }
    }
}

/// Sends `request` upstream on a fresh connection and relays the whole answer, marked
/// `Connection: close`.
async fn forward(mut client: TcpStream, upstream: SocketAddr, request: Vec<u8>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let mut rewritten = request[..end].to_vec();
    rewritten.extend_from_slice(b"\r\nConnection: close");
    rewritten.extend_from_slice(&request[end..]);
    if server.write_all(&rewritten).await.is_err() {
        return;
    }
    let mut answer = Vec::new();
    if server.read_to_end(&mut answer).await.is_err() {
        return;
    }
    if let Some(line_end) = answer.windows(2).position(|w| w == b"\r\n") {
        answer.splice(
            line_end + 2..line_end + 2,
            b"Connection: close\r\n".iter().copied(),
        );
    }
    let _ = client.write_all(&answer).await;
}
