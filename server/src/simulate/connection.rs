//! Plain HTTP/1.1 keep-alive connections to one `http://` server, for a load generator
//! whose own cost must stay small beside the server it measures: a request is one write
//! of bytes formatted here, an answer one or two reads parsed by `httparse`, with no pool
//! layers, no task hand-offs and no header maps beyond the answer's. `server bench` sends
//! through them (docs/PERFORMANCE.md, "The bench's own connections"); everything else
//! keeps reqwest, which also speaks TLS.
use std::io;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Headers an answer may carry; more is an error (the wallet sends about ten).
const MAX_HEADERS: usize = 32;
/// An answer's headers must fit in this much.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// An answer as read off the connection.
pub struct RawAnswer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// Idle connections to one server, each used by one request at a time.
pub struct Connections {
    /// `host:port`, as connected to and sent in `Host`.
    authority: String,
    idle: Mutex<Vec<Connection>>,
}

struct Connection {
    stream: TcpStream,
    /// What was read and not yet used.
    buffer: Vec<u8>,
}

impl Connections {
    /// Connections to `base_url` when it is `http://host:port` without a path; `None`
    /// otherwise (TLS, or a wallet behind a path prefix: reqwest's job).
    pub fn for_url(base_url: &str) -> Option<Connections> {
        let authority = base_url.strip_prefix("http://")?.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return None;
        }
        Some(Connections {
            authority: authority.to_owned(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one request and reads its answer, on an idle connection or a new one. A
    /// connection that failed is dropped; the error is the caller's (it may not know
    /// whether the request arrived).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<RawAnswer> {
        let idle = self.idle.lock().expect("connections lock").pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => Connection::open(&self.authority).await?,
        };
        let mut request = Vec::with_capacity(256 + body.len());
        request.extend_from_slice(method.as_bytes());
        request.push(b' ');
        request.extend_from_slice(path.as_bytes());
        request.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        request.extend_from_slice(self.authority.as_bytes());
        request.extend_from_slice(b"\r\nContent-Length: ");
        request.extend_from_slice(body.len().to_string().as_bytes());
        for (name, value) in headers {
            request.extend_from_slice(b"\r\n");
            request.extend_from_slice(name.as_bytes());
            request.extend_from_slice(b": ");
            request.extend_from_slice(value.as_bytes());
        }
        request.extend_from_slice(b"\r\n\r\n");
        request.extend_from_slice(body);
        let (answer, keep) = connection.exchange(&request).await?;
        if keep {
            self.idle.lock().expect("connections lock").push(connection);
        }
        Ok(answer)
    }
}

impl Connection {
    async fn open(authority: &str) -> io::Result<Connection> {
        let stream = TcpStream::connect(authority).await?;
        // One request in flight: waiting to fill a segment only adds latency.
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// Writes `request`, reads one answer; whether the connection may be used again.
    async fn exchange(&mut self, request: &[u8]) -> io::Result<(RawAnswer, bool)> {
        self.stream.write_all(request).await?;
        self.buffer.clear();
        let (status, headers, head_len, body_len, keep) = loop {
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if let Some(head) = parse_head(&self.buffer)? {
                break head;
            }
            if self.buffer.len() > MAX_HEAD_BYTES {
                return Err(invalid("an answer's headers too long"));
            }
        };
        while self.buffer.len() < head_len + body_len {
            self.buffer.reserve(head_len + body_len - self.buffer.len());
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        if self.buffer.len() > head_len + body_len {
            return Err(invalid("bytes after the answer, with no request in flight"));
        }
        let body = self.buffer[head_len..].to_vec();
        Ok((
            RawAnswer {
                status,
                headers,
                body,
            },
            keep,
        ))
    }
}

/// `(status, headers, head length, body length, keep-alive)` once the head is complete.
type Head = (u16, reqwest::header::HeaderMap, usize, usize, bool);

fn parse_head(buffer: &[u8]) -> io::Result<Option<Head>> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let head_len = match response.parse(buffer) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(invalid(&format!("an answer that is not HTTP: {error}"))),
    };
    let status = response.code.unwrap_or_default();
    let mut headers = reqwest::header::HeaderMap::with_capacity(response.headers.len());
    let mut body_len = None;
    let mut keep = response.version == Some(1);
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            body_len = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("a chunked answer (the wallet sends lengths)"));
        } else if header.name.eq_ignore_ascii_case("connection") {
            keep &= !header.value.eq_ignore_ascii_case(b"close");
        }
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(header.name.as_bytes()),
            reqwest::header::HeaderValue::from_bytes(header.value),
        ) {
            headers.append(name, value);
        }
    }
    let body_len = body_len.ok_or_else(|| invalid("an answer without Content-Length"))?;
    Ok(Some((status, headers, head_len, body_len, keep)))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_read_once_complete_with_its_length_and_headers() {
        let partial = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
        assert!(parse_head(partial).unwrap().is_none());
        let whole =
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\nRetry-After: 1\r\n\r\n{}";
        let (status, headers, head_len, body_len, keep) = parse_head(whole).unwrap().unwrap();
        assert_eq!((status, body_len, keep), (503, 2, true));
        assert_eq!(&whole[head_len..], b"{}");
        assert_eq!(headers.get("retry-after").unwrap(), "1");
        let closing = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        assert!(!parse_head(closing).unwrap().unwrap().4);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(parse_head(chunked).is_err());
    }

    #[test]
    fn only_plain_http_without_a_path_gets_connections() {
        assert!(Connections::for_url("http://127.0.0.1:8080").is_some());
        assert!(Connections::for_url("http://127.0.0.1:8080/").is_some());
        assert!(Connections::for_url("https://wallet.example").is_none());
        assert!(Connections::for_url("http://proxy/wallet").is_none());
    }
}
