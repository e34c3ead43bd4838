//! The listening control socket: a 0600 Unix socket that replaces only a
//! stale socket, serves a bounded number of connections on threads, and
//! never lets a slow or silent client hold up the player's shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Call, MAX_LINE, REPLY_TIMEOUT, Reply, parse_request, reply_line};

/// Connections served at once; one more is told so and closed. Each costs a
/// thread and two fds, which dma-buf allocation may need more.
pub const MAX_CONNECTIONS: usize = 16;
/// A client that does not read its replies for this long is disconnected.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// At shutdown, how long replies already on their way (quit's) may take
/// to be written before every connection is cut.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Why the control socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error(
        "the control socket {0} exists and a program answers on it; pick another --ipc path or stop that program"
    )]
    InUse(PathBuf),
    #[error(
        "{0} exists and is not a socket; zc-player replaces only a stale socket of its own: \
         pick another --ipc path or remove that file yourself"
    )]
    NotASocket(PathBuf),
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
    /// The socket file's (device, inode): removed at the end only if the
    /// path still names it.
    identity: (u64, u64),
    stop: Arc<AtomicBool>,
    connections: Connections,
    acceptor: Option<JoinHandle<()>>,
}

impl IpcServer {
    /// Listen on `path` (mode 0600, whatever the umask) and hand every
    /// request to `deliver` (called on a connection's thread).
    pub fn start(
        path: &Path,
        deliver: impl Fn(Call) -> bool + Send + Sync + 'static,
    ) -> Result<IpcServer, IpcError> {
        let bind_error = |source| IpcError::Bind {
            path: path.to_owned(),
            source,
        };
        remove_stale_socket(path)?;
        let listener = bind_private(path).map_err(bind_error)?;
        let identity = std::fs::symlink_metadata(path)
            .map(|m| (m.dev(), m.ino()))
            .map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Connections = Arc::default();
        let deliver = Arc::new(deliver);
        let acceptor = {
            let stop = stop.clone();
            let connections = connections.clone();
            std::thread::Builder::new()
                .name("zc-player-ipc".into())
                .spawn(move || accept_loop(listener, &stop, &connections, deliver))
        };
        let acceptor = match acceptor {
            Ok(acceptor) => acceptor,
            Err(source) => {
                let _ = std::fs::remove_file(path);
                return Err(bind_error(source));
            }
        };
        Ok(IpcServer {
            path: path.to_owned(),
            identity,
            stop,
            connections,
            acceptor: Some(acceptor),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The socket file's (device, inode), to tell it from a later one.
    pub fn identity(&self) -> (u64, u64) {
        self.identity
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

/// Nothing at `path`, or a socket nobody answers on (left by a crashed
/// run), which is removed. A live socket or any other file is kept.
fn remove_stale_socket(path: &Path) -> Result<(), IpcError> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !metadata.file_type().is_socket() {
        return Err(IpcError::NotASocket(path.to_owned()));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(IpcError::InUse(path.to_owned()));
    }
    std::fs::remove_file(path).map_err(|source| IpcError::Bind {
        path: path.to_owned(),
        source,
    })
}

/// Bind in a fresh private folder beside `path`, make the socket 0600
/// there, then link it into place: nobody can connect before the mode is
/// right, and the link fails instead of replacing a file that appeared
/// meanwhile.
fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Short names: a socket path is at most 107 bytes, and the staged one
    // is only this much longer than `path`.
    let private = crate::files::private_dir(".zc", parent)?;
    let staged = private.path().join("s");
    let listener = UnixListener::bind(&staged)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
    std::fs::hard_link(&staged, path)?;
    // `private` (and the staged name in it) goes; the socket stays bound
    // to the inode `path` now names.
    Ok(listener)
}

impl Drop for IpcServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        drain_then_cut(&self.connections);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let still_ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if still_ours {
            let _ = std::fs::remove_file(&self.path);
        }
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
                handlers.retain(|h| !h.is_finished());
                if crate::lock(connections).len() >= MAX_CONNECTIONS {
                    refuse(stream);
                    continue;
                }
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
                let Ok(kept) = stream.try_clone() else {
                    continue;
                };
                let id = next_id;
                next_id += 1;
                crate::lock(connections).push((id, kept));
                let deliver = deliver.clone();
                let served = connections.clone();
                let spawned = std::thread::Builder::new()
                    .name("zc-player-ipc-conn".into())
                    .spawn(move || {
                        serve_connection(stream, &*deliver);
                        crate::lock(&served).retain(|(i, _)| *i != id);
                    });
                match spawned {
                    Ok(handle) => handlers.push(handle),
                    Err(_) => crate::lock(connections).retain(|(i, _)| *i != id),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    drop(listener);
    // A connection accepted after shutdown's sweeps would keep its handler
    // reading forever: end it too before joining. Drained, not cut at
    // once: cutting here raced the reply (quit's) shutdown waits for.
    drain_then_cut(connections);
    for handle in handlers {
        let _ = handle.join();
    }
}

/// End every connection: reading ends, a reply already on its way
/// (quit's) is still written within [`DRAIN_TIMEOUT`] while each
/// connection's thread sees the end and closes it, then whatever is left
/// is cut (a client that does not read may have a writer blocked).
fn drain_then_cut(connections: &Mutex<Vec<(u64, UnixStream)>>) {
    for (_, stream) in crate::lock(connections).iter() {
        let _ = stream.shutdown(std::net::Shutdown::Read);
    }
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while !crate::lock(connections).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for (_, stream) in crate::lock(connections).iter() {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

/// One connection too many: say so (without waiting on the client) and close.
fn refuse(mut stream: UnixStream) {
    let reply: Reply = Err(format!(
        "too many control connections (at most {MAX_CONNECTIONS} at once); close one and retry"
    ));
    let _ = stream.set_nonblocking(true);
    let _ = writeln!(stream, "{}", reply_line(&reply, None));
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
        // A client that stopped reading gets WRITE_TIMEOUT, then is dropped.
        if writeln!(writer, "{}", reply_line(&reply, request_id.as_ref())).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Request;
    use super::*;
    use serde_json::{Map, Value, json};

    fn test_dir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("zc-ipc-{name}-"))
            .tempdir()
            .expect("temp dir")
    }

    /// Fds are counted process-wide: tests that open sockets take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        crate::lock(&SERIAL)
    }

    /// Open sockets: other tests of this binary open files meanwhile, but
    /// only these tests open sockets.
    fn open_fd_count() -> usize {
        std::fs::read_dir("/proc/self/fd")
            .expect("fds")
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    }

    /// A server whose player answers every request at once with `{}`.
    fn echo_server(path: &Path) -> IpcServer {
        IpcServer::start(path, |call: Call| call.reply.send(Ok(Map::new())).is_ok())
            .expect("server")
    }

    #[test]
    fn the_server_answers_each_line_and_closes_its_fds() {
        let _serial = serial();
        let dir = test_dir("answers");
        let path = dir.path().join("ipc.sock");
        let fds_before = open_fd_count();
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
        assert_eq!(open_fd_count(), fds_before, "every socket is closed");
    }

    #[test]
    fn the_socket_is_0600_whatever_the_umask() {
        let _serial = serial();
        let dir = test_dir("mode");
        let path = dir.path().join("ipc.sock");
        // SAFETY: umask only swaps the process's file mode mask; other tests
        // running meanwhile create their files more permissively at worst.
        let old = unsafe { libc::umask(0o002) };
        let server = echo_server(&path);
        // SAFETY: as above, restoring the mask.
        unsafe { libc::umask(old) };
        let mode = std::fs::symlink_metadata(&path).expect("socket").mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        drop(server);
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            0,
            "no staging folder or socket left"
        );
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_kept() {
        let _serial = serial();
        let dir = test_dir("regular");
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, b"precious").expect("write");
        let error = IpcServer::start(&path, |_| false).err().expect("refused");
        assert!(matches!(error, IpcError::NotASocket(_)), "{error}");
        assert!(error.to_string().contains("not a socket"), "{error}");
        assert_eq!(std::fs::read(&path).expect("kept"), b"precious");

        // A symlink is not followed, not replaced.
        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        let error = IpcServer::start(&link, |_| false).err().expect("refused");
        assert!(matches!(error, IpcError::NotASocket(_)), "{error}");
        assert!(std::fs::symlink_metadata(&link).expect("kept").is_symlink());
        assert_eq!(std::fs::read(&path).expect("kept"), b"precious");
    }

    #[test]
    fn a_stale_socket_is_replaced() {
        let _serial = serial();
        let dir = test_dir("stale");
        let path = dir.path().join("ipc.sock");
        drop(UnixListener::bind(&path).expect("bind"));
        assert!(path.exists(), "a socket file nobody listens on");
        let server = echo_server(&path);
        let mut client = UnixStream::connect(&path).expect("connect");
        writeln!(client, r#"{{"command":"stats"}}"#).expect("send");
        let mut reply = String::new();
        BufReader::new(client).read_line(&mut reply).expect("reply");
        assert!(reply.contains(r#""ok":true"#), "{reply}");
        drop(server);
    }

    #[test]
    fn a_reply_on_its_way_at_shutdown_is_still_written() {
        let _serial = serial();
        let dir = test_dir("drain");
        let path = dir.path().join("ipc.sock");
        // Like quit's: the answer comes after the player began to close
        // the server.
        let (delivered, was_delivered) = mpsc::channel();
        let server = IpcServer::start(&path, move |call: Call| {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                let _ = call.reply.send(Ok(Map::new()));
            });
            delivered.send(()).is_ok()
        })
        .expect("server");
        let mut client = UnixStream::connect(&path).expect("connect");
        client.write_all(b"{\"command\":\"quit\"}\n").expect("send");
        was_delivered
            .recv_timeout(Duration::from_secs(10))
            .expect("the request reached the player");
        drop(server);
        let mut reply = String::new();
        BufReader::new(client).read_line(&mut reply).expect("read");
        assert_eq!(
            serde_json::from_str::<Value>(&reply).ok(),
            Some(json!({"ok": true})),
            "{reply:?}"
        );
    }

    #[test]
    fn a_client_that_never_reads_does_not_hold_up_shutdown() {
        let _serial = serial();
        let dir = test_dir("unread");
        let path = dir.path().join("ipc.sock");
        let fds_before = open_fd_count();
        let server = echo_server(&path);
        let mut flood = UnixStream::connect(&path).expect("connect");
        flood
            .set_write_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        // 5,000 requests whose replies nobody reads: the server's writes
        // block once the socket buffers are full.
        let request = format!("{}\n", r#"{"command":"stats"}"#).repeat(5000);
        let _ = flood.write_all(request.as_bytes());
        let started = Instant::now();
        drop(server);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "shutdown took {:?}",
            started.elapsed()
        );
        drop(flood);
        assert_eq!(open_fd_count(), fds_before, "every socket is closed");
    }

    #[test]
    fn connections_beyond_the_limit_are_refused_and_the_rest_served() {
        let _serial = serial();
        let dir = test_dir("many");
        let path = dir.path().join("ipc.sock");
        let server = echo_server(&path);
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            idle.push(UnixStream::connect(&path).expect("connect"));
        }
        // Wait until the server holds them all.
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.connection_targets().len() < MAX_CONNECTIONS && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(server.connection_targets().len(), MAX_CONNECTIONS);
        let mut refused = 0;
        for _ in 0..200 - MAX_CONNECTIONS {
            let extra = UnixStream::connect(&path).expect("connect");
            extra
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut lines = BufReader::new(extra).lines();
            let reply: Value =
                serde_json::from_str(&lines.next().expect("a reply").expect("read")).expect("JSON");
            assert_eq!(reply["ok"], json!(false));
            assert!(
                reply["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("too many control connections")),
                "{reply}"
            );
            assert!(lines.next().is_none(), "then closed");
            refused += 1;
        }
        assert_eq!(refused, 200 - MAX_CONNECTIONS);
        // The connections already open are still served.
        let first = &mut idle[0];
        writeln!(first, r#"{{"command":"stats","request_id":9}}"#).expect("send");
        let mut reply = String::new();
        BufReader::new(first.try_clone().expect("clone"))
            .read_line(&mut reply)
            .expect("reply");
        assert_eq!(
            serde_json::from_str::<Value>(&reply).expect("JSON"),
            json!({"ok": true, "request_id": 9})
        );
        let _ = Request::Quit;
        drop(idle);
        drop(server);
    }
}
