//! Blocking HTTP/1.1, just enough for the test servers on loopback (the SNS contract oracle,
//! the Lambda Runtime API emulator) and `make bench`'s SNS stub: read one request with a
//! `Content-Length` body, write one response. Keep-alive: call them in a loop.
#![allow(dead_code)] // each user takes what it needs

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// Reads one request: its request line (`POST /path HTTP/1.1`) and its body. `None` when the
/// client closed the connection or sent something that is not HTTP/1.1.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((line.trim_end().to_owned(), body))
}

/// Writes one response in a single write (a header and a body written apart meet the
/// client's delayed ACK: 40 ms a request). `headers` are whole lines, each ending in `\r\n`.
/// Answers whether the client is still there.
pub fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]) -> bool {
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
