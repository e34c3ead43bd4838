//! zc-player on GNOME's Mutter (forky's root has Mutter 50), the
//! compositor most desktop users run: the window maps with the player's
//! own drawn decorations (Mutter offers no server-side ones), frames are
//! presented, and the decoder's dma-bufs reach Mutter with 0 bytes copied.
//! Mutter has no screenshot client: the player's statistics and the sink's
//! presentation feedback say what happened. Roots without Mutter skip this,
//! saying so; forky must run it.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::time::Duration;

use zc_vm_tests::mutter::{Mutter, VirtioGpu};
use zc_vm_tests::player::{Player, assert_zero_copy, count, encode};
use zc_vm_tests::require_vm;

/// The clip: SMPTE bars, I420 H.264 (libav's strides match zc's pool at
/// this width, so the decoder writes into zcexport's dma-bufs).
const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

#[test]
fn the_player_runs_on_mutter_with_its_own_decorations_on_dma_bufs() {
    require_vm();
    if !zc_vm_tests::mutter::here_or_skip() {
        return;
    }
    let dir = std::env::temp_dir().join("zc-vm-player-mutter");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let clip = dir.join("smpte.mkv");
    encode(&format!(
        "videotestsrc num-buffers=90 pattern=smpte ! video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate=30/1 \
         ! x264enc speed-preset=ultrafast key-int-max=30 ! h264parse ! matroskamux ! filesink location={}",
        clip.display()
    ));
    let _gpu = VirtioGpu::load();
    let mutter = Mutter::start();
    // Smaller than Mutter's 640x480 monitor, so it keeps the size asked for.
    let mut player = Player::launch_on(
        &mutter.socket,
        [
            clip.as_os_str(),
            OsStr::new("--loop"),
            OsStr::new("--geometry"),
            OsStr::new("480x360"),
        ],
        &dir,
        &[],
    );
    let stats = player.wait_for(
        "frames presented on Mutter",
        Duration::from_millis(500),
        |s| s["frames-presented"].as_u64() >= Some(3),
    );
    println!("on Mutter: {stats}");
    // Mutter has no xdg-decoration: the player draws its title bar.
    assert_eq!(stats["decorations"], "client", "{stats}");
    assert_eq!(stats["fullscreen"], false, "{stats}");
    // The video area leaves room for it at the top of the 480x360 window.
    let area: [i64; 4] = serde_json::from_value(stats["video-area"].clone())
        .unwrap_or_else(|e| panic!("video-area: {e}: {stats}"));
    let [_, bar, width, height] = area;
    assert!(bar > 0, "no room for the title bar: {stats}");
    assert_eq!((width, bar + height), (480, 360), "{stats}");
    // The decoder's dma-bufs, imported by Mutter: nothing copied.
    assert_eq!(stats["sink"], "zcwaylandsink", "{stats}");
    assert_eq!(stats["conversion"], "none", "{stats}");
    assert_zero_copy(&stats);
    assert!(count(&stats, "frames-rendered") >= 3, "{stats}");

    // The OSD shows there too, below the drawn title bar.
    player.ok(r#"{"command":"pause"}"#);
    let paused = player.wait_for("the OSD while paused", Duration::from_millis(200), |s| {
        s["osd"].as_array().is_some_and(|parts| !parts.is_empty())
    });
    let top = paused["osd-rect"][1].as_i64().expect("osd-rect");
    assert!(top > bar, "the OSD is placed below the title bar: {paused}");

    let quit = player.ok(r#"{"command":"quit"}"#);
    assert_eq!(quit["fds-left-open"], 0, "{quit}");
    let status = player.child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(0),
        "log:\n{}\nmutter log:\n{}",
        player.log(),
        mutter.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
