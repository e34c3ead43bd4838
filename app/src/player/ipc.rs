//! The player's control socket, in the spirit of mpv's IPC: JSON lines over
//! a Unix socket. Each line is one request, each answered by one line:
//!
//! ```text
//! {"command": "seek", "seconds": 12.5}               -> {"ok": true, "position": 12.0, ...}
//! {"command": "seek", "seconds": -5, "relative": true}
//! {"command": "stats", "request_id": 7}              -> {"ok": true, "request_id": 7, "fps": 29.9, ...}
//! {"command": "jump"}                                -> {"ok": false, "error": "unknown variant `jump`, ..."}
//! ```
//!
//! Parsing is pure ([`parse_request`]); [`IpcServer`] accepts connections
//! on threads and hands each request with a reply channel to the player.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::controls::SeekTarget;

/// Longest request line accepted (a path and a few fields fit easily).
pub const MAX_LINE: usize = 64 * 1024;
/// How long a connection waits for the player to answer one request.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// What a script asks the player for.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Play,
    Pause,
    /// `accurate`: land on the exact frame instead of the keyframe before it.
    Seek {
        target: SeekTarget,
        accurate: bool,
    },
    /// Position and duration, in seconds.
    Position,
    Stats,
    /// A full-size snapshot of the next frame (through zcthumbnail); the
    /// reply comes once the file is written.
    Snapshot {
        path: Option<PathBuf>,
    },
    /// The compositor's whole output as a PNG (only with the player's own
    /// headless Weston).
    Screenshot {
        path: PathBuf,
    },
    /// Press a key, as if typed into the window (`space`, `Left`, `i`, ...).
    Key {
        name: String,
    },
    Quit,
}

/// The wire form; `command` names the variant.
#[derive(Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
enum Wire {
    Play,
    Pause,
    Seek {
        seconds: f64,
        #[serde(default)]
        relative: bool,
        #[serde(default)]
        accurate: bool,
    },
    Position,
    Duration,
    Stats,
    Snapshot {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    Screenshot {
        path: PathBuf,
    },
    Key {
        key: String,
    },
    Quit,
}

/// Why a request line was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RequestError {
    #[error("a request is one JSON object per line, e.g. {{\"command\": \"pause\"}}: {0}")]
    NotJson(String),
    #[error(
        "the request has no \"command\"; expected one of play, pause, seek, position, duration, \
         stats, snapshot, screenshot, key, quit"
    )]
    NoCommand,
    #[error("{0}")]
    Invalid(String),
}

/// Parse one request line into the request and its `request_id` (any JSON
/// value, echoed in the reply so a script can match answers).
pub fn parse_request(line: &str) -> (Result<Request, RequestError>, Option<Value>) {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(e) => return (Err(RequestError::NotJson(e.to_string())), None),
    };
    let Value::Object(mut object) = value else {
        return (Err(RequestError::NotJson("not an object".to_owned())), None);
    };
    let request_id = object.remove("request_id");
    if !object.contains_key("command") {
        return (Err(RequestError::NoCommand), request_id);
    }
    let request = serde_json::from_value::<Wire>(Value::Object(object))
        .map_err(|e| RequestError::Invalid(e.to_string()))
        .and_then(from_wire);
    (request, request_id)
}

fn from_wire(wire: Wire) -> Result<Request, RequestError> {
    Ok(match wire {
        Wire::Play => Request::Play,
        Wire::Pause => Request::Pause,
        Wire::Seek {
            seconds,
            relative,
            accurate,
        } => {
            if !relative && seconds < 0.0 {
                return Err(RequestError::Invalid(format!(
                    "seek to {seconds} s: an absolute position is 0 or more seconds \
                     (for a step back, add \"relative\": true)"
                )));
            }
            let target = if relative {
                SeekTarget::Relative(seconds)
            } else {
                SeekTarget::Absolute(seconds)
            };
            Request::Seek { target, accurate }
        }
        Wire::Position | Wire::Duration => Request::Position,
        Wire::Stats => Request::Stats,
        Wire::Snapshot { path } => {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(RequestError::Invalid(
                    "snapshot: \"path\" is empty; give a file name ending in .png or .jpg, or leave it out"
                        .to_owned(),
                ));
            }
            Request::Snapshot { path }
        }
        Wire::Screenshot { path } => Request::Screenshot { path },
        Wire::Key { key } => Request::Key { name: key },
        Wire::Quit => Request::Quit,
    })
}

/// A successful reply's fields, or an error message.
pub type Reply = Result<Map<String, Value>, String>;

/// One reply line (without the newline).
pub fn reply_line(reply: &Reply, request_id: Option<&Value>) -> String {
    let mut object = Map::new();
    match reply {
        Ok(fields) => {
            object.insert("ok".into(), Value::Bool(true));
            if let Some(id) = request_id {
                object.insert("request_id".into(), id.clone());
            }
            object.extend(fields.clone());
        }
        Err(message) => {
            object.insert("ok".into(), Value::Bool(false));
            if let Some(id) = request_id {
                object.insert("request_id".into(), id.clone());
            }
            object.insert("error".into(), Value::String(message.clone()));
        }
    }
    Value::Object(object).to_string()
}

/// A request on its way to the player, with where the answer goes.
pub struct Call {
    pub request: Request,
    pub reply: mpsc::Sender<Reply>,
}

/// Why the control socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error(
        "the control socket {0} exists and a program answers on it; pick another --ipc path or stop that program"
    )]
    InUse(PathBuf),
    #[error("cannot create the control socket {path}: {source}")]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Open connections, so shutdown can close them and fd accounting can
/// tell them apart.
type Connections = Arc<Mutex<Vec<(u64, UnixStream)>>>;

/// The listening control socket; closed (and its file removed) on drop.
pub struct IpcServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    connections: Connections,
    acceptor: Option<JoinHandle<()>>,
}

impl IpcServer {
    /// Listen on `path` and hand every request to `deliver` (called on a
    /// connection's thread).
    pub fn start(
        path: &Path,
        deliver: impl Fn(Call) -> bool + Send + Sync + 'static,
    ) -> Result<IpcServer, IpcError> {
        if path.exists() {
            // A stale socket from a crashed run is replaced; a live one is not.
            if UnixStream::connect(path).is_ok() {
                return Err(IpcError::InUse(path.to_owned()));
            }
            let _ = std::fs::remove_file(path);
        }
        let listener = UnixListener::bind(path).map_err(|source| IpcError::Bind {
            path: path.to_owned(),
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| IpcError::Bind {
                path: path.to_owned(),
                source,
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Connections = Arc::default();
        let deliver = Arc::new(deliver);
        let acceptor = {
            let stop = stop.clone();
            let connections = connections.clone();
            std::thread::Builder::new()
                .name("zc-player-ipc".into())
                .spawn(move || accept_loop(listener, &stop, &connections, deliver))
                .map_err(|source| IpcError::Bind {
                    path: path.to_owned(),
                    source,
                })?
        };
        Ok(IpcServer {
            path: path.to_owned(),
            stop,
            connections,
            acceptor: Some(acceptor),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What `/proc/self/fd` shows for the connections open now
    /// (`socket:[inode]`; every clone of a connection's fd shows the same).
    pub fn connection_targets(&self) -> Vec<String> {
        crate::lock(&self.connections)
            .iter()
            .filter_map(|(_, s)| fd_target(s.as_raw_fd()))
            .collect()
    }
}

impl Drop for IpcServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Reading ends; a reply already on its way is still written, then
        // each connection's thread sees the end and closes it.
        for (_, stream) in crate::lock(&self.connections).iter() {
            let _ = stream.shutdown(std::net::Shutdown::Read);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop<F>(
    listener: UnixListener,
    stop: &AtomicBool,
    connections: &Connections,
    deliver: Arc<F>,
) where
    F: Fn(Call) -> bool + Send + Sync + 'static,
{
    let mut handlers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let Ok(kept) = stream.try_clone() else {
                    continue;
                };
                let id = next_id;
                next_id += 1;
                crate::lock(connections).push((id, kept));
                let deliver = deliver.clone();
                let connections = connections.clone();
                let spawned = std::thread::Builder::new()
                    .name("zc-player-ipc-conn".into())
                    .spawn(move || {
                        serve_connection(stream, &*deliver);
                        crate::lock(&connections).retain(|(i, _)| *i != id);
                    });
                if let Ok(handle) = spawned {
                    handlers.push(handle);
                }
                handlers.retain(|h| !h.is_finished());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    drop(listener);
    for handle in handlers {
        let _ = handle.join();
    }
}

fn fd_target(fd: RawFd) -> Option<String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|t| t.to_string_lossy().into_owned())
}

fn serve_connection(stream: UnixStream, deliver: &dyn Fn(Call) -> bool) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        // Bounded: a peer that never sends a newline cannot grow memory.
        let read = match (&mut reader).take(MAX_LINE as u64).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if read >= MAX_LINE && !line.ends_with('\n') {
            let reply: Reply = Err(format!("request line longer than {MAX_LINE} bytes"));
            let _ = writeln!(writer, "{}", reply_line(&reply, None));
            return;
        }
        if line.trim().is_empty() {
            continue;
        }
        let (request, request_id) = parse_request(line.trim());
        let reply = match request {
            Err(e) => Err(e.to_string()),
            Ok(request) => {
                let (tx, rx) = mpsc::channel();
                if !deliver(Call { request, reply: tx }) {
                    Err("the player is shutting down".to_owned())
                } else {
                    rx.recv_timeout(REPLY_TIMEOUT).unwrap_or_else(|_| {
                        Err("the player did not answer (it is shutting down or stuck)".to_owned())
                    })
                }
            }
        };
        if writeln!(writer, "{}", reply_line(&reply, request_id.as_ref())).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(line: &str) -> Result<Request, RequestError> {
        parse_request(line).0
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(parse(r#"{"command":"play"}"#), Ok(Request::Play));
        assert_eq!(parse(r#"{"command":"pause"}"#), Ok(Request::Pause));
        assert_eq!(parse(r#"{"command":"position"}"#), Ok(Request::Position));
        assert_eq!(parse(r#"{"command":"duration"}"#), Ok(Request::Position));
        assert_eq!(parse(r#"{"command":"stats"}"#), Ok(Request::Stats));
        assert_eq!(parse(r#"{"command":"quit"}"#), Ok(Request::Quit));
        assert_eq!(
            parse(r#"{"command":"seek","seconds":12.5}"#),
            Ok(Request::Seek {
                target: SeekTarget::Absolute(12.5),
                accurate: false
            })
        );
        assert_eq!(
            parse(r#"{"command":"seek","seconds":-5,"relative":true,"accurate":true}"#),
            Ok(Request::Seek {
                target: SeekTarget::Relative(-5.0),
                accurate: true
            })
        );
        assert_eq!(
            parse(r#"{"command":"snapshot","path":"/tmp/a.png"}"#),
            Ok(Request::Snapshot {
                path: Some("/tmp/a.png".into())
            })
        );
        assert_eq!(
            parse(r#"{"command":"snapshot"}"#),
            Ok(Request::Snapshot { path: None })
        );
        assert_eq!(
            parse(r#"{"command":"screenshot","path":"out/shot.png"}"#),
            Ok(Request::Screenshot {
                path: "out/shot.png".into()
            })
        );
        assert_eq!(
            parse(r#"{"command":"key","key":"i"}"#),
            Ok(Request::Key { name: "i".into() })
        );
    }

    #[test]
    fn request_id_is_taken_out_and_kept() {
        let (request, id) = parse_request(r#"{"command":"stats","request_id":7}"#);
        assert_eq!(request, Ok(Request::Stats));
        assert_eq!(id, Some(json!(7)));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let message = |line: &str| parse(line).unwrap_err().to_string();
        assert!(message("pause").contains("one JSON object per line"));
        assert!(message("[1,2]").contains("not an object"));
        assert!(message(r#"{"seconds":1}"#).contains("no \"command\""));
        let unknown = message(r#"{"command":"jump"}"#);
        assert!(
            unknown.contains("jump") && unknown.contains("seek"),
            "{unknown}"
        );
        assert!(message(r#"{"command":"seek"}"#).contains("seconds"));
        assert!(message(r#"{"command":"seek","seconds":"ten"}"#).contains("invalid type"));
        assert!(message(r#"{"command":"seek","seconds":-3}"#).contains("\"relative\": true"));
        assert!(message(r#"{"command":"snapshot","path":""}"#).contains("empty"));
        assert!(message(r#"{"command":"screenshot"}"#).contains("path"));
    }

    #[test]
    fn replies_are_one_json_object() {
        let mut fields = Map::new();
        fields.insert("position".into(), json!(1.5));
        let line = reply_line(&Ok(fields), Some(&json!("a")));
        let value: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(
            value,
            json!({"ok": true, "request_id": "a", "position": 1.5})
        );
        let line = reply_line(&Err("no such file".into()), None);
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(value, json!({"ok": false, "error": "no such file"}));
    }

    #[test]
    fn the_server_answers_each_line_and_closes_its_fds() {
        let dir = std::env::temp_dir().join(format!("zc-ipc-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("ipc.sock");
        let fds_before = std::fs::read_dir("/proc/self/fd").expect("fds").count();
        let server = IpcServer::start(&path, |call: Call| {
            let reply = match call.request {
                Request::Position => {
                    let mut m = Map::new();
                    m.insert("position".into(), json!(2.0));
                    Ok(m)
                }
                other => Err(format!("not here: {other:?}")),
            };
            call.reply.send(reply).is_ok()
        })
        .expect("server");
        // A second server on a live socket is refused.
        assert!(matches!(
            IpcServer::start(&path, |_| false),
            Err(IpcError::InUse(_))
        ));
        let mut client = UnixStream::connect(&path).expect("connect");
        client
            .write_all(b"{\"command\":\"position\",\"request_id\":1}\n\nnot json\n{\"command\":\"quit\"}\n")
            .expect("send");
        let mut lines = BufReader::new(client.try_clone().expect("clone")).lines();
        let mut next = || -> Value {
            serde_json::from_str(&lines.next().expect("a reply").expect("read")).expect("JSON")
        };
        assert_eq!(
            next(),
            json!({"ok": true, "request_id": 1, "position": 2.0})
        );
        let not_json = next();
        assert_eq!(not_json["ok"], json!(false));
        assert!(
            not_json["error"]
                .as_str()
                .is_some_and(|e| e.contains("JSON object"))
        );
        assert_eq!(next()["error"], json!("not here: Quit"));
        drop(lines);
        // The in-use probe's connection closes on its own once its EOF is read.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while server.connection_targets().len() != 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let targets = server.connection_targets();
        assert_eq!(targets.len(), 1);
        assert!(targets[0].starts_with("socket:["), "{targets:?}");
        drop(client);
        drop(server);
        assert!(!path.exists(), "the socket file is removed");
        assert_eq!(
            std::fs::read_dir("/proc/self/fd").expect("fds").count(),
            fds_before,
            "every socket is closed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
