//! zc-player with a sound card (snd-dummy, which plays PCM at its real
//! rate into nothing): an audio-only playlist plays to its end, each entry
//! heard (the card's playback stream runs and its hardware pointer moves),
//! handed over gaplessly from one to the next, with the requests that
//! need a video refused by name; and a clip with video and audio shows
//! its frames while the card plays its sound.
//!
//! The other VM tests run without a sound card (the player then plays the
//! video only); the card is unloaded when each test here ends.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use zc_vm_tests::player::{Player, assert_zero_copy, count, encode};
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
    let first = make_tone(&dir, "first.ogg", 4);
    let second = make_tone(&dir, "second.ogg", 4);
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let mut player = Player::launch(&weston, [first.as_os_str(), second.as_os_str()], &dir, &[]);

    let stats = wait_until_heard(&mut player, &card, "the first tone heard");
    println!("stats while the first tone plays: {stats}");
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
    wait_until_heard(&mut player, &card, "the second tone heard");

    // The end of the playlist ends the player, and it lets the card go.
    let (status, log) = player
        .wait_for_or_exit("the end", Duration::from_millis(500), |_| false)
        .expect_err("the player ends at the end of the playlist");
    assert_eq!(status.code(), Some(0), "{log}");
    // (The second, handed over, starts no preroll of its own to say it.)
    assert!(
        log.contains("first.ogg has no video stream: playing its audio"),
        "{log}"
    );
    assert!(log.contains("playing 2 of 2"), "{log}");
    assert!(!log.contains("cannot play"), "{log}");
    assert_eq!(card.playback().state, "closed", "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_clip_with_sound_shows_its_frames_while_the_card_plays_it() {
    require_vm();
    let card = DummySoundCard::load();
    let dir = temp_dir("av");
    let clip = dir.join("av.mkv");
    encode(&format!(
        "matroskamux name=m ! filesink location={} \
         videotestsrc num-buffers=120 pattern=smpte ! video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate=30/1 \
         ! x264enc speed-preset=ultrafast key-int-max=30 ! h264parse ! m. \
         audiotestsrc num-buffers={} ! audioconvert ! vorbisenc ! m.",
        clip.display(),
        4 * BUFFERS_PER_SECOND
    ));
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
