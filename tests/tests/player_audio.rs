//! zc-player with a sound card (snd-dummy, which plays PCM at its real
//! rate into nothing): an audio-only playlist plays to its end, each entry
//! heard (the card's playback stream runs and its hardware pointer moves),
//! handed over gaplessly from one to the next, with its cover art in the
//! window and the requests that need a video refused by name; a playlist
//! mixing entries with and without video plays each, as does one of
//! videos with and without sound; and a clip with video and audio shows its
//! frames while the card plays its sound.
//!
//! The other VM tests run without a sound card (the player then plays the
//! video only); the card is unloaded when each test here ends.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gst::prelude::*;
use serde_json::Value;
use zc_vm_tests::player::{Player, assert_zero_copy, count, encode, run_to_end};
use zc_vm_tests::require_vm;
use zc_vm_tests::sound::DummySoundCard;
use zc_vm_tests::weston::{Renderer, Weston};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
/// audiotestsrc's buffers: 1024 samples at 44.1 kHz, 23 ms each.
const BUFFERS_PER_SECOND: u32 = 43;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zc-vm-player-audio-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A sine tone of about `seconds`, Vorbis in Ogg.
fn make_tone(dir: &Path, name: &str, seconds: u32) -> PathBuf {
    let path = dir.join(name);
    encode(&format!(
        "audiotestsrc num-buffers={} ! audioconvert ! vorbisenc ! oggmux ! filesink location={}",
        seconds * BUFFERS_PER_SECOND,
        path.display()
    ));
    path
}

/// A sine tone of about `seconds`, FLAC, with a 48x48 green PNG as its
/// cover (the `image` tag, which flacenc stores as a picture block).
fn make_tone_with_cover(dir: &Path, name: &str, seconds: u32) -> PathBuf {
    gst::init().expect("gst::init");
    let picture = gst::parse::launch(
        "videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xff00ff00 \
         ! video/x-raw,width=48,height=48 ! pngenc ! appsink name=out",
    )
    .expect("picture pipeline")
    .downcast::<gst::Bin>()
    .expect("a bin");
    let out = picture
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    picture.set_state(gst::State::Playing).expect("playing");
    let png = out.pull_preroll().expect("a PNG");
    picture.set_state(gst::State::Null).expect("null");

    let path = dir.join(name);
    let description = format!(
        "audiotestsrc num-buffers={} ! audioconvert ! flacenc name=enc ! filesink location={}",
        seconds * BUFFERS_PER_SECOND,
        path.display()
    );
    let encoder = gst::parse::launch(&description)
        .expect("encoder")
        .downcast::<gst::Bin>()
        .expect("a bin");
    let enc = encoder.by_name("enc").expect("flacenc");
    enc.dynamic_cast_ref::<gst::TagSetter>()
        .expect("flacenc sets tags")
        .add_tag::<gst::tags::Image>(&png, gst::TagMergeMode::Replace);
    run_to_end(encoder.upcast_ref(), &description);
    path
}

/// Wait until the card's playback stream runs and its hardware pointer
/// has moved on from where it was first seen running: the player's sound
/// reaches the card.
fn wait_until_heard(player: &mut Player, card: &DummySoundCard, what: &str) -> Value {
    let mut first = None;
    player.wait_for(what, Duration::from_millis(200), |_| {
        let status = card.playback();
        if !status.running() {
            return false;
        }
        match (first, status.hw_ptr) {
            (None, Some(ptr)) => {
                first = Some(ptr);
                false
            }
            (Some(before), Some(ptr)) => ptr > before,
            _ => false,
        }
    })
}

#[test]
fn an_audio_only_playlist_plays_to_its_end_on_the_sound_card() {
    require_vm();
    let card = DummySoundCard::load();
    let dir = temp_dir("only");
    let first = make_tone_with_cover(&dir, "first.flac", 6);
    let second = make_tone(&dir, "second.ogg", 6);
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let mut player = Player::launch(&weston, [first.as_os_str(), second.as_os_str()], &dir, &[]);

    let stats = wait_until_heard(&mut player, &card, "the first tone heard");
    println!("stats while the first tone plays: {stats}");
    // Its square cover art fills the window's height, centred: green in
    // the middle, black bars left and right.
    let stats = player.wait_for("the cover art", Duration::from_millis(200), |s| {
        s["cover"] == serde_json::json!([48, 48])
    });
    let shot = weston.screenshot();
    let [r, g, b] = shot.pixel(WIDTH / 2, HEIGHT / 2);
    assert!(
        g > 200 && r < 60 && b < 60,
        "no green cover in the middle ({r}, {g}, {b}): {}",
        shot.path.display()
    );
    for x in [10, WIDTH - 10] {
        assert_eq!(
            shot.pixel(x, HEIGHT / 2),
            [0, 0, 0],
            "a bar beside the cover at x={x}: {}",
            shot.path.display()
        );
    }
    assert_eq!(stats["audio"], true, "{stats}");
    assert_eq!(stats["video"], Value::Null, "{stats}");
    assert_eq!(count(&stats, "frames-rendered"), 0, "{stats}");
    assert_eq!(count(&stats, "playlist-pos"), 0, "{stats}");
    // The position moves with the sound.
    let at = stats["position-s"].as_f64().expect("a position");
    player.wait_for("the position moving", Duration::from_millis(200), |s| {
        s["position-s"].as_f64().is_some_and(|p| p > at + 0.2)
    });

    // What needs a video is refused, saying why; the player plays on.
    for request in [r#"{"command":"snapshot"}"#, r#"{"command":"frame-step"}"#] {
        let reply = player.request(request);
        assert_eq!(reply["ok"], false, "{request} -> {reply}");
        assert!(
            reply["error"]
                .as_str()
                .is_some_and(|e| e.contains("no video")),
            "{request} -> {reply}"
        );
    }
    assert_eq!(player.stats()["state"], "playing");

    // Paused: the card stops playing, and the window shows the pause mark,
    // the time and the seek bar (on its background: there is no video).
    player.ok(r#"{"command":"pause"}"#);
    let paused = player.wait_for("the sound stopping", Duration::from_millis(200), |_| {
        !card.playback().running()
    });
    assert_eq!(
        paused["osd"],
        serde_json::json!(["pause", "time", "seek-bar"]),
        "{paused}"
    );
    player.ok(r#"{"command":"play"}"#);
    wait_until_heard(&mut player, &card, "the first tone heard again");

    // The second tone follows (gaplessly), heard too, with its track
    // known (its collection comes before its stream starts).
    let stats = player.wait_for("the second entry", Duration::from_millis(200), |s| {
        s["playlist-pos"] == 1
    });
    println!("stats on the second tone: {stats}");
    assert_eq!(stats["audio-tracks"], 1, "{stats}");
    assert_eq!(stats["audio-track"], 1, "{stats}\n{}", player.log());
    // Its own position, from its start (the card itself runs on across
    // the hand-over).
    let at = stats["position-s"].as_f64().expect("a position");
    assert!(at < 3.0, "{stats}");
    player.wait_for(
        "the second tone's position moving",
        Duration::from_millis(200),
        |s| s["playlist-pos"] == 1 && s["position-s"].as_f64().is_some_and(|p| p > at + 0.2),
    );
    wait_until_heard(&mut player, &card, "the second tone heard");

    // The end of the playlist ends the player, and it lets the card go.
    let (status, log) = player
        .wait_for_or_exit("the end", Duration::from_millis(500), |_| false)
        .expect_err("the player ends at the end of the playlist");
    assert_eq!(status.code(), Some(0), "{log}");
    // (The second, handed over, starts no preroll of its own to say it.)
    assert!(
        log.contains("first.flac has no video stream: playing its audio"),
        "{log}"
    );
    assert!(log.contains("playing 2 of 2"), "{log}");
    assert!(!log.contains("cannot play"), "{log}");
    assert_eq!(card.playback().state, "closed", "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A video-only H.264 clip of about `seconds`.
fn make_video(dir: &Path, name: &str, seconds: u32) -> PathBuf {
    let path = dir.join(name);
    encode(&format!(
        "videotestsrc num-buffers={} pattern=smpte ! video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate=30/1 \
         ! x264enc speed-preset=ultrafast key-int-max=30 ! h264parse ! matroskamux ! filesink location={}",
        seconds * 30,
        path.display()
    ));
    path
}

/// Wait for the end of a playlist of three whose second and third
/// entries each change the kind of stream: the player ends with status 0
/// having played all three, each after the first started afresh (at its
/// STREAM_START) or on its own (where playbin3 stalls before it, once the
/// one before played out), none skipped; what it said is printed.
fn ends_having_started_each_afresh(player: &mut Player) -> String {
    let (status, log) = player
        .wait_for_or_exit("the end", Duration::from_millis(500), |_| false)
        .expect_err("the player ends at the end of the playlist");
    assert_eq!(status.code(), Some(0), "{log}");
    let said: Vec<&str> = log
        .lines()
        .filter(|line| line.starts_with("zc-player:"))
        .collect();
    println!("{}", said.join("\n"));
    let fresh = said
        .iter()
        .filter(|line| {
            line.contains("starting it afresh") || line.contains("starting it on its own")
        })
        .count();
    assert_eq!(fresh, 2, "{log}");
    assert!(log.contains("playing 3 of 3"), "{log}");
    assert!(!log.contains("cannot play"), "{log}");
    assert!(!log.contains("skipping it"), "{log}");
    log
}

/// Video, then audio only, then video: each hand-over between an entry
/// with a video and one without starts the new entry afresh, and each
/// plays (frames shown, or the tone heard with no video left on screen).
#[test]
fn a_playlist_mixing_video_and_audio_only_entries_plays_each() {
    require_vm();
    let card = DummySoundCard::load();
    let dir = temp_dir("mixed");
    let video = make_video(&dir, "video.mkv", 3);
    let tone = make_tone(&dir, "tone.ogg", 4);
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let mut player = Player::launch(
        &weston,
        [video.as_os_str(), tone.as_os_str(), video.as_os_str()],
        &dir,
        &[],
    );
    player.wait_for(
        "the first video's frames",
        Duration::from_millis(200),
        |s| s["playlist-pos"] == 0 && count(s, "frames-rendered") >= 3,
    );
    player.wait_for("the tone", Duration::from_millis(200), |s| {
        s["playlist-pos"] == 1 && s["state"] == "playing"
    });
    wait_until_heard(&mut player, &card, "the tone heard");
    let stats = player.wait_for("no video left", Duration::from_millis(200), |s| {
        s["playlist-pos"] == 1 && s["video"].is_null()
    });
    println!("stats on the tone: {stats}");
    let reply = player.request(r#"{"command":"snapshot"}"#);
    assert_eq!(reply["ok"], false, "{reply}");
    player.wait_for("the last video's frames", Duration::from_millis(200), |s| {
        s["playlist-pos"] == 2 && count(s, "frames-rendered") >= 3
    });
    let log = ends_having_started_each_afresh(&mut player);
    assert_eq!(card.playback().state, "closed", "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An H.264 clip with a Vorbis tone, of about `seconds`.
fn make_av(dir: &Path, name: &str, seconds: u32) -> PathBuf {
    let path = dir.join(name);
    encode(&format!(
        "matroskamux name=m ! filesink location={} \
         videotestsrc num-buffers={} pattern=smpte ! video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate=30/1 \
         ! x264enc speed-preset=ultrafast key-int-max=30 ! h264parse ! m. \
         audiotestsrc num-buffers={} ! audioconvert ! vorbisenc ! m.",
        path.display(),
        seconds * 30,
        seconds * BUFFERS_PER_SECOND
    ));
    path
}

/// A video without sound, one with, and one without again: each plays,
/// the second's frames shown and its sound heard. A sound that comes or
/// goes changes what playbin3 links, so each entry after the first is
/// started afresh or on its own (1.26's playbin3 stalls where a sound
/// comes: its STREAM_START never comes).
#[test]
fn videos_with_and_without_sound_in_turn_each_play() {
    require_vm();
    let card = DummySoundCard::load();
    let dir = temp_dir("silent-then-av");
    let silent = make_video(&dir, "silent.mkv", 2);
    let av = make_av(&dir, "av.mkv", 4);
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let mut player = Player::launch(
        &weston,
        [silent.as_os_str(), av.as_os_str(), silent.as_os_str()],
        &dir,
        &[],
    );
    player.wait_for(
        "the silent video's frames",
        Duration::from_millis(200),
        |s| s["playlist-pos"] == 0 && count(s, "frames-rendered") >= 3,
    );
    let stats = player.wait_for("the second video", Duration::from_millis(200), |s| {
        s["playlist-pos"] == 1 && s["state"] == "playing" && s["audio-tracks"] == 1
    });
    println!("stats on the second video: {stats}");
    wait_until_heard(&mut player, &card, "the second video's sound heard");
    let at = player.stats()["frames-rendered"].as_u64().unwrap_or(0);
    player.wait_for("its frames shown", Duration::from_millis(200), |s| {
        s["playlist-pos"] == 1 && count(s, "frames-rendered") > at
    });
    player.wait_for("the last video's frames", Duration::from_millis(200), |s| {
        s["playlist-pos"] == 2 && count(s, "frames-rendered") >= 3
    });
    let log = ends_having_started_each_afresh(&mut player);
    assert_eq!(card.playback().state, "closed", "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_clip_with_sound_shows_its_frames_while_the_card_plays_it() {
    require_vm();
    let card = DummySoundCard::load();
    let dir = temp_dir("av");
    let clip = make_av(&dir, "av.mkv", 4);
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let mut player = Player::launch(&weston, [clip.as_os_str(), OsStr::new("--loop")], &dir, &[]);

    wait_until_heard(&mut player, &card, "the clip's sound heard");
    let stats = player.wait_for("frames shown", Duration::from_millis(500), |s| {
        count(s, "frames-rendered") >= 3
    });
    println!("stats with sound: {stats}");
    assert_eq!(stats["audio"], true, "{stats}");
    assert_eq!(stats["audio-tracks"], 1, "{stats}");
    assert_zero_copy(&stats);

    let (status, log) = player.quit();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains("no audio device"), "{log}");
    assert_eq!(card.playback().state, "closed", "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
