//! zc-player in the VM: what it draws above the video, never into it.
//! Subtitles (an embedded SubRip track, and --sub with .srt, .ass and .vtt
//! files) show while their cue runs and go after it, and the OSD shows
//! above the picture and hides after its timeout; the frames under them
//! stay dma-bufs with nothing copied.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use zc_vm_tests::clip::{self, FRAMES, GOP, HEIGHT, TOLERANCE, WIDTH};
use zc_vm_tests::player::{Player, assert_zero_copy, encode};
use zc_vm_tests::require_vm;
use zc_vm_tests::smpte::check_pattern;
use zc_vm_tests::weston::{Renderer, Screenshot, Weston};

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
        clip::format(),
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
    let plain = clip::make(&dir);
    let reference = zc_vm_tests::smpte::reference_rgb(&clip::format(), WIDTH, HEIGHT);
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
    let clip = clip::make(&dir);
    let reference = zc_vm_tests::smpte::reference_rgb(&clip::format(), WIDTH, HEIGHT);
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let mut player = Player::start(&weston, &clip, &dir);
    let stats = player.wait_for_frames(3);
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
        &clip::format(),
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
