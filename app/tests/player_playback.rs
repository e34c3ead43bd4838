//! zc-player natively, playing short clips on a headless Weston of its own
//! driven through the control socket: formats, playlists, layout, the
//! statistics panel, subtitles, seeks, and every fd closed at quit. The
//! dma-buf path itself is tested in the VM (tests/tests/player.rs).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod player_support;

use player_support::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    // The frame's own size.
    assert_eq!(running.snapshot_size(&dir.join("snap.png")), (320, 240));

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
    // A snapshot is upright too: 240 wide, 320 tall (zcthumbnail follows
    // the tag as the sink does; its own tests check the pixels).
    assert_eq!(running.snapshot_size(&dir.join("upright.png")), (240, 320));
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
    player.snapshot_size(&snapshot);
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");

    let quit = player.control.request(r#"{"command":"quit"}"#);
    assert_eq!(quit["ok"], true, "{quit}");
    assert_eq!(player.wait_exit(Duration::from_secs(30)).code(), Some(0));
    assert!(!player.stderr().contains("panicked"), "{}", player.stderr());
    let _ = std::fs::remove_dir_all(&dir);
}
