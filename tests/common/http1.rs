//! Blocking HTTP/1.1, just enough for the test servers on loopback (the SNS contract oracle,
//! the Lambda Runtime API emulator) and `make bench`'s SNS stub: read one request with a
//! `Content-Length` body, write one response. Keep-alive: call them in a loop.
#![allow(dead_code)] // each user takes what it needs

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

/// Listens on a free loopback port and serves each connection on a thread of its own with
/// `serve`; the threads end with the process. Answers the address listened on.
pub fn listen<F>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) + Send + Sync + 'static,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind loopback");
    let address = listener
        .local_addr()
        .expect("a bound socket has an address");
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let serve = serve.clone();
            std::thread::spawn(move || serve(stream));
        }
    });
    address
}

/// One request as it came.
pub struct Request {
    /// The request line, e.g. `POST /path HTTP/1.1`.
    pub line: String,
    /// The headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl Request {
    /// The path of the request line.
    pub fn path(&self) -> &str {
        self.line.split_whitespace().nth(1).unwrap_or_default()
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request. `None` when the client closed the connection or sent something that is
/// not HTTP/1.1.
pub fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(Some(0), |(_, v)| v.parse().ok())?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        line: line.trim_end().to_owned(),
        headers,
        body,
    })
}

/// Writes one response in a single write (a header and a body written apart meet the
/// client's delayed ACK: 40 ms a request). `headers` are whole lines, each ending in `\r\n`.
/// Answers whether the client is still there.
pub fn respond(stream: &mut impl Write, status: &str, headers: &str, body: &[u8]) -> bool {
    let mut whole = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    whole.extend_from_slice(body);
    stream.write_all(&whole).is_ok()
}

/// One accepted connection: a reader for requests and a writer for answers, without Nagle.
pub fn split(stream: TcpStream) -> (BufReader<TcpStream>, TcpStream) {
    let _ = stream.set_nodelay(true);
    let writer = stream.try_clone().expect("a loopback socket can be cloned");
    (BufReader::new(stream), writer)
}
