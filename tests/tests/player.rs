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
//! avdec_h264 decodes straight into zc's pool: the pool lays frames out as
//! GStreamer's own video pools do for the decoder's alignment, which is
//! what libav's strides are compared with (at 320x240 too).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use zc_vm_tests::player::{Player, SLOW, assert_zero_copy, count, encode};
use zc_vm_tests::require_vm;
use zc_vm_tests::smpte::check_pattern;
use zc_vm_tests::weston::{Renderer, Screenshot, Weston, decode_png, yuv_test_colorimetry};

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

/// The clip's raw format, in the colorimetry YUV pictures are tested in
/// (`yuv_test_colorimetry`: the clip's VUI says it, the sink states it where
/// the compositor can be told; the reference picture uses it too).
fn clip_format() -> String {
    format!("I420,colorimetry={}", yuv_test_colorimetry())
}

/// The SMPTE bars (with their moving noise corner), H.264 in Matroska.
fn make_clip(dir: &Path) -> PathBuf {
    make_clip_as(dir, &clip_format(), WIDTH, HEIGHT, FRAMES)
}

/// An H.264 clip of SMPTE bars in `format` (x264 picks the profile that
/// keeps it: High 10, High 4:2:2, High 4:4:4).
fn make_clip_as(dir: &Path, format: &str, width: u32, height: u32, frames: u32) -> PathBuf {
    let name = format.split(',').next().unwrap_or(format);
    let path = dir.join(format!("smpte-{name}-{width}x{height}.mkv"));
    encode(&format!(
        "videotestsrc num-buffers={frames} pattern=smpte ! video/x-raw,format={format},width={width},height={height},framerate=30/1 \
         ! x264enc speed-preset=ultrafast key-int-max={GOP} ! h264parse ! matroskamux ! filesink location={}",
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

/// Frames rendered, waiting up to SLOW for at least `at_least`.
fn wait_for_frames(player: &mut Player, at_least: u64) -> Value {
    let deadline = Instant::now() + SLOW;
    loop {
        let stats = player.stats();
        if count(&stats, "frames-rendered") >= at_least {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {at_least} frames shown after {SLOW:?}: {stats}\nlog:\n{}",
            player.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
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
        let clip = make_clip_as(&dir, &caps, width, height, 60);
        // A fresh compositor per clip (Weston 14's kiosk shell does not
        // survive a second window).
        let weston = Weston::start(Renderer::Gl, width, height);
        let mut player = Player::start(&weston, &clip, &dir);
        let stats = wait_for_frames(&mut player, 3);
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
        // And the bars are on screen.
        check_pattern(
            &weston.screenshot(),
            &caps,
            width,
            height,
            (0, 0, width, height),
            TOLERANCE,
        );
        let quit = player.ok(r#"{"command":"quit"}"#);
        assert_eq!(quit["fds-left-open"], 0, "{quit}");
        let _ = player.child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A SubRip file with one cue from 0.5 s to 2.0 s in the clip, and a few
/// after its end (GStreamer's typefinder needs more than 128 bytes).
fn write_srt(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    // Three seconds on screen: a screenshot under emulation takes one.
    let mut srt = format!("1\n00:00:00,500 --> 00:00:03,500\n{text}\n\n");
    for n in 2..6 {
        srt.push_str(&format!(
            "{n}\n00:01:{n:02},000 --> 00:01:{n:02},500\nA cue long after the clip's end\n\n"
        ));
    }
    std::fs::write(&path, srt).expect("srt");
    path
}

/// The clip of [`make_clip_as`] with a subtitle track muxed in.
fn make_clip_with_subtitles(dir: &Path, srt: &Path) -> PathBuf {
    let path = dir.join("smpte-with-subtitles.mkv");
    encode(&format!(
        "videotestsrc num-buffers={FRAMES} pattern=smpte ! video/x-raw,format={},width={WIDTH},height={HEIGHT},framerate=30/1 \
         ! x264enc speed-preset=ultrafast key-int-max={GOP} ! h264parse ! matroskamux name=m ! filesink location={} \
         filesrc location={} ! subparse ! m.",
        clip_format(),
        path.display(),
        srt.display()
    ));
    path
}

/// Pixels of the bottom centre of the picture (where subtitles go, away
/// from the pattern's noise corner) that differ from the pattern by more
/// than a coding error would.
fn subtitle_band_changes(shot: &Screenshot, reference: &[u8]) -> usize {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    assert_eq!(
        (shot.width, shot.height),
        (WIDTH, HEIGHT),
        "screenshot size"
    );
    let mut changed = 0;
    for y in h * 3 / 4..h {
        for x in w / 4..w * 3 / 4 {
            let i = (y * w + x) * 3;
            let differs = (0..3).any(|c| shot.rgb[i + c].abs_diff(reference[i + c]) > 48);
            changed += usize::from(differs);
        }
    }
    changed
}

/// An embedded SubRip track, and `--sub` with .srt, .ass and .vtt files:
/// each cue on screen while it runs (the frames not copied), gone after.
#[test]
fn subtitles_show_above_the_video_without_touching_its_frames() {
    require_vm();
    let dir = std::env::temp_dir().join("zc-vm-player-subtitles");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let embedded = write_srt(&dir, "embedded.srt", "EMBEDDED <i>LINE</i>");
    let external = write_srt(&dir, "external.srt", "FROM A FILE");
    // The same cue as SubStation Alpha (which the player turns into
    // WebVTT) and as WebVTT, their markup gone from the text shown.
    let ass = dir.join("external.ass");
    std::fs::write(
        &ass,
        "[Script Info]\nScriptType: v4.00+\n\n[Events]\n\
         Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
         Dialogue: 0,0:00:00.50,0:00:03.50,Default,,0,0,0,,FROM AN {\\b1}ASS{\\b0} FILE\n",
    )
    .expect("ass");
    let vtt = dir.join("external.vtt");
    std::fs::write(
        &vtt,
        "WEBVTT\n\n00:00:00.500 --> 00:00:03.500\nFROM A <b>VTT</b> FILE\n",
    )
    .expect("vtt");
    let with_track = make_clip_with_subtitles(&dir, &embedded);
    let plain = make_clip(&dir);
    let reference = zc_vm_tests::smpte::reference_rgb(&clip_format(), WIDTH, HEIGHT);
    for (clip, sub, text) in [
        (&with_track, None, "EMBEDDED LINE"),
        (&plain, Some(&external), "FROM A FILE"),
        (&plain, Some(&ass), "FROM AN ASS FILE"),
        (&plain, Some(&vtt), "FROM A VTT FILE"),
    ] {
        let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
        let mut player = match sub {
            None => Player::start(&weston, clip, &dir),
            Some(sub) => Player::launch(
                &weston,
                [
                    clip.as_os_str(),
                    OsStr::new("--sub"),
                    sub.as_os_str(),
                    OsStr::new("--loop"),
                ],
                &dir,
                &[],
            ),
        };
        // On screen while the cue runs: the band at the bottom changed, and
        // the video frames are still not copied.
        let (shown, stats) = player.screenshot_while_shown(&weston, text, |shot| {
            subtitle_band_changes(shot, &reference) > 300
        });
        let changed = subtitle_band_changes(&shown, &reference);
        println!("{text}: {changed} pixels changed; {stats}");
        assert!(
            changed > 300,
            "{text}: the subtitle is not on screen ({changed} pixels changed): {}",
            shown.path.display()
        );
        assert_eq!(stats["copies-per-frame"], 0.0, "{stats}");
        assert_eq!(stats["path"], "dmabuf", "{stats}");
        // Gone after its end (3.5 s): the picture is the pattern again.
        player.wait_for_subtitle(None);
        player.pause_without_subtitles_at(4.0);
        let gone = weston.screenshot();
        let left = subtitle_band_changes(&gone, &reference);
        assert!(
            left < 50,
            "{text}: still on screen after its end ({left} pixels changed): {}",
            gone.path.display()
        );
        let quit = player.ok(r#"{"command":"quit"}"#);
        assert_eq!(quit["fds-left-open"], 0, "{quit}");
        let _ = player.child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pixels of `shot` that differ from the pattern by more than a coding
/// error would, inside the rectangle `(x, y, w, h)` and in the bars above
/// the picture's lower third outside it (the noise corner lies below).
fn changes_in_and_around(shot: &Screenshot, reference: &[u8], rect: [u32; 4]) -> (usize, usize) {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    assert_eq!(
        (shot.width, shot.height),
        (WIDTH, HEIGHT),
        "screenshot size"
    );
    let [rx, ry, rw, rh] = rect.map(|v| v as usize);
    let (mut inside, mut outside) = (0, 0);
    for y in 0..h * 2 / 3 {
        for x in 0..w {
            let i = (y * w + x) * 3;
            let differs = (0..3).any(|c| shot.rgb[i + c].abs_diff(reference[i + c]) > 48);
            if (rx..rx + rw).contains(&x) && (ry..ry + rh).contains(&y) {
                inside += usize::from(differs);
            } else {
                outside += usize::from(differs);
            }
        }
    }
    (inside, outside)
}

/// The on-screen display: a pause over the control socket shows it (pause
/// mark, time, seek bar) above the video and keeps it while paused; the
/// bars elsewhere are untouched and the frames are still not copied; once
/// playing again it is gone after its timeout.
#[test]
fn the_osd_shows_above_the_video_and_hides_after_its_timeout() {
    require_vm();
    let dir = std::env::temp_dir().join("zc-vm-player-osd");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let clip = make_clip(&dir);
    let reference = zc_vm_tests::smpte::reference_rgb(&clip_format(), WIDTH, HEIGHT);
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let mut player = Player::start(&weston, &clip, &dir);
    let stats = wait_for_frames(&mut player, 3);
    assert_eq!(
        stats["osd"],
        serde_json::json!([]),
        "nothing asked for it yet: {stats}"
    );

    player.ok(r#"{"command":"pause"}"#);
    // Past the timeout: paused, it stays.
    std::thread::sleep(Duration::from_secs(2));
    let stats = player.stats();
    assert_eq!(
        stats["osd"],
        serde_json::json!(["pause", "time", "seek-bar"]),
        "{stats}"
    );
    let rect: [u32; 4] = serde_json::from_value(stats["osd-rect"].clone())
        .unwrap_or_else(|e| panic!("osd-rect: {e}: {stats}"));
    let [x, y, w, h] = rect;
    assert!(
        x + w <= WIDTH && y + h <= HEIGHT / 3 && w >= WIDTH / 2,
        "{stats}"
    );
    let shown = weston.screenshot();
    let (inside, outside) = changes_in_and_around(&shown, &reference, rect);
    println!(
        "paused: {inside} of {} OSD pixels changed, {outside} elsewhere; {stats}",
        w * h
    );
    assert!(
        inside > (w * h / 2) as usize,
        "the OSD is not on screen ({inside} of {} pixels changed): {}",
        w * h,
        shown.path.display()
    );
    assert!(
        outside < 200,
        "{outside} pixels changed outside the OSD: {}",
        shown.path.display()
    );
    check_pattern(
        &shown,
        &clip_format(),
        WIDTH,
        HEIGHT,
        (0, 0, WIDTH, HEIGHT),
        TOLERANCE,
    );
    // The frames under it: dma-bufs, nothing copied anywhere.
    assert_zero_copy(&stats);

    // Playing again: the time without the pause mark, gone after about a second.
    player.ok(r#"{"command":"play"}"#);
    let resumed = Instant::now();
    let hidden = player.wait_for("the OSD to hide", Duration::from_millis(100), |s| {
        s["osd"] == serde_json::json!([])
    });
    let after = resumed.elapsed();
    assert!(
        after >= Duration::from_millis(900),
        "hidden after {after:?}: {hidden}"
    );
    assert_eq!(hidden["osd-rect"], Value::Null, "{hidden}");
    let gone = weston.screenshot();
    let (inside, outside) = changes_in_and_around(&gone, &reference, rect);
    println!(
        "playing: hidden after {after:?}; {inside} OSD pixels still changed, {outside} elsewhere"
    );
    assert!(
        inside + outside < 200,
        "the OSD is still on screen ({inside} pixels changed there): {}",
        gone.path.display()
    );
    let quit = player.ok(r#"{"command":"quit"}"#);
    assert_eq!(quit["fds-left-open"], 0, "{quit}");
    let _ = player.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
