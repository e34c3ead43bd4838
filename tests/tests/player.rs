//! zc-player in the VM, on a headless Weston, driven only through its
//! control socket: it plays a generated clip (the screenshot shows the
//! SMPTE bars), pause holds the frame, a seek lands within one GOP, the
//! statistics show dma-buf frames with no copy, a snapshot is the frame, a
//! seek past the end goes back to the start (--loop) instead of hanging,
//! and quit exits 0 with every fd it opened for playback closed.
//!
//! Under software emulation the sink drops most frames as late (QoS), so
//! the test waits for shown frames, never for a frame rate; --loop keeps
//! the clip going however slow it is.
//!
//! The clip is 640x480: at that width libav's strides match zc's pool
//! layout, so avdec_h264 decodes straight into the pool (at 320x240 its
//! chroma stride differs and zcexport has to copy every frame).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zc_vm_tests::player::{Player, SLOW, count, encode};
use zc_vm_tests::require_vm;
use zc_vm_tests::smpte::check_pattern;
use zc_vm_tests::weston::{Renderer, Screenshot, Weston, assumed_yuv_colorimetry, decode_png};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
/// Frames per keyframe interval: one GOP is one second at 30 fps.
const GOP: u32 = 30;
const FRAMES: u32 = 150;
/// Colour tolerance at the bar centres: x264 at its default quality keeps
/// flat areas within a few levels, and the compositor's YUV->RGB differs
/// from videoconvert's by a few more; 24 still tells every bar from its
/// neighbours (they differ by 60 or more in some channel).
const TOLERANCE: u8 = 24;

/// The clip's raw format, in the colorimetry the root's Weston assumes for
/// YUV (the clip's VUI says it; the reference picture uses it too).
fn clip_format() -> String {
    format!("I420,colorimetry={}", assumed_yuv_colorimetry())
}

/// The SMPTE bars (with their moving noise corner), H.264 in Matroska.
fn make_clip(dir: &Path) -> PathBuf {
    let path = dir.join("smpte-640x480.mkv");
    encode(&format!(
        "videotestsrc num-buffers={FRAMES} pattern=smpte ! video/x-raw,format={},width={WIDTH},height={HEIGHT},framerate=30/1 \
         ! x264enc speed-preset=veryfast key-int-max={GOP} ! h264parse ! matroskamux ! filesink location={}",
        clip_format(),
        path.display()
    ));
    path
}

#[test]
fn the_player_plays_pauses_seeks_and_quits_cleanly_on_dma_bufs() {
    require_vm();
    let dir = std::env::temp_dir().join("zc-vm-player");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let clip = make_clip(&dir);
    // The output is the video's size: the kiosk shell makes the window
    // fullscreen and the video fills it exactly.
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let mut player = Player::start(&weston, &clip, &dir);

    // It plays: frames reach the sink.
    let deadline = Instant::now() + SLOW;
    let mut stats = player.stats();
    while count(&stats, "frames-rendered") < 3 {
        assert!(
            Instant::now() < deadline,
            "fewer than 3 frames shown after {SLOW:?}: {stats}\nlog:\n{}",
            player.log()
        );
        std::thread::sleep(Duration::from_millis(500));
        stats = player.stats();
    }
    println!("stats while playing: {stats}");

    // A decoder writing into the pool: dma-buf frames, nothing copied.
    assert_eq!(stats["decoder"], "avdec_h264", "{stats}");
    assert!(
        stats["video"]
            .as_str()
            .is_some_and(|v| v.contains("640x480") && v.contains("memory:DMABuf")),
        "{stats}"
    );
    let frames_in = count(&stats, "export-frames-in");
    assert!(frames_in >= 3, "{stats}");
    assert_eq!(count(&stats, "export-frames-copied"), 0, "{stats}");
    assert_eq!(
        count(&stats, "export-frames-zero-copy"),
        frames_in,
        "{stats}"
    );
    assert_eq!(count(&stats, "sink-frames-copied"), 0, "{stats}");
    assert_eq!(stats["copies-per-frame"], 0.0, "{stats}");
    assert!(
        count(&stats, "dmabuf-fds") > 0,
        "the pool's dma-bufs: {stats}"
    );
    match stats["sink"].as_str() {
        Some("zcwaylandsink") => assert_eq!(stats["path"], "dmabuf", "{stats}"),
        // GStreamer's waylandsink (used while zcwaylandsink cannot be
        // embedded) has no `path` property to ask.
        other => {
            assert_eq!(other, Some("waylandsink"), "{stats}");
            assert_eq!(stats["path"], "unknown", "{stats}");
        }
    }

    // The screenshot shows the bars where the video is.
    let playing = weston.screenshot();
    check_pattern(
        &playing,
        &clip_format(),
        WIDTH,
        HEIGHT,
        (0, 0, WIDTH, HEIGHT),
        TOLERANCE,
    );
    // While playing, the noise corner changes from frame to frame, so the
    // pause check below can fail.
    let deadline = Instant::now() + SLOW;
    loop {
        let next = weston.screenshot();
        if next.rgb != playing.rgb {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the picture never changed while playing"
        );
    }

    // Pause holds the frame.
    let paused = player.ok(r#"{"command":"pause"}"#);
    assert_eq!(paused["state"], "paused", "{paused}");
    std::thread::sleep(Duration::from_secs(2));
    let before = player.position().expect("a position while paused");
    let first: Screenshot = weston.screenshot();
    std::thread::sleep(Duration::from_secs(3));
    let second = weston.screenshot();
    let after = player.position().expect("a position while paused");
    assert_eq!(before, after, "the position moved while paused");
    assert!(
        first.rgb == second.rgb,
        "the picture changed while paused: {} vs {}",
        first.path.display(),
        second.path.display()
    );

    // A full-size snapshot of the paused frame, read from its dma-buf.
    let snapshot = dir.join("snapshot.png");
    let reply = player.ok(&format!(
        r#"{{"command":"snapshot","path":"{}"}}"#,
        snapshot.display()
    ));
    assert_eq!(reply["path"], snapshot.to_string_lossy().as_ref());
    let image = decode_png(&snapshot);
    assert_eq!((image.width, image.height), (WIDTH, HEIGHT));
    check_pattern(
        &image,
        &clip_format(),
        WIDTH,
        HEIGHT,
        (0, 0, WIDTH, HEIGHT),
        TOLERANCE,
    );

    // A seek lands on the keyframe at or before its target: within one GOP.
    let target = 3.4;
    let seek = player.ok(&format!(r#"{{"command":"seek","seconds":{target}}}"#));
    let landed = seek["position-s"]
        .as_f64()
        .expect("position after the seek");
    let gop = f64::from(GOP) / 30.0;
    assert!(
        landed <= target + 0.05 && target - landed <= gop + 0.05,
        "seek to {target} s landed at {landed} s (GOP {gop} s)"
    );
    check_pattern(
        &weston.screenshot(),
        &clip_format(),
        WIDTH,
        HEIGHT,
        (0, 0, WIDTH, HEIGHT),
        TOLERANCE,
    );

    // Past the end: the last keyframe, then EOS, and --loop starts over.
    player.ok(r#"{"command":"play"}"#);
    let end = player.ok(r#"{"command":"seek","seconds":1000}"#);
    let duration = f64::from(FRAMES) / 30.0;
    assert!(
        (end["duration-s"].as_f64().expect("duration") - duration).abs() < 0.1,
        "{end}"
    );
    let last_keyframe = end["position-s"].as_f64().expect("position");
    assert!(last_keyframe >= duration - gop - 0.05, "{end}");
    let deadline = Instant::now() + SLOW;
    loop {
        let position = player.position();
        if position.is_some_and(|p| p < last_keyframe - 0.5) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not back at the start after seeking past the end: {position:?}\nlog:\n{}",
            player.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Quit: exit 0, and every fd opened for playback (dma-bufs, the
    // compositor connection, pipeline internals) is closed before exit.
    let quit = player.ok(r#"{"command":"quit"}"#);
    assert_eq!(quit["fds-left-open"], 0, "{quit}");
    let deadline = Instant::now() + SLOW;
    let status = loop {
        if let Some(status) = player.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the player did not exit after quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "log:\n{}", player.log());
    println!("player log:\n{}", player.log());
    let _ = std::fs::remove_dir_all(&dir);
}
