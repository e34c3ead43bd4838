//! zc-player's command line natively: bad input ends with one clear message
//! and exit status 2 (no panic, no hang), before any compositor is started
//! where the input can be checked first. Playback is in player_playback.rs,
//! start-up and teardown in player_teardown.rs; the dma-buf path is tested
//! in the VM (tests/tests/player.rs).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod player_support;

use player_support::*;
use std::time::{Duration, Instant};

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
fn an_audio_only_file_without_audio_output_is_refused_and_skipped_in_a_playlist() {
    let dir = temp_dir("audio-only");
    let audio = dir.join("tone.ogg");
    encode(&format!(
        "audiotestsrc num-buffers=50 ! vorbisenc ! oggmux ! filesink location={}",
        audio.display()
    ));
    let audio = audio.to_str().expect("utf-8");
    // --no-audio: the same on a machine with a sound card.
    let output = run_player(
        &[audio, "--headless", "--no-audio"],
        Duration::from_secs(120),
    );
    assert_bad_input(
        &output,
        &[
            "cannot play",
            "tone.ogg: it has audio but no video stream, and no audio output (--no-audio)",
        ],
    );

    // In a playlist it is skipped, and the next entry plays to its end.
    let clip = make_clip(&dir);
    let output = run_player(
        &[
            audio,
            clip.to_str().expect("utf-8"),
            "--headless",
            "--no-audio",
        ],
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
