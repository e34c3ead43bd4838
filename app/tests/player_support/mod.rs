//! What the zc-player tests share: running the player to its end or
//! driving it on a headless Weston of its own through the control socket,
//! and the clips it plays. Each test file uses part of it.

// Test code: a failed expectation is the test failing. Not every test
// binary uses every helper.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PLAYER: &str = env!("CARGO_BIN_EXE_zc-player");

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zc-player-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Run the player to its end, killing it after `timeout` (a hang fails).
pub fn run_player(args: &[&str], timeout: Duration) -> Output {
    run_player_with(args, &[], timeout)
}

/// [`run_player`] with these environment variables set.
pub fn run_player_with(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Output {
    let mut child = Command::new(PLAYER)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start zc-player");
    let deadline = Instant::now() + timeout;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "zc-player {args:?} hung for {timeout:?}; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

pub fn assert_bad_input(output: &Output, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit status 2 for bad input; stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic:\n{stderr}");
    for text in expected {
        assert!(stderr.contains(text), "{text:?} missing in:\n{stderr}");
    }
}

pub fn make_clip(dir: &Path) -> PathBuf {
    make_clip_as(dir, "I420")
}

/// An H.264 clip of `format` (x264 picks the profile: High 4:4:4 for
/// Y444_10LE, which is also what x264enc takes first from videotestsrc).
pub fn make_clip_as(dir: &Path, format: &str) -> PathBuf {
    let path = dir.join(format!("clip-{format}.mkv"));
    encode(&format!(
        "videotestsrc num-buffers=60 pattern=smpte ! video/x-raw,format={format},width=320,height=240,framerate=30/1 \
         ! x264enc speed-preset=veryfast key-int-max=15 ! h264parse ! matroskamux ! filesink location={}",
        path.display()
    ));
    path
}

/// Run the pipeline `description` to its end.
pub fn encode(description: &str) {
    use gst::prelude::*;
    gst::init().expect("gst init");
    let pipeline = gst::parse::launch(description).expect("encoder pipeline");
    pipeline.set_state(gst::State::Playing).expect("encode");
    let bus = pipeline.bus().expect("bus");
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the encoder finished");
    assert!(
        matches!(message.view(), gst::MessageView::Eos(_)),
        "encoding failed: {message:?}"
    );
    pipeline.set_state(gst::State::Null).expect("null");
}

/// The player's process and its control connection.
pub struct Control {
    pub child: Child,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Control {
    pub fn request(&mut self, line: &str) -> serde_json::Value {
        writeln!(self.writer, "{line}").expect("send");
        let mut reply = String::new();
        self.reader.read_line(&mut reply).expect("reply");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{reply:?}: {e}"))
    }
}

/// A player on a headless Weston of its own, its temporary files in
/// `dir/tmp` and its stderr in `dir/stderr`, controlled through `dir/ipc.sock`.
pub struct Running {
    pub control: Control,
    pub socket: PathBuf,
    pub tmp: PathBuf,
    stderr: PathBuf,
}

impl Running {
    pub fn start(dir: &Path, clip: &Path) -> Running {
        Running::start_with(dir, clip, &[])
    }

    /// [`Running::start`] with more options.
    pub fn start_with(dir: &Path, clip: &Path, options: &[&str]) -> Running {
        let socket = dir.join("ipc.sock");
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp");
        let stderr = dir.join("stderr");
        let child = Command::new(PLAYER)
            .args([
                clip.to_str().expect("utf-8"),
                "--headless",
                "--keep-open",
                "--ipc",
                socket.to_str().expect("utf-8"),
            ])
            .args(options)
            .env_remove("WAYLAND_DISPLAY")
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start zc-player");
        let deadline = Instant::now() + Duration::from_secs(120);
        let stream = loop {
            match UnixStream::connect(&socket) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("the control socket never appeared: {e}"),
            }
        };
        Running {
            control: Control {
                child,
                writer: stream.try_clone().expect("clone"),
                reader: BufReader::new(stream),
            },
            socket,
            tmp,
            stderr,
        }
    }

    /// Quit through the socket: every fd closed, exit status 0.
    pub fn quit_cleanly(&mut self) {
        let quit = self.control.request(r#"{"command":"quit"}"#);
        assert_eq!(quit["fds-left-open"], 0, "{quit}");
        let status = self.control.child.wait().expect("wait");
        assert_eq!(status.code(), Some(0), "{}", self.stderr());
    }

    /// A snapshot into `path` through the socket: answered ok, a PNG
    /// there, whose IHDR size (width, height) is returned.
    pub fn snapshot_size(&mut self, path: &Path) -> (u32, u32) {
        let reply = self.control.request(&format!(
            r#"{{"command":"snapshot","path":"{}"}}"#,
            path.display()
        ));
        assert_eq!(reply["ok"], true, "{reply}");
        let png = std::fs::read(path).expect("the snapshot file");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let side = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4"));
        (side(16), side(20))
    }

    pub fn wait_for_frames(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let stats = self.control.request(r#"{"command":"stats"}"#);
            assert_eq!(stats["ok"], true, "{stats}");
            if stats["frames-rendered"].as_u64().unwrap_or(0) > 0 {
                return;
            }
            assert!(Instant::now() < deadline, "no frame was shown: {stats}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The pid of the Weston it started, from its stderr.
    pub fn weston_pid(&self) -> i32 {
        let stderr = self.stderr();
        stderr
            .split("(pid ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("no Weston pid in:\n{stderr}"))
    }

    /// Once it exited: its Weston (`weston`, the pid) ends, and its
    /// control socket and private folder go, within 20 s (the watcher's
    /// work where the player could not clean up).
    pub fn assert_nothing_left(&self, weston: i32, after: &str) {
        let gone = || {
            !alive(weston)
                && !self.socket.exists()
                && std::fs::read_dir(&self.tmp).is_ok_and(|mut d| d.next().is_none())
        };
        assert!(
            eventually(Duration::from_secs(20), gone),
            "{after}: Weston alive {}, socket left {}, tmp {:?}",
            alive(weston),
            self.socket.exists(),
            std::fs::read_dir(&self.tmp).map(|d| d.count())
        );
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.control.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.control.child.kill();
                panic!(
                    "zc-player did not end within {timeout:?}:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    /// A failed test must not leave the player behind.
    fn drop(&mut self) {
        let _ = self.control.child.kill();
        let _ = self.control.child.wait();
    }
}

/// Whether `pid` is a live process (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Wait up to `timeout` for `done`.
pub fn eventually(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}
