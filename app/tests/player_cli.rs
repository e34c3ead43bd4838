//! zc-player's command line natively: bad input ends with one clear message
//! and exit status 2 (no panic, no hang), and a short clip plays on a
//! headless Weston of its own, driven through the control socket, closing
//! every fd it opened. The dma-buf path itself is tested in the VM
//! (tests/tests/player.rs).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    run_player_with(args, &[], timeout)
}

/// [`run_player`] with these environment variables set.
fn run_player_with(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Output {
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
fn a_folder_without_media_files_is_refused() {
    let dir = temp_dir("folder");
    std::fs::write(dir.join("notes.txt"), "not a video").expect("write");
    let output = run_player(&[dir.to_str().expect("utf-8")], Duration::from_secs(30));
    assert_bad_input(&output, &["holds no media files", ".mkv"]);
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
        "space or p pause",
        "Exit status",
        "--shuffle",
        "--save-position-on-quit",
        "--speed",
        "--volume",
        "--mute",
        "--geometry",
        "--aid",
        "--sid",
        "frame-step",
        "playlist-next",
        "load {uri",
        "[ ] speed",
        "< > previous/next",
        "# next audio track",
        "o or P show the time and seek bar",
        "On-screen display",
        "--sub",
        "{ } halve/double",
        "Backspace normal speed",
        ". one frame forward",
        ", one frame back",
        "j/J next/previous subtitle",
        "v show/hide subtitles",
        "Esc leave fullscreen",
        "Q quit and remember the position",
        "Shift+Left/Right 1 s",
        "right click pause",
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
fn an_audio_only_file_is_refused_by_name_and_skipped_in_a_playlist() {
    let dir = temp_dir("audio-only");
    let audio = dir.join("tone.ogg");
    encode(&format!(
        "audiotestsrc num-buffers=50 ! vorbisenc ! oggmux ! filesink location={}",
        audio.display()
    ));
    let audio = audio.to_str().expect("utf-8");
    let output = run_player(&[audio, "--headless"], Duration::from_secs(120));
    assert_bad_input(
        &output,
        &["cannot play", "tone.ogg: it has audio but no video stream"],
    );

    // In a playlist it is skipped, and the next entry plays to its end.
    let clip = make_clip(&dir);
    let output = run_player(
        &[audio, clip.to_str().expect("utf-8"), "--headless"],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("tone.ogg: it has audio but no video stream"),
        "{stderr}"
    );
    assert!(stderr.contains("skipping it"), "{stderr}");
    assert!(stderr.contains("playing 2 of 2"), "{stderr}");
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

/// One cue from 0.3 s to 1.0 s of the 2 s clip, in each format.
const ASS: &str = "[Script Info]\nScriptType: v4.00+\n\n[Events]\n\
    Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
    Dialogue: 0,0:00:00.30,0:00:01.00,Default,,0,0,0,,{\\an8}Hello, {\\b1}ASS{\\b0}\\Nsecond line\n";
const VTT: &str = "WEBVTT\n\n00:00:00.300 --> 00:00:01.000\nHello, <b>VTT</b>\nsecond line\n";

#[test]
fn external_ass_and_vtt_subtitles_show_their_text_until_their_end() {
    let dir = temp_dir("external-subtitles");
    let clip = make_clip(&dir);
    for (name, text, shown) in [
        ("film.ass", ASS, "Hello, ASS\nsecond line"),
        ("film.vtt", VTT, "Hello, VTT\nsecond line"),
    ] {
        let sub = dir.join(name);
        std::fs::write(&sub, text).expect("write");
        let run_dir = dir.join(format!("run-{name}"));
        std::fs::create_dir_all(&run_dir).expect("run dir");
        let mut running =
            Running::start_with(&run_dir, &clip, &["--sub", sub.to_str().expect("utf-8")]);
        running.wait_for_frames();
        for request in [
            r#"{"command":"pause"}"#,
            r#"{"command":"seek","seconds":0,"accurate":true}"#,
        ] {
            let reply = running.control.request(request);
            assert_eq!(reply["ok"], true, "{reply}");
        }
        // Step through the clip a frame at a time: the cue is there from
        // 0.3 s to 1.0 s and nowhere else.
        let mut seen = Vec::new();
        for _ in 0..45 {
            let reply = running.control.request(r#"{"command":"frame-step"}"#);
            assert_eq!(reply["ok"], true, "{reply}");
            std::thread::sleep(Duration::from_millis(60));
            let stats = running.control.request(r#"{"command":"stats"}"#);
            let pts = stats["frame-pts-s"].as_f64().unwrap_or(-1.0);
            seen.push((pts, stats["subtitle"].as_str().map(str::to_owned)));
        }
        let during: Vec<_> = seen
            .iter()
            .filter(|(pts, _)| (0.4..0.9).contains(pts))
            .collect();
        let after: Vec<_> = seen.iter().filter(|(pts, _)| *pts >= 1.1).collect();
        assert!(!during.is_empty() && !after.is_empty(), "{name}: {seen:?}");
        assert!(
            during.iter().all(|(_, s)| s.as_deref() == Some(shown)),
            "{name}: {seen:?}\n{}\n{}",
            running.stderr(),
            running.control.request(r#"{"command":"stats"}"#)
        );
        assert!(after.iter().all(|(_, s)| s.is_none()), "{name}: {seen:?}");
        let quit = running.control.request(r#"{"command":"quit"}"#);
        assert_eq!(quit["fds-left-open"], 0, "{quit}");
        let _ = running.control.child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_subtitle_file_that_cannot_be_read_or_is_not_ass_is_refused() {
    let dir = temp_dir("bad-subtitles");
    let clip = dir.join("clip.mkv");
    std::fs::write(&clip, b"never played").expect("write");
    let missing = dir.join("none.srt");
    let output = run_player(
        &[
            clip.to_str().expect("utf-8"),
            "--sub",
            missing.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    );
    assert_bad_input(&output, &["cannot read", "none.srt"]);
    let broken = dir.join("broken.ass");
    std::fs::write(
        &broken,
        "[Script Info]\n[Events]\nDialogue: 0,0:99:00.00,0:00:01.00,D,,0,0,0,,x\n",
    )
    .expect("write");
    let output = run_player(
        &[
            clip.to_str().expect("utf-8"),
            "--sub",
            broken.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    );
    assert_bad_input(&output, &["broken.ass", "line 3", "bad time"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_clip_without_a_decoder_names_the_package_to_install() {
    let dir = temp_dir("no-decoder");
    let clip = make_clip(&dir);
    // Every H.264 decoder of this machine ranked out of autoplugging, as
    // if gstreamer1.0-libav were not installed.
    use gst::prelude::*;
    let h264 = gst::Caps::builder("video/x-h264").build();
    let hidden: Vec<String> =
        gst::ElementFactory::factories_with_type(gst::ElementFactoryType::DECODER, gst::Rank::NONE)
            .into_iter()
            .filter(|f| f.can_sink_any_caps(&h264))
            .map(|f| format!("{}:NONE", f.name()))
            .collect();
    assert!(!hidden.is_empty(), "this machine has an H.264 decoder");
    let output = run_player_with(
        &[clip.to_str().expect("utf-8"), "--headless"],
        &[("GST_PLUGIN_FEATURE_RANK", &hidden.join(","))],
        Duration::from_secs(120),
    );
    assert_bad_input(
        &output,
        &[
            "clip-I420.mkv",
            "H.264",
            "not installed: install gstreamer1.0-libav",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn make_clip(dir: &Path) -> PathBuf {
    make_clip_as(dir, "I420")
}

/// An H.264 clip of `format` (x264 picks the profile: High 4:4:4 for
/// Y444_10LE, which is also what x264enc takes first from videotestsrc).
fn make_clip_as(dir: &Path, format: &str) -> PathBuf {
    let path = dir.join(format!("clip-{format}.mkv"));
    encode(&format!(
        "videotestsrc num-buffers=60 pattern=smpte ! video/x-raw,format={format},width=320,height=240,framerate=30/1 \
         ! x264enc speed-preset=veryfast key-int-max=15 ! h264parse ! matroskamux ! filesink location={}",
        path.display()
    ));
    path
}

/// Run the pipeline `description` to its end.
fn encode(description: &str) {
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
    let mut running = Running::start(&dir, &clip);
    // Wait for frames to reach the sink.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stats = running.control.request(r#"{"command":"stats"}"#);
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
    let bad = running.control.request(r#"{"command":"seek"}"#);
    assert_eq!(bad["ok"], false);
    assert!(
        bad["error"].as_str().is_some_and(|e| e.contains("seconds")),
        "{bad}"
    );
    let snapshot = dir.join("snap.png");
    let reply = running.control.request(&format!(
        r#"{{"command":"snapshot","path":"{}"}}"#,
        snapshot.display()
    ));
    assert_eq!(reply["ok"], true, "{reply}");
    let png = std::fs::read(&snapshot).expect("the snapshot file");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The IHDR says the frame's own size.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().expect("4")), 320);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().expect("4")), 240);

    let quit = running.control.request(r#"{"command":"quit"}"#);
    assert_eq!(quit["ok"], true, "{quit}");
    assert_eq!(quit["fds-left-open"], 0, "{quit}");
    let status = running.control.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert!(
        !running.socket.exists(),
        "the socket file is removed at exit"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_ten_bit_4_4_4_clip_plays_through_a_conversion_to_a_format_wl_shm_takes() {
    let dir = temp_dir("y444-10");
    let clip = make_clip_as(&dir, "Y444_10LE");
    let mut running = Running::start(&dir, &clip);
    running.wait_for_frames();
    let stats = running.control.request(r#"{"command":"stats"}"#);
    // Natively (no dma-bufs) the frames go through wl_shm, which takes no
    // YUV 4:4:4 at 10 bits: lavapipe converts them (the CPU where there is
    // no Vulkan device), into a format wl_shm takes, not AR30.
    assert!(
        matches!(stats["conversion"].as_str(), Some("gpu" | "cpu")),
        "{stats}"
    );
    let detail = stats["conversion-detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("Y444_10LE to "), "{stats}");
    if stats["path"] == "shm" {
        assert!(!detail.contains("BGR10A2_LE"), "{stats}");
    }
    running.quit_cleanly();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_playlist_hands_each_entry_over_gaplessly_even_the_same_file_twice() {
    let dir = temp_dir("gapless");
    let first = make_clip(&dir);
    let second = dir.join("second.mkv");
    std::fs::copy(&first, &second).expect("a second file");
    let second = second.to_str().expect("utf-8");
    // Another file, then the same file twice in a row: playbin3's current
    // URI does not change at that hand-over, and the playlist must move on
    // anyway.
    let mut running = Running::start_with(&dir, &first, &[second, second]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let stats = loop {
        let stats = running.control.request(r#"{"command":"stats"}"#);
        assert_eq!(stats["ok"], true, "{stats}");
        if stats["state"] == "eos" {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "the playlist did not end: {stats}\n{}",
            running.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(stats["playlist-count"], 3, "{stats}");
    assert_eq!(stats["playlist-pos"], 2, "{stats}\n{}", running.stderr());
    let stderr = running.stderr();
    for n in [2, 3] {
        assert!(
            stderr.contains(&format!("playing {n} of 3 (gapless)")),
            "entry {n} was not handed over gaplessly:\n{stderr}"
        );
    }
    // The last entry played to its end (its last frame is at 1.967 s).
    assert!(
        stats["frame-pts-s"].as_f64().is_some_and(|pts| pts > 1.9),
        "{stats}"
    );
    running.quit_cleanly();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 320x240 clip whose MP4 track matrix says "turn a quarter clockwise"
/// (what phones write for a portrait video stored sideways): qtdemux
/// reads it as `image-orientation=rotate-90`. GStreamer 1.22's mp4mux does
/// not write the matrix from the tag, so it is written into the `tkhd` box.
fn make_turned_clip(dir: &Path) -> PathBuf {
    let plain = dir.join("plain.mp4");
    encode(&format!(
        "videotestsrc num-buffers=30 pattern=smpte ! video/x-raw,width=320,height=240,framerate=30/1 \
         ! x264enc speed-preset=veryfast ! h264parse ! mp4mux ! filesink location={}",
        plain.display()
    ));
    let mut bytes = std::fs::read(&plain).expect("read the clip");
    let at = bytes
        .windows(4)
        .position(|w| w == b"tkhd")
        .expect("a tkhd box");
    // After the version and flags: times, track id and duration (32 or
    // 64-bit by version), then reserved, layer, group, volume: 16 bytes.
    let matrix = at + 4 + if bytes[at + 4] == 1 { 36 } else { 24 } + 16;
    let turned: [u32; 9] = [0, 0x0001_0000, 0, 0xffff_0000, 0, 0, 0, 0, 0x4000_0000];
    for (i, value) in turned.iter().enumerate() {
        bytes[matrix + 4 * i..matrix + 4 * i + 4].copy_from_slice(&value.to_be_bytes());
    }
    let path = dir.join("turned.mp4");
    std::fs::write(&path, bytes).expect("write the turned clip");
    path
}

#[test]
fn a_portrait_phone_video_is_laid_out_upright() {
    let dir = temp_dir("turned");
    let clip = make_turned_clip(&dir);
    let mut running = Running::start(&dir, &clip);
    running.wait_for_frames();
    let stats = running.control.request(r#"{"command":"stats"}"#);
    // The 320x240 frames are shown 240 wide and 320 tall, fitted into the
    // window's video area with the aspect kept.
    let rect: Vec<i64> = stats["video-rect"]
        .as_array()
        .unwrap_or_else(|| panic!("no video-rect: {stats}"))
        .iter()
        .filter_map(serde_json::Value::as_i64)
        .collect();
    let (w, h) = (rect[2] as f64, rect[3] as f64);
    assert!((w / h - 0.75).abs() < 0.01, "not upright: {stats}");
    running.quit_cleanly();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn i_shows_the_statistics_for_four_seconds_and_capital_i_until_pressed_again() {
    let dir = temp_dir("stats-panel");
    let clip = make_clip(&dir);
    let mut running = Running::start(&dir, &clip);
    running.wait_for_frames();
    let panel = |running: &mut Running| {
        let stats = running.control.request(r#"{"command":"stats"}"#);
        assert_eq!(stats["ok"], true, "{stats}");
        stats["stats-panel"].as_bool().expect("stats-panel")
    };
    assert!(!panel(&mut running), "no panel before a key");
    let shown_at = Instant::now();
    let reply = running.control.request(r#"{"command":"key","key":"i"}"#);
    assert_eq!(reply["stats-panel"], true, "{reply}");
    while panel(&mut running) {
        assert!(
            shown_at.elapsed() < Duration::from_secs(30),
            "the panel `i` showed never went"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let shown_for = shown_at.elapsed();
    assert!(
        shown_for >= Duration::from_secs(4),
        "`i` showed the panel for {shown_for:?}, not 4 s"
    );
    let reply = running.control.request(r#"{"command":"key","key":"I"}"#);
    assert_eq!(reply["stats-panel"], true, "{reply}");
    std::thread::sleep(Duration::from_secs(5));
    assert!(panel(&mut running), "the panel `I` showed went by itself");
    // `i` while `I` keeps it does not start a timeout.
    running.control.request(r#"{"command":"key","key":"i"}"#);
    std::thread::sleep(Duration::from_millis(4500));
    assert!(
        panel(&mut running),
        "`i` put a timeout on the panel `I` showed"
    );
    let reply = running.control.request(r#"{"command":"key","key":"I"}"#);
    assert_eq!(reply["stats-panel"], false, "{reply}");
    // `I` while `i` shows it: it stays (mpv's toggle turns it on).
    running.control.request(r#"{"command":"key","key":"i"}"#);
    let reply = running.control.request(r#"{"command":"key","key":"I"}"#);
    assert_eq!(reply["stats-panel"], true, "{reply}");
    std::thread::sleep(Duration::from_millis(4500));
    assert!(panel(&mut running), "`I` did not keep the panel `i` showed");
    running.quit_cleanly();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A player on a headless Weston of its own, its temporary files in
/// `dir/tmp` and its stderr in `dir/stderr`, controlled through `dir/ipc.sock`.
struct Running {
    control: Control,
    socket: PathBuf,
    tmp: PathBuf,
    stderr: PathBuf,
}

impl Running {
    fn start(dir: &Path, clip: &Path) -> Running {
        Running::start_with(dir, clip, &[])
    }

    /// [`Running::start`] with more options.
    fn start_with(dir: &Path, clip: &Path, options: &[&str]) -> Running {
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
    fn quit_cleanly(&mut self) {
        let quit = self.control.request(r#"{"command":"quit"}"#);
        assert_eq!(quit["fds-left-open"], 0, "{quit}");
        let status = self.control.child.wait().expect("wait");
        assert_eq!(status.code(), Some(0), "{}", self.stderr());
    }

    fn wait_for_frames(&mut self) {
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

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The pid of the Weston it started, from its stderr.
    fn weston_pid(&self) -> i32 {
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
    fn assert_nothing_left(&self, weston: i32, after: &str) {
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

    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
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
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Wait up to `timeout` for `done`.
fn eventually(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn quit_signals_and_sigkill_leave_no_weston_socket_or_folder() {
    use std::os::unix::process::ExitStatusExt;
    let dir = temp_dir("signals");
    let clip = make_clip(&dir);
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGKILL] {
        let run_dir = dir.join(format!("signal-{signal}"));
        std::fs::create_dir_all(&run_dir).expect("dir");
        let mut player = Running::start(&run_dir, &clip);
        player.wait_for_frames();
        let weston = player.weston_pid();
        assert!(alive(weston), "Weston runs during playback");
        // Its own files: one private 0700 folder under TMPDIR.
        let entries: Vec<_> = std::fs::read_dir(&player.tmp)
            .expect("tmp")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let name = entries[0].file_name().expect("name").to_string_lossy();
        assert!(name.starts_with("zc-player-"), "{name}");
        {
            use std::os::unix::fs::MetadataExt;
            let mode = std::fs::symlink_metadata(&entries[0]).expect("meta").mode();
            assert_eq!(mode & 0o777, 0o700, "{name}: {mode:o}");
        }
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(player.control.child.id() as i32, signal) };
        assert_eq!(rc, 0);
        let status = player.wait_exit(Duration::from_secs(60));
        if signal == libc::SIGKILL {
            assert_eq!(status.signal(), Some(libc::SIGKILL));
        } else {
            assert_eq!(status.code(), Some(128 + signal), "{}", player.stderr());
            assert!(player.stderr().contains("zc-player: stopped by SIG"));
            assert!(!player.stderr().contains("panicked"), "{}", player.stderr());
        }
        player.assert_nothing_left(weston, &format!("signal {signal}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A FIFO that a writer holds open and never writes to: the player's
/// source blocks in a read before the first frame (a stalled source, or
/// what GStreamer 1.22's decodebin3 deadlock looks like from the player),
/// and setting the pipeline to NULL hangs on it: `filesrc` cannot
/// interrupt its `read` (it has no `unlock`), as GStreamer 1.22 to 1.28
/// have it. A GStreamer whose filesrc could would fail the teardown
/// message's check below, not hang.
fn silent_fifo(dir: &Path) -> (PathBuf, std::fs::File) {
    let path = dir.join("silent.mkv");
    let c_path = std::ffi::CString::new(path.to_str().expect("utf-8")).expect("no NUL");
    // SAFETY: mkfifo(3) on a NUL-terminated path we own; no memory is shared.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    // Read and write: opening a FIFO that way does not wait for a reader.
    let writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open the FIFO");
    (path, writer)
}

/// After a stuck start, or a stuck teardown (`teardown_tried`): exit
/// status 1 with the reasons said, and the watcher removes what the player
/// left. A start given up on leaves the pipeline as it is (stopping it is
/// what hangs, or crashes 1.22's decodebin3), so no teardown is said.
fn assert_gave_up(player: &mut Running, expected: &[&str], teardown_tried: bool) {
    let status = player.wait_exit(Duration::from_secs(90));
    let stderr = player.stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    for text in expected {
        assert!(stderr.contains(text), "no `{text}` in:\n{stderr}");
    }
    assert_eq!(
        stderr.contains("GStreamer did not stop the pipeline within 20 s"),
        teardown_tried,
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    player.assert_nothing_left(player.weston_pid(), "after giving up");
}

#[test]
fn a_start_that_stays_silent_gives_up_and_quit_never_hangs() {
    let dir = temp_dir("silent-start");
    let (fifo, _writer) = silent_fifo(&dir);

    // --start-timeout: gives up by itself, saying why and what to change.
    let run_dir = dir.join("timeout");
    std::fs::create_dir_all(&run_dir).expect("dir");
    let started = Instant::now();
    let mut player = Running::start_with(&run_dir, &fifo, &["--start-timeout", "2"]);
    assert_gave_up(
        &mut player,
        &[
            "silent.mkv: no frame to show, and nothing from GStreamer for ",
            "--start-timeout sets how long to wait",
        ],
        false,
    );
    // Not through the 20 s teardown guard: at once after the 2 s.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // 0 waits forever (not: gives up at once), and `q` still ends it.
    let run_dir = dir.join("quit");
    std::fs::create_dir_all(&run_dir).expect("dir");
    let mut player = Running::start_with(&run_dir, &fifo, &["--start-timeout", "0"]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        player.control.child.try_wait().expect("wait").is_none(),
        "0 waits: {}",
        player.stderr()
    );
    let reply = player.control.request(r#"{"command":"key","key":"q"}"#);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_gave_up(&mut player, &[], true);
    assert!(
        !player.stderr().contains("no frame to show"),
        "{}",
        player.stderr()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_gapless_hand_over_to_an_entry_that_never_starts_gives_up() {
    let dir = temp_dir("silent-next");
    let clip = make_clip(&dir);
    let (fifo, _writer) = silent_fifo(&dir);
    let started = Instant::now();
    // The clip plays its 2 s (its playing out is not taken for a stall),
    // then playbin3 has taken the FIFO, which never gives a byte.
    let mut player = Running::start_with(
        &dir,
        &clip,
        &[fifo.to_str().expect("utf-8"), "--start-timeout", "3"],
    );
    assert_gave_up(
        &mut player,
        &[
            "silent.mkv: no frame to show, and nothing from GStreamer for ",
            "--start-timeout sets how long to wait",
        ],
        false,
    );
    let stderr = player.stderr();
    assert!(
        !stderr.contains("clip-I420.mkv: no frame to show"),
        "the first entry was taken for the stuck one:\n{stderr}"
    );
    // Gave up after the clip's 2 s and the 3 s of silence, not before the
    // clip played (its frames were shown) and not through the 20 s guard.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_secs(60),
        "{elapsed:?}\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Moving on from an entry whose pipeline will not stop (its source is
/// stuck in a read of a FIFO nobody writes to, as a deadlocked 1.22
/// playbin3 is stuck): the player leaves that pipeline behind, plays the
/// next entry in a new one, and quits with status 0.
#[test]
fn an_entry_that_will_not_stop_is_left_behind_and_the_next_one_plays() {
    let dir = temp_dir("left-behind");
    let clip = make_clip(&dir);
    let (fifo, _writer) = silent_fifo(&dir);
    let mut player = Running::start_with(
        &dir,
        &fifo,
        &[clip.to_str().expect("utf-8"), "--start-timeout", "0"],
    );
    // Its source is in the read by now (a start takes well under 2 s).
    std::thread::sleep(Duration::from_secs(2));
    let reply = player.control.request(r#"{"command":"playlist-next"}"#);
    assert_eq!(reply["ok"], true, "{reply}\n{}", player.stderr());
    player.wait_for_frames();
    let stats = player.control.request(r#"{"command":"stats"}"#);
    assert_eq!(stats["playlist-pos"], 1, "{stats}");
    assert!(
        stats["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("clip-I420.mkv")),
        "{stats}"
    );
    let stderr = player.stderr();
    assert!(
        stderr.contains("leaving its pipeline behind and starting a new one"),
        "{stderr}"
    );
    // Quit: the stuck pipeline is not waited for (no 20 s guard), and the
    // player says it ends without it.
    let quit = player.control.request(r#"{"command":"quit"}"#);
    assert_eq!(quit["ok"], true, "{quit}");
    let status = player.wait_exit(Duration::from_secs(15));
    let stderr = player.stderr();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("1 pipeline(s) left behind are still stuck"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    player.assert_nothing_left(player.weston_pid(), "after quitting");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_seek_before_the_first_frame_is_where_the_entry_starts() {
    let dir = temp_dir("early-seek");
    let clip = make_clip(&dir);
    let mut player = Running::start(&dir, &clip);
    // The socket is up before the first frame: the pause and the seek wait
    // for it, and the seek's answer for the frame there. Paused, the
    // position stays where the seek put it.
    let pause = player.control.request(r#"{"command":"pause"}"#);
    assert_eq!(pause["ok"], true, "{pause}");
    let early = player
        .control
        .request(r#"{"command":"seek","seconds":1.0,"accurate":true}"#);
    assert_eq!(early["ok"], true, "{early}");
    let position = early["position-s"].as_f64().unwrap_or(f64::NAN);
    assert!((position - 1.0).abs() < 0.05, "{early}");
    let stats = player.control.request(r#"{"command":"stats"}"#);
    let shown = stats["frame-pts-s"].as_f64().unwrap_or(f64::NAN);
    assert!((shown - 1.0).abs() < 0.05, "not the frame at 1 s: {stats}");
    player.quit_cleanly();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_huge_seek_is_refused_and_the_player_lives_on() {
    let dir = temp_dir("huge-seek");
    let clip = make_clip(&dir);
    let mut player = Running::start(&dir, &clip);
    // Before preroll (the socket is up before the first frame).
    let early = player
        .control
        .request(r#"{"command":"seek","seconds":1e300}"#);
    assert_eq!(early["ok"], false, "{early}");
    assert!(
        early["error"]
            .as_str()
            .is_some_and(|e| e.contains("between")),
        "{early}"
    );
    player.wait_for_frames();
    let during = player
        .control
        .request(r#"{"command":"seek","seconds":-1e300,"relative":true}"#);
    assert_eq!(during["ok"], false, "{during}");
    // The largest seek allowed lands at the end, without a panic.
    let far = player
        .control
        .request(r#"{"command":"seek","seconds":1e9}"#);
    assert_eq!(far["ok"], true, "{far}");
    let position = player.control.request(r#"{"command":"position"}"#);
    assert_eq!(position["ok"], true, "{position}");

    // A snapshot onto a planted symlink replaces the link, not its target.
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, b"precious").expect("victim");
    let snapshot = dir.join("snap.png");
    std::os::unix::fs::symlink(&victim, &snapshot).expect("symlink");
    let reply = player.control.request(&format!(
        r#"{{"command":"snapshot","path":"{}"}}"#,
        snapshot.display()
    ));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");
    let png = std::fs::read(&snapshot).expect("the snapshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    let quit = player.control.request(r#"{"command":"quit"}"#);
    assert_eq!(quit["ok"], true, "{quit}");
    assert_eq!(player.wait_exit(Duration::from_secs(30)).code(), Some(0));
    assert!(!player.stderr().contains("panicked"), "{}", player.stderr());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quit_is_not_held_up_by_a_client_that_never_reads() {
    let dir = temp_dir("flood");
    let clip = make_clip(&dir);
    let mut player = Running::start(&dir, &clip);
    player.wait_for_frames();
    let mut flood = UnixStream::connect(&player.socket).expect("connect");
    flood
        .set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let requests = format!("{}\n", r#"{"command":"position"}"#).repeat(5000);
    let _ = flood.write_all(requests.as_bytes());
    let asked = Instant::now();
    let quit = player.control.request(r#"{"command":"quit"}"#);
    assert_eq!(quit["ok"], true, "{quit}");
    let status = player.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", player.stderr());
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "quit took {:?} with an unread client",
        asked.elapsed()
    );
    drop(flood);
    let _ = std::fs::remove_dir_all(&dir);
}
