//! A small QMP client: one Unix socket, JSON lines, replies matched by id.
//!
//! QMP (docs/interop/qmp-spec.rst): the server greets with `{"QMP": {"version": …,
//! "capabilities": […]}}`; the client must send `qmp_capabilities` before anything else; then
//! `{"execute", "arguments", "id"}` gets `{"return", "id"}` or `{"error": {"class", "desc"},
//! "id"}`, and events (`{"event", "data", "timestamp"}`) may arrive between replies. We keep our
//! own client over serde_json because the `qapi` crate's generated types do not decode QEMU 7.2's
//! answers. Every read has a deadline: a QEMU that hangs, or a monitor another client holds
//! (QEMU serves one QMP client per socket and does not even greet the second), is an error that
//! says so, never a hang.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod wire;

use wire::truncate;
pub use wire::{parse_event, parse_greeting, Event, Greeting, QmpError, Version};

/// Events kept for `take_events`; older ones are dropped, so a long run that never reads them
/// does not grow without bound.
const MAX_EVENTS: usize = 1024;

/// How long a reply may take unless the caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Something that runs QMP commands: a direct session, or libvirt's `virsh qemu-monitor-command`.
pub trait Execute {
    /// Runs one command and returns its `return` value.
    fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError>;
}

impl Execute for Qmp {
    fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        Qmp::execute(self, command, arguments)
    }
}

/// A connected, negotiated QMP session.
pub struct Qmp {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    partial: Vec<u8>,
    next_id: u64,
    events: VecDeque<Event>,
    greeting: Greeting,
    timeout: Duration,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qmp")
            .field("path", &self.path)
            .field("version", &self.greeting.version)
            .finish_non_exhaustive()
    }
}

/// True for Xen's libxl QMP socket, which must never be held (see `QmpError::XenLibxlSocket`).
pub fn is_xen_libxl_socket(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("qmp-libxl-"))
}

impl Qmp {
    /// Connects, reads the greeting and negotiates capabilities, each step within `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        if is_xen_libxl_socket(path) {
            return Err(QmpError::XenLibxlSocket {
                path: path.to_path_buf(),
            });
        }
        let stream = UnixStream::connect(path).map_err(|source| QmpError::Connect {
            path: path.to_path_buf(),
            hint: connect_hint(&source),
            source,
        })?;
        let mut qmp = Qmp {
            path: path.to_path_buf(),
            reader: BufReader::new(stream),
            partial: Vec::new(),
            next_id: 1,
            events: VecDeque::new(),
            greeting: Greeting {
                version: Version {
                    major: 0,
                    minor: 0,
                    micro: 0,
                },
                package: String::new(),
                capabilities: Vec::new(),
            },
            timeout,
        };
        let deadline = Instant::now() + timeout;
        let first = qmp.read_message(deadline, "the QMP greeting")?;
        qmp.greeting = parse_greeting(&first).map_err(|detail| QmpError::NotQmp {
            path: path.to_path_buf(),
            detail,
        })?;
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    pub fn greeting(&self) -> &Greeting {
        &self.greeting
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying socket, e.g. to ask the kernel for the peer's PID.
    pub fn stream(&self) -> &UnixStream {
        self.reader.get_ref()
    }

    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Runs one command and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({ "execute": command, "id": id });
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        let mut line = request.to_string();
        line.push('\n');
        let path = self.path.clone();
        self.reader
            .get_mut()
            .write_all(line.as_bytes())
            .map_err(|source| match source.kind() {
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => QmpError::Gone {
                    path: path.clone(),
                    what: format!("the reply to `{command}`"),
                },
                _ => QmpError::Io {
                    path: path.clone(),
                    source,
                },
            })?;
        let deadline = Instant::now() + self.timeout;
        let what = format!("`{command}`");
        loop {
            let message = self.read_message(deadline, &what)?;
            if let Some(event) = parse_event(&message) {
                if self.events.len() == MAX_EVENTS {
                    self.events.pop_front();
                }
                self.events.push_back(event);
                continue;
            }
            if message.get("id").and_then(Value::as_u64) != Some(id) {
                // A reply to a command we gave up on after a timeout: drop it.
                continue;
            }
            if let Some(ret) = message.get("return") {
                return Ok(ret.clone());
            }
            if let Some(error) = message.get("error") {
                return Err(QmpError::Command {
                    command: command.to_string(),
                    class: error["class"].as_str().unwrap_or("unknown").to_string(),
                    desc: error["desc"]
                        .as_str()
                        .unwrap_or("(no description)")
                        .to_string(),
                });
            }
            return Err(QmpError::Protocol {
                path: self.path.clone(),
                detail: format!("reply without return or error: {message}"),
            });
        }
    }

    /// Waits up to `timeout` for the next event (events already received come first).
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<Event>, QmpError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_message(deadline, "an event") {
                Ok(message) => {
                    if let Some(event) = parse_event(&message) {
                        return Ok(Some(event));
                    }
                }
                Err(QmpError::Timeout { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Events received so far, oldest first, without waiting.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    /// Reads one JSON message, keeping a partial line across a timeout.
    fn read_message(&mut self, deadline: Instant, what: &str) -> Result<Value, QmpError> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(self.timeout_error(what));
            }
            let remaining = deadline - now;
            self.reader
                .get_ref()
                .set_read_timeout(Some(remaining.max(Duration::from_millis(1))))
                .map_err(|source| QmpError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            // One buffer's worth at a time (not `read_until`, which would keep reading for as
            // long as a peer sends bytes without a newline): the deadline and the line limit
            // are checked between reads.
            match self.read_some() {
                Ok(0) => {
                    return Err(QmpError::Gone {
                        path: self.path.clone(),
                        what: what.to_string(),
                    })
                }
                Ok(_) if self.partial.len() > crate::limits::MAX_QMP_LINE => {
                    return Err(QmpError::LineTooLong {
                        path: self.path.clone(),
                        source: crate::limits::LimitError::QmpLineTooLong {
                            max: crate::limits::MAX_QMP_LINE,
                        },
                    })
                }
                Ok(_) if !self.partial.ends_with(b"\n") => continue,
                Ok(_) => {
                    let line = std::mem::take(&mut self.partial);
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim();
                    if text.is_empty() {
                        continue;
                    }
                    return serde_json::from_str(text).map_err(|e| QmpError::NotQmp {
                        path: self.path.clone(),
                        detail: format!("not JSON ({e}): {}", truncate(text, 120)),
                    });
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(self.timeout_error(what))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(QmpError::Gone {
                        path: self.path.clone(),
                        what: what.to_string(),
                    })
                }
                Err(source) => {
                    return Err(QmpError::Io {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
    }

    /// Moves what the socket has (up to the end of the first line in it) into `partial`;
    /// 0 means the peer closed the connection (a partial line then is lost with it).
    fn read_some(&mut self) -> io::Result<usize> {
        let available = self.reader.fill_buf()?;
        if available.is_empty() {
            return Ok(0);
        }
        let take = match available.iter().position(|&b| b == b'\n') {
            Some(newline) => newline + 1,
            None => available.len(),
        };
        self.partial.extend_from_slice(&available[..take]);
        self.reader.consume(take);
        Ok(take)
    }

    fn timeout_error(&self, what: &str) -> QmpError {
        // A peer that sent bytes but no whole line in the time is not a hung QEMU.
        if what.contains("greeting") && !self.partial.is_empty() {
            return QmpError::NotQmp {
                path: self.path.clone(),
                detail: format!(
                    "it sent {} bytes but no complete line within {:.1} s",
                    self.partial.len(),
                    self.timeout.as_secs_f64()
                ),
            };
        }
        let hint = if what.contains("greeting") {
            "another client probably holds this monitor (QEMU serves one QMP client per \
             socket; under libvirt use the domain name instead)"
        } else {
            "QEMU is stopped (SIGSTOP), hung or badly overloaded"
        };
        QmpError::Timeout {
            path: self.path.clone(),
            what: what.to_string(),
            secs: self.timeout.as_secs_f64(),
            hint,
        }
    }
}

fn connect_hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::NotFound => {
            "check the path given to QEMU's -qmp unix:PATH,server=on,wait=off (is QEMU running?)"
        }
        io::ErrorKind::PermissionDenied => "run as root or as the user QEMU runs as",
        io::ErrorKind::ConnectionRefused => {
            "nothing listens there: QEMU has exited and left its socket file behind"
        }
        _ => "is this QEMU's QMP socket?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::thread;

    /// A fake server: sends `script` lines after reading one line each (the first unprompted).
    fn serve(lines: Vec<&'static str>, greet: bool) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&path).unwrap();
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut w = stream.try_clone().unwrap();
            let mut r = BufReader::new(stream);
            let mut lines = lines.into_iter();
            if greet {
                if let Some(l) = lines.next() {
                    w.write_all(l.as_bytes()).unwrap();
                    w.write_all(b"\r\n").unwrap();
                }
            }
            for l in lines {
                let mut buf = String::new();
                if r.read_line(&mut buf).unwrap_or(0) == 0 {
                    return;
                }
                w.write_all(l.as_bytes()).unwrap();
                w.write_all(b"\r\n").unwrap();
            }
            // Keep the connection open a little so the client sees silence, not EOF.
            thread::sleep(Duration::from_millis(600));
        });
        (dir, path)
    }

    const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b2"}, "capabilities": ["oob"]}}"#;

    #[test]
    fn parses_greeting_events_and_matches_ids() {
        let (_dir, path) = serve(
            vec![
                GREETING,
                r#"{"return": {}, "id": 1}"#,
                r#"{"timestamp": {"seconds": 1700000000, "microseconds": 500000}, "event": "STOP"}
{"return": {"status": "paused", "running": false}, "id": 2}"#,
            ],
            true,
        );
        let mut qmp = Qmp::connect(&path, Duration::from_secs(2)).unwrap();
        assert_eq!(qmp.greeting().version.to_string(), "7.2.22");
        assert!(qmp.greeting().version.at_least(7, 2));
        assert!(!qmp.greeting().version.at_least(8, 2));
        let status = qmp.execute("query-status", None).unwrap();
        assert_eq!(status["status"], "paused");
        let events = qmp.take_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name, "STOP");
        assert!((events[0].timestamp - 1_700_000_000.5).abs() < 1e-6);
    }

    #[test]
    fn error_carries_desc_and_class() {
        let (_dir, path) = serve(
            vec![
                GREETING,
                r#"{"return": {}, "id": 1}"#,
                r#"{"id": 2, "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}"#,
            ],
            true,
        );
        let mut qmp = Qmp::connect(&path, Duration::from_secs(2)).unwrap();
        let err = qmp.execute("nope", None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("The command nope has not been found"),
            "{text}"
        );
        assert!(text.contains("CommandNotFound"), "{text}");
    }

    #[test]
    fn silent_server_times_out_with_a_hint() {
        let (_dir, path) = serve(vec![], false);
        let started = Instant::now();
        let err = Qmp::connect(&path, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, QmpError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("another client"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// A peer that sends bytes without a newline, as fast as it can, until we hang up.
    fn flood(pause: Duration) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flood.sock");
        let listener = UnixListener::bind(&path).unwrap();
        thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let chunk = vec![b'x'; 64 * 1024];
                while stream.write_all(&chunk).is_ok() {
                    thread::sleep(pause);
                }
            }
        });
        (dir, path)
    }

    #[test]
    fn a_peer_without_newlines_hits_the_line_limit() {
        let (_dir, path) = flood(Duration::ZERO);
        let started = Instant::now();
        let err = Qmp::connect(&path, Duration::from_secs(30)).unwrap_err();
        assert!(matches!(err, QmpError::LineTooLong { .. }), "{err}");
        assert!(err.to_string().contains("max_qmp_line"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn a_slow_peer_without_newlines_hits_the_greeting_timeout() {
        // 64 KiB every 20 ms never reaches the line limit in 0.5 s, and every read returns
        // data, so only a deadline checked between reads ends it.
        let (_dir, path) = flood(Duration::from_millis(20));
        let started = Instant::now();
        let err = Qmp::connect(&path, Duration::from_millis(500)).unwrap_err();
        assert!(matches!(err, QmpError::NotQmp { .. }), "{err}");
        assert!(
            err.to_string().contains("no complete line within 0.5 s"),
            "{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn non_qmp_server_is_named() {
        let (_dir, path) = serve(vec!["SSH-2.0-OpenSSH_9.2"], true);
        let err = Qmp::connect(&path, Duration::from_secs(2)).unwrap_err();
        assert!(matches!(err, QmpError::NotQmp { .. }), "{err}");
    }

    #[test]
    fn missing_socket_and_libxl_socket_are_refused_clearly() {
        let err = Qmp::connect(Path::new("/nonexistent/qmp.sock"), DEFAULT_TIMEOUT).unwrap_err();
        assert!(err.to_string().contains("is QEMU running?"), "{err}");
        let err = Qmp::connect(Path::new("/var/run/xen/qmp-libxl-3"), DEFAULT_TIMEOUT).unwrap_err();
        assert!(matches!(err, QmpError::XenLibxlSocket { .. }), "{err}");
        assert!(err.to_string().contains("qmp-libxenstat"));
        assert!(!is_xen_libxl_socket(Path::new(
            "/var/run/xen/qmp-libxenstat-3"
        )));
    }
}
