//! zc-player in the VM, on a headless Weston, driven only through its
//! control socket: it plays a generated clip (the screenshot shows the
//! SMPTE bars), pause holds the frame, a seek lands within one GOP, the
//! statistics show dma-buf frames with no copy, a snapshot is the frame, a
//! seek past the end goes back to the start (--loop) instead of hanging,
//! and quit exits 0 with every fd it opened for playback closed; 10-bit,
//! 4:2:2 and 4:4:4 clips play on the cheapest path there is, and NV12 (the
//! format hardware decoders hand out) goes to the compositor unconverted. What it
//! draws above the video (subtitles, the OSD) is in player_overlays.rs.
//!
//! Under software emulation the sink drops most frames as late (QoS), so
//! the test waits for shown frames, never for a frame rate; --loop keeps
//! the clip going however slow it is.
//!
//! avdec_h264 decodes straight into zc's pool: the pool lays frames out as
//! GStreamer's own video pools do for the decoder's alignment, which is
//! what libav's strides are compared with (at 320x240 too).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use zc_vm_tests::clip::{self, FRAMES, GOP, HEIGHT, TOLERANCE, WIDTH};
use zc_vm_tests::player::{Player, SLOW, count};
use zc_vm_tests::require_vm;
use zc_vm_tests::smpte::check_pattern;
use zc_vm_tests::weston::{Renderer, Screenshot, Weston, decode_png, yuv_test_colorimetry};

#[test]
fn the_player_plays_pauses_seeks_and_quits_cleanly_on_dma_bufs() {
    require_vm();
    let dir = std::env::temp_dir().join("zc-vm-player");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let clip = clip::make(&dir);
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
    // I420 goes to the compositor as decoded: no conversion on the way.
    assert_eq!(stats["conversion"], "none", "{stats}");
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
        &clip::format(),
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
        &clip::format(),
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
        &clip::format(),
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

#[test]
fn ten_bit_4_2_2_and_4_4_4_clips_play_on_the_cheapest_path() {
    require_vm();
    let dir = std::env::temp_dir().join("zc-vm-player-formats");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (width, height) = (320, 240);
    // Each with its DRM fourcc: in DMA_DRM caps (GStreamer 1.24+) the
    // statistics name the format by it.
    for (format, drm) in [
        ("I420_10LE", "S010"),
        ("Y42B", "YU16"),
        ("Y444", "YU24"),
        ("Y444_10LE", "S410"),
    ] {
        let caps = format!("{format},colorimetry={}", yuv_test_colorimetry());
        let clip = clip::make_as(&dir, &caps, width, height, 60);
        // A fresh compositor per clip (Weston 14's kiosk shell does not
        // survive a second window).
        let weston = Weston::start(Renderer::Gl, width, height);
        let mut player = Player::start(&weston, &clip, &dir);
        let stats = player.wait_for_frames(3);
        println!("{format}: {stats}");
        // The frames came out of a decoder of that format.
        assert_eq!(stats["decoder"], "avdec_h264", "{stats}");
        let conversion = stats["conversion"].as_str().expect("conversion");
        match conversion {
            // The compositor imports the format (Weston's GL renderer
            // takes YUV444 dma-bufs), or lavapipe converts dma-buf to
            // dma-buf: neither the conversion nor the sink copies.
            // And the decoder wrote into zcexport's dma-bufs (4:2:2 at 320
            // wide too): nothing is copied at all.
            "none" | "gpu" => {
                assert_eq!(stats["path"], "dmabuf", "{stats}");
                assert_eq!(count(&stats, "sink-frames-copied"), 0, "{stats}");
                assert_eq!(count(&stats, "convert-frames-copied"), 0, "{stats}");
                assert_eq!(stats["copies-per-frame"], 0.0, "{stats}");
            }
            // Never the CPU here: lavapipe converts every one of these
            // formats (the CPU path, counted as a copy per frame, is for
            // machines without a Vulkan device; the native test
            // sink_shm_formats runs it).
            other => panic!("{format}: conversion {other}, want none or gpu: {stats}"),
        }
        let detail = stats["conversion-detail"].as_str().unwrap_or_default();
        if conversion == "none" {
            // The compositor shows the decoder's format as it is.
            assert!(stats["conversion-detail"].is_null(), "{stats}");
        }
        if conversion == "gpu" {
            // What the panel's convert line says (stats::panel_lines).
            assert!(
                [format, drm]
                    .iter()
                    .any(|f| detail.starts_with(&format!("{f} to ")))
                    && detail.ends_with(" on the GPU (zcvulkanconvert)"),
                "{stats}"
            );
            // Weston lists XR30 and AR30 (LINEAR) on every root: 10-bit
            // video stays 10-bit (BGR10A2_LE is DRM AR30, BGR10x2_LE XR30
            // from GStreamer 1.28 on; DMA_DRM caps name the fourcc), 8-bit
            // video goes out as RGBA (AB24).
            let wanted: &[&str] = if format.ends_with("_10LE") {
                &["BGR10A2_LE", "AR30", "BGR10x2_LE", "XR30"]
            } else {
                &["RGBA", "AB24"]
            };
            let video = stats["video"].as_str().unwrap_or_default();
            assert!(
                wanted.iter().any(|w| detail.contains(&format!("to {w}"))),
                "{format}: want one of {wanted:?}: {stats}"
            );
            assert!(
                wanted.iter().any(|w| video.starts_with(&format!("{w} "))),
                "{format}: the sink gets {video}, want one of {wanted:?}: {stats}"
            );
        }
        // 10-bit: Weston 16 imports it (S010), Weston 14 does not and the
        // GPU converts it; either way the decoder wrote into zcexport's
        // dma-bufs and nothing is copied at all.
        if format == "I420_10LE" {
            assert!(matches!(conversion, "gpu" | "none"), "{stats}");
            assert_eq!(stats["copies-per-frame"], 0.0, "{stats}");
        }
        shows_the_bars_then_quits_cleanly(&weston, player, &caps, (width, height));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// NV12 is what hardware decoders hand out; none runs in the VM and no
/// muxer stores raw NV12, so GStreamer's `testbin://` source makes it, and
/// the compositor takes zcexport's NV12 dma-bufs as they are: no
/// conversion, nothing copied by the sink. GStreamer 1.22's testsrcbin
/// aborts on a caps in its URI (checked by hand), so the test runs from
/// 1.26 on (trixie, forky).
///
/// zcexport copies each frame once here, and says so: decodebin3 drops a
/// raw source's ALLOCATION query (the identity at its input has
/// `drop-allocation=true`; seen with `GST_DEBUG=GST_PADS:6`), so
/// videotestsrc never learns of zc's pool. A decoder inside decodebin3
/// asks downstream itself and gets the pool (the I420 test above: 0
/// copies).
#[test]
fn nv12_frames_reach_the_compositor_unconverted() {
    require_vm();
    gst::init().expect("gst::init");
    let (_, minor, _, _) = gst::version();
    if minor < 26 {
        println!("skipped: GStreamer 1.{minor}'s testbin:// cannot make NV12 (1.26 and later can)");
        return;
    }
    let dir = std::env::temp_dir().join("zc-vm-player-nv12");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (width, height) = (320, 240);
    let caps = format!("NV12,colorimetry={}", yuv_test_colorimetry());
    let uri = format!(
        "testbin://video,caps=[video/x-raw,format={caps},width={width},height={height},framerate=30/1],num-buffers=300"
    );
    let weston = Weston::start(Renderer::Gl, width, height);
    let mut player = Player::launch(&weston, [OsStr::new(&uri), OsStr::new("--loop")], &dir, &[]);
    let stats = player.wait_for_frames(3);
    println!("NV12: {stats}");
    let video = stats["video"].as_str().unwrap_or_default();
    assert!(
        video.starts_with("NV12 ") && video.contains("memory:DMABuf"),
        "NV12 dma-bufs to the sink: {stats}"
    );
    assert_eq!(stats["conversion"], "none", "{stats}");
    assert_eq!(stats["path"], "dmabuf", "{stats}");
    assert_eq!(count(&stats, "convert-bytes-copied"), 0, "{stats}");
    assert_eq!(count(&stats, "sink-bytes-copied"), 0, "{stats}");
    // The one copy, zcexport's, counted for each frame (see above).
    let frames_in = count(&stats, "export-frames-in");
    assert!(frames_in >= 3, "{stats}");
    assert_eq!(count(&stats, "export-frames-copied"), frames_in, "{stats}");
    assert_eq!(stats["copies-per-frame"], 1.0, "{stats}");
    shows_the_bars_then_quits_cleanly(&weston, player, &caps, (width, height));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bars of `caps` fill the screen; then quit leaves none of the fds
/// playback opened open, and the player exits 0.
fn shows_the_bars_then_quits_cleanly(
    weston: &Weston,
    mut player: Player,
    caps: &str,
    (width, height): (u32, u32),
) {
    check_pattern(
        &weston.screenshot(),
        caps,
        width,
        height,
        (0, 0, width, height),
        TOLERANCE,
    );
    let quit = player.ok(r#"{"command":"quit"}"#);
    assert_eq!(quit["fds-left-open"], 0, "{quit}");
    let status = player.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "log:\n{}", player.log());
}
