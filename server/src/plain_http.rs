//! Plain HTTP/1.1 keep-alive connections to one `http://` server, for senders whose own
//! cost shares the machine with what they talk to: a request is one write of bytes
//! formatted here, an answer one or two reads parsed by `httparse`, with no pool layers
//! and no task hand-offs. `server bench` sends through them (docs/PERFORMANCE.md, "The
//! bench's own connections"), and so do webhook deliveries to `http://` receivers
//! (docs/EVENTS.md); TLS and everything else go through reqwest.
use std::io;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Headers an answer may carry; more is an error. The wallet sends about ten, but a
/// webhook receiver behind proxies and a CDN can send several dozen, and an answer this
/// cannot read would be a delivery that fails until the event is dead.
const MAX_HEADERS: usize = 128;
/// An answer's headers must fit in this much.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// An answer as read off the connection.
pub struct RawAnswer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    /// `false` when the answer's body was not framed by `Content-Length` (chunked, or
    /// until the connection closes): `body` is then empty, the status and headers are
    /// right, and the connection is closed rather than read further.
    pub complete: bool,
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
        Some(Connections::to(authority))
    }

    /// Connections to `host:port`.
    pub fn to(authority: &str) -> Connections {
        Connections {
            authority: authority.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends one request and reads its answer, on an idle connection or a new one. A
    /// connection that failed is dropped. An idle one the server had closed meanwhile
    /// (its keep-alive ran out) fails at once; the request then goes once more on a new
    /// connection, as HTTP clients do. Any other error is the caller's (it may not know
    /// whether the request arrived).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<RawAnswer> {
        let idle = self.idle.lock().expect("connections lock").pop();
        let reused = idle.is_some();
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
        let (answer, keep) = match connection.exchange(&request).await {
            Err(error) if reused && closed_by_peer(&error) => {
                connection = Connection::open(&self.authority).await?;
                connection.exchange(&request).await?
            }
            result => result?,
        };
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
        let (status, headers, head_len, framed, keep) = loop {
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
        let Some(body_len) = framed else {
            return Ok((
                RawAnswer {
                    status,
                    headers,
                    body: Vec::new(),
                    complete: false,
                },
                false,
            ));
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
                complete: true,
            },
            keep,
        ))
    }
}

/// `(status, headers, head length, body length, keep-alive)` once the head is complete;
/// no body length when `Content-Length` does not frame the body.
type Head = (u16, reqwest::header::HeaderMap, usize, Option<usize>, bool);

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
    let mut chunked = false;
    let mut keep = response.version == Some(1);
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            body_len = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
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
    // 1xx, 204 and 304 have no body whatever their headers say.
    let body_len = match status {
        100..=199 | 204 | 304 => Some(0),
        _ if chunked => None,
        _ => body_len,
    };
    Ok(Some((status, headers, head_len, body_len, keep)))
}

/// What writing to or reading from a connection the peer has closed gives.
fn closed_by_peer(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
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
        assert_eq!((status, body_len, keep), (503, Some(2), true));
        assert_eq!(&whole[head_len..], b"{}");
        assert_eq!(headers.get("retry-after").unwrap(), "1");
        let closing = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        assert!(!parse_head(closing).unwrap().unwrap().4);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse_head(chunked).unwrap().unwrap().3, None);
        let no_content = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse_head(no_content).unwrap().unwrap().3, Some(0));
    }

    /// A server that answers one request per connection, then closes it without saying
    /// so (a keep-alive that ran out), and counts the connections it took.
    async fn one_request_per_connection() -> (String, std::sync::Arc<std::sync::atomic::AtomicU32>)
    {
        use std::sync::atomic::{AtomicU32, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let accepted = std::sync::Arc::new(AtomicU32::new(0));
        let counted = std::sync::Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                let mut buffer = vec![0u8; 4096];
                let mut read = 0;
                while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    read += stream.read(&mut buffer[read..]).await.unwrap();
                }
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await
                    .unwrap();
            }
        });
        (authority, accepted)
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced_and_the_request_sent_again() {
        let (authority, accepted) = one_request_per_connection().await;
        let connections = Connections::to(&authority);
        for _ in 0..3 {
            let answer = connections.send("GET", "/", &[], &[]).await.unwrap();
            assert_eq!((answer.status, answer.body.as_slice()), (200, &b"ok"[..]));
            // Let the server's close reach this side before the connection is reused.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn only_plain_http_without_a_path_gets_connections() {
        assert!(Connections::for_url("http://127.0.0.1:8080").is_some());
        assert!(Connections::for_url("http://127.0.0.1:8080/").is_some());
        assert!(Connections::for_url("https://wallet.example").is_none());
        assert!(Connections::for_url("http://proxy/wallet").is_none());
    }
}
