//! zc-player's start-up and teardown natively: quitting by socket, signal
//! or SIGKILL leaves no Weston, socket or folder behind; a start that stays
//! silent or a pipeline that will not stop never hangs the player; a client
//! that never reads cannot hold up quit.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod player_support;

use player_support::*;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// An entry whose start stays silent past `--start-timeout` in a playlist
/// with entries after it is skipped: the next one plays (`playing`: its
/// index) in a new pipeline, `meanwhile` happens, and quit ends with
/// status 0 without stopping the stuck one.
fn assert_skipped_to(player: &mut Running, playing: u64, meanwhile: impl FnOnce(&mut Running)) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stats = player.control.request(r#"{"command":"stats"}"#);
        assert_eq!(stats["ok"], true, "{stats}");
        // A new pipeline's sink counts from 0.
        if stats["playlist-pos"] == playing && stats["frames-rendered"].as_u64() > Some(0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "entry {playing} never showed a frame: {stats}\n{}",
            player.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let stderr = player.stderr();
    for text in [
        "silent.mkv: no frame to show, and nothing from GStreamer for ",
        "skipping it, its pipeline left as it is",
    ] {
        assert!(stderr.contains(text), "no `{text}` in:\n{stderr}");
    }
    // Never stopped (stopping it would hang and leave it behind that way).
    assert!(
        !stderr.contains("did not stop the current entry"),
        "{stderr}"
    );
    meanwhile(player);
    quit_leaving_one_behind(player);
}

/// Quit with one pipeline left behind: it is not waited for (no 20 s
/// guard), the player says it ends without it, exits with status 0, and
/// nothing of it is left.
fn quit_leaving_one_behind(player: &mut Running) {
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
}

#[test]
fn a_silent_entry_with_entries_after_it_is_skipped() {
    let dir = temp_dir("silent-skipped");
    let clip = make_clip(&dir);
    let clip = clip.to_str().expect("utf-8");
    // A few frames to wake the first stuck pipeline up with, well within a
    // pipe's buffer.
    let wake_up = dir.join("wake-up.mkv");
    encode(&format!(
        "videotestsrc num-buffers=5 pattern=red ! video/x-raw,width=64,height=48,framerate=30/1 \
         ! x264enc ! h264parse ! matroskamux ! filesink location={}",
        wake_up.display()
    ));
    let wake_up = std::fs::read(&wake_up).expect("read");

    // Its own start. Then its source gets data after all: the pipeline left
    // as it is goes on until it blocks before the player's elements, and
    // the player plays on and quits as before.
    let run_dir = dir.join("first");
    std::fs::create_dir_all(&run_dir).expect("dir");
    let (fifo, mut writer) = silent_fifo(&run_dir);
    let mut player = Running::start_with(&run_dir, &fifo, &[clip, "--start-timeout", "2"]);
    assert_skipped_to(&mut player, 1, |player| {
        writer.write_all(&wake_up).expect("write into the FIFO");
        std::thread::sleep(Duration::from_secs(3));
        let stats = player.control.request(r#"{"command":"stats"}"#);
        assert_eq!(stats["playlist-pos"], 1, "{stats}\n{}", player.stderr());
    });

    // Taken over gaplessly after the clip played: the entry after it.
    let run_dir = dir.join("gapless");
    std::fs::create_dir_all(&run_dir).expect("dir");
    let (fifo, _writer) = silent_fifo(&run_dir);
    let fifo = fifo.to_str().expect("utf-8");
    let mut player = Running::start_with(
        &run_dir,
        Path::new(clip),
        &[fifo, clip, "--start-timeout", "3"],
    );
    assert_skipped_to(&mut player, 2, |_| {});
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
    quit_leaving_one_behind(&mut player);
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
