//! zc-player's command line natively: bad input ends with one clear message
//! and exit status 2 (no panic, no hang), and a short clip plays on a
//! headless Weston of its own, driven through the control socket, closing
//! every fd it opened. The dma-buf path itself is tested in the VM
//! (tests/tests/player.rs).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PLAYER: &str = env!("CARGO_BIN_EXE_zc-player");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zc-player-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Run the player to its end, killing it after `timeout` (a hang fails).
fn run_player(args: &[&str], timeout: Duration) -> Output {
    let mut child = Command::new(PLAYER)
        .args(args)
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

fn assert_bad_input(output: &Output, expected: &[&str]) {
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

#[test]
fn a_missing_file_is_refused_before_any_compositor_is_started() {
    let started = Instant::now();
    let output = run_player(&["/nonexistent/clip.mp4"], Duration::from_secs(30));
    assert_bad_input(
        &output,
        &[
            "zc-player: cannot play /nonexistent/clip.mp4: no such file",
            "file:///",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one message:\n{stderr}");
    assert!(
        !stderr.contains("Weston"),
        "no compositor for a missing file"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_folder_is_refused() {
    let dir = temp_dir("folder");
    let output = run_player(&[dir.to_str().expect("utf-8")], Duration::from_secs(30));
    assert_bad_input(&output, &["is a folder"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_options_are_usage_errors() {
    let output = run_player(&["clip.mp4", "--path", "fast"], Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fast") && stderr.contains("dmabuf"),
        "{stderr}"
    );
    let output = run_player(&["clip.mp4", "--start", "-3"], Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_has_examples_and_the_keys() {
    let output = run_player(&["--help"], Duration::from_secs(30));
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for text in [
        "Examples:",
        "--headless",
        "--ipc",
        "space pause",
        "Exit status",
    ] {
        assert!(help.contains(text), "{text:?} missing in --help");
    }
}

#[test]
fn a_file_that_is_not_video_ends_with_status_2() {
    let dir = temp_dir("garbage");
    let garbage = dir.join("notes.mkv");
    std::fs::write(&garbage, b"this is text, not a Matroska file\n".repeat(100)).expect("write");
    let output = run_player(
        &[garbage.to_str().expect("utf-8"), "--headless"],
        Duration::from_secs(120),
    );
    assert_bad_input(&output, &["cannot play", "notes.mkv"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_uri_that_fails_ends_with_status_2() {
    // Nothing listens on port 9 of the loopback address: connection refused.
    let output = run_player(
        &["http://127.0.0.1:9/clip.mkv", "--headless"],
        Duration::from_secs(120),
    );
    assert_bad_input(&output, &["cannot play http://127.0.0.1:9/clip.mkv"]);
}

fn make_clip(dir: &Path) -> PathBuf {
    gst::init().expect("gst init");
    let path = dir.join("clip.mkv");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=60 pattern=smpte ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
         ! x264enc speed-preset=veryfast key-int-max=15 ! h264parse ! matroskamux ! filesink location={}",
        path.display()
    ))
    .expect("encoder pipeline");
    use gst::prelude::*;
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
    path
}

struct Control {
    child: Child,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Control {
    fn request(&mut self, line: &str) -> serde_json::Value {
        writeln!(self.writer, "{line}").expect("send");
        let mut reply = String::new();
        self.reader.read_line(&mut reply).expect("reply");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{reply:?}: {e}"))
    }
}

#[test]
fn a_clip_plays_headless_and_quit_closes_every_fd() {
    let dir = temp_dir("play");
    let clip = make_clip(&dir);
    let socket = dir.join("ipc.sock");
    let child = Command::new(PLAYER)
        .args([
            clip.to_str().expect("utf-8"),
            "--headless",
            "--keep-open",
            "--ipc",
            socket.to_str().expect("utf-8"),
        ])
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start zc-player");
    let deadline = Instant::now() + Duration::from_secs(120);
    let stream = loop {
        match UnixStream::connect(&socket) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("the control socket never appeared: {e}"),
        }
    };
    let mut control = Control {
        child,
        writer: stream.try_clone().expect("clone"),
        reader: BufReader::new(stream),
    };
    // Wait for frames to reach the sink.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stats = control.request(r#"{"command":"stats"}"#);
        assert_eq!(stats["ok"], true, "{stats}");
        if stats["frames-rendered"].as_u64().unwrap_or(0) > 0 {
            assert_eq!(stats["decoder"], "avdec_h264", "{stats}");
            assert_eq!(
                stats["video"].as_str().map(|v| v.contains("320x240")),
                Some(true)
            );
            break;
        }
        assert!(Instant::now() < deadline, "no frame was shown: {stats}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let bad = control.request(r#"{"command":"seek"}"#);
    assert_eq!(bad["ok"], false);
    assert!(
        bad["error"].as_str().is_some_and(|e| e.contains("seconds")),
        "{bad}"
    );
    let snapshot = dir.join("snap.png");
    let reply = control.request(&format!(
        r#"{{"command":"snapshot","path":"{}"}}"#,
        snapshot.display()
    ));
    assert_eq!(reply["ok"], true, "{reply}");
    let png = std::fs::read(&snapshot).expect("the snapshot file");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The IHDR says the frame's own size.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().expect("4")), 320);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().expect("4")), 240);

    let quit = control.request(r#"{"command":"quit"}"#);
    assert_eq!(quit["ok"], true, "{quit}");
    assert_eq!(quit["fds-left-open"], 0, "{quit}");
    let status = control.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert!(!socket.exists(), "the socket file is removed at exit");
    let _ = std::fs::remove_dir_all(&dir);
}
