//! Driving zc-player from a VM test: the binary next to the test binary,
//! clips encoded with a gst-launch description, and a player started on a
//! Weston and talked to through its control socket.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use gst::prelude::*;
use serde_json::Value;

use crate::weston::{Screenshot, Weston};

/// The player's GST_DEBUG: the caller's, and its own category at DEBUG.
fn player_debug() -> String {
    match std::env::var("GST_DEBUG") {
        Ok(theirs) if !theirs.is_empty() => format!("{theirs},zc-player:5"),
        _ => "zc-player:5".to_owned(),
    }
}

/// Everything is slow under software emulation.
pub const SLOW: Duration = Duration::from_secs(300);
/// How long a player that stopped answering may take to exit: its
/// teardown guard gives up after 20 s (`zc-player`'s TEARDOWN_LIMIT).
const EXIT_AFTER_SILENCE: Duration = Duration::from_secs(60);

/// How long one request may wait for its reply: longer than the player's
/// own limit (after which it answers with an error), so only a player
/// that stopped answering altogether trips it.
const REPLY_TIMEOUT: Duration =
    Duration::from_secs(zc_app::player::ipc::REPLY_TIMEOUT.as_secs() + 30);

/// target/debug/deps/TEST-HASH -> target/debug/zc-player
pub fn player_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .join("zc-player");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p zc-app --bin zc-player` (cargo xtask test does)",
        path.display()
    );
    path
}

/// Run an encoding pipeline (a gst-launch description ending in a
/// filesink) to its end.
pub fn encode(description: &str) {
    gst::init().expect("gst::init");
    let pipeline = gst::parse::launch(description).expect("encoder pipeline");
    run_to_end(&pipeline, description);
}

/// Play an encoding pipeline to its end of stream (`description` says
/// which, where it fails).
pub fn run_to_end(pipeline: &gst::Element, description: &str) {
    pipeline.set_state(gst::State::Playing).expect("encode");
    let bus = pipeline.bus().expect("bus");
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(600),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the encoder finished");
    assert!(
        matches!(message.view(), gst::MessageView::Eos(_)),
        "encoding failed: {message:?}\n{description}"
    );
    pipeline.set_state(gst::State::Null).expect("null");
}

/// Run an encoding pipeline whose description has a Matroska muxer named
/// `m` and a branch `appsrc name=subs caps=CAPS ! m.subtitle_%u` (the caps
/// are the subtitle track's), feeding that branch `events` (such as
/// [`dvd_palette`]) and then `packets` at their timestamps.
pub fn encode_with_subtitle_packets(
    description: &str,
    events: Vec<gst::Event>,
    packets: &[(gst::ClockTime, Vec<u8>)],
) {
    gst::init().expect("gst::init");
    let pipeline = gst::parse::launch(description)
        .expect("encoder pipeline")
        .downcast::<gst::Bin>()
        .expect("a pipeline");
    let subs = pipeline
        .by_name("subs")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("an appsrc named subs");
    subs.set_format(gst::Format::Time);
    for event in events {
        assert!(
            subs.send_event(event),
            "the appsrc queues serialized events"
        );
    }
    for (pts, packet) in packets {
        let mut buffer = gst::Buffer::from_slice(packet.clone());
        buffer.get_mut().expect("writable").set_pts(*pts);
        subs.push_buffer(buffer).expect("a subtitle packet queued");
    }
    subs.end_of_stream().expect("subtitle end");
    run_to_end(pipeline.upcast_ref(), description);
}

/// A DVD subtitle track's palette `clut` (16 entries `0x00YYVVUU`) as DVD
/// sources and demuxers send it; matroskamux stores it in the track's
/// header.
pub fn dvd_palette(clut: [u32; 16]) -> gst::Event {
    gst::init().expect("gst::init");
    let mut table =
        gst::Structure::builder("application/x-gst-dvd").field("event", "dvd-spu-clut-change");
    for (n, entry) in clut.iter().enumerate() {
        table = table.field(format!("clut{n:02}"), *entry as i32);
    }
    gst::event::CustomDownstreamSticky::new(table.build())
}

/// Rename the codec of a Matroska file's track in place, `from` to `to`
/// (padded with NULs to `from`'s length, which EBML strings allow): how a
/// test makes a track no matroskamux writes (PGS, up to GStreamer 1.28) out
/// of one it does.
pub fn rename_codec(path: &Path, from: &str, to: &str) {
    assert!(to.len() <= from.len(), "{to} must fit in {from}");
    let mut bytes = std::fs::read(path).expect("the clip");
    let at: Vec<usize> = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from.as_bytes())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "{from} once in {}", path.display());
    let mut padded = to.as_bytes().to_vec();
    padded.resize(from.len(), 0);
    bytes[at[0]..at[0] + from.len()].copy_from_slice(&padded);
    std::fs::write(path, bytes).expect("the clip rewritten");
}

/// A running zc-player with its control socket.
pub struct Player {
    pub child: Child,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    log: PathBuf,
}

impl Player {
    /// Wait until `stats` says `subtitle` is `want` (`None`: none on
    /// screen); the stats then.
    pub fn wait_for_subtitle(&mut self, want: Option<&str>) -> Value {
        let deadline = Instant::now() + SLOW;
        loop {
            let stats = self.stats();
            if stats["subtitle"].as_str() == want {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "subtitle {want:?} never came: {stats}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Play `clip` with --loop.
    pub fn start(weston: &Weston, clip: &Path, dir: &Path) -> Player {
        Player::launch(weston, [clip.as_os_str(), OsStr::new("--loop")], dir, &[])
    }

    /// Run zc-player with `args` (inputs and options; --ipc is added) and
    /// `envs`, and connect to its control socket.
    pub fn launch<'a>(
        weston: &Weston,
        args: impl IntoIterator<Item = &'a OsStr>,
        dir: &Path,
        envs: &[(&str, &OsStr)],
    ) -> Player {
        Player::launch_on(&weston.socket_path(), args, dir, envs)
    }

    /// [`Player::launch`] on the compositor listening at `display` (a
    /// socket path: Weston's, Mutter's).
    pub fn launch_on<'a>(
        display: &Path,
        args: impl IntoIterator<Item = &'a OsStr>,
        dir: &Path,
        envs: &[(&str, &OsStr)],
    ) -> Player {
        let socket = dir.join("player.sock");
        let _ = std::fs::remove_file(&socket);
        let log = dir.join("player.log");
        let mut child = Command::new(player_binary())
            .args(args)
            .arg("--ipc")
            .arg(&socket)
            .env("WAYLAND_DISPLAY", display)
            // What reached the window and why it showed or hid it, in the
            // log a failure prints (after what the caller's GST_DEBUG asks).
            .env("GST_DEBUG", player_debug())
            .env("GST_DEBUG_NO_COLOR", "1")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start zc-player");
        let deadline = Instant::now() + SLOW;
        let stream = loop {
            match UnixStream::connect(&socket) {
                Ok(stream) => break stream,
                Err(e) => {
                    if let Some(status) = child.try_wait().expect("wait") {
                        panic!(
                            "zc-player exited ({status}) before its control socket came up; log:\n{}",
                            std::fs::read_to_string(&log).unwrap_or_default()
                        );
                    }
                    assert!(
                        Instant::now() < deadline,
                        "no control socket after {SLOW:?}: {e}; log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("a read timeout");
        Player {
            child,
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send one request; the reply, which must be ok.
    pub fn ok(&mut self, request: &str) -> Value {
        let reply = self.request(request);
        if reply["ok"] != true {
            // A player that went away: how it ended says why.
            std::thread::sleep(Duration::from_secs(2));
            let status = self.child.try_wait();
            let stacks = match status {
                Ok(None) => self.stacks(),
                _ => String::new(),
            };
            panic!(
                "{request} -> {reply}\nplayer status: {status:?}\n{stacks}\nplayer log:\n{}",
                self.log()
            );
        }
        reply
    }

    pub fn request(&mut self, request: &str) -> Value {
        self.try_request(request).unwrap_or_else(|why| {
            let stacks = self.stacks();
            panic!(
                "{request}: no reply ({why}); the player's threads:\n{stacks}\nlog:\n{}",
                self.log()
            )
        })
    }

    /// The reply to `request`, or why there is none: the player did not
    /// take it or did not answer (it went away; the read timeout passed).
    fn try_request(&mut self, request: &str) -> Result<Value, String> {
        writeln!(self.writer, "{request}").map_err(|e| format!("not sent: {e}"))?;
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("the player closed the socket".to_owned()),
            Ok(_) => Ok(serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{request} -> {line:?}: {e}\nlog:\n{}", self.log()))),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Every thread's stack of the running player (gdb, where installed),
    /// to say where it stopped answering or got stuck.
    fn stacks(&self) -> String {
        let pid = self.child.id().to_string();
        match Command::new("gdb")
            .args(["-p", &pid, "-batch", "-ex", "thread apply all bt"])
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => format!("(no gdb: {e})"),
        }
    }

    /// A screenshot taken while the player shows the subtitle `described`
    /// on which `on_screen` finds it, with the statistics from when it
    /// showed; else the last screenshot tried. The compositor shows a
    /// subtitle with its next repaint: screenshots are taken until one has
    /// it. A screenshot under emulation and load can take longer than a
    /// cue lasts (3 s); where the subtitle went before one had it, the
    /// next pass of the looping clip is tried, three in all.
    pub fn screenshot_while_shown(
        &mut self,
        weston: &Weston,
        described: &str,
        on_screen: impl Fn(&Screenshot) -> bool,
    ) -> (Screenshot, Value) {
        let mut last = None;
        for _ in 0..3 {
            let stats = self.wait_for_subtitle(Some(described));
            let deadline = Instant::now() + SLOW;
            loop {
                let shot = weston.screenshot();
                if on_screen(&shot) {
                    return (shot, stats);
                }
                last = Some((shot, stats.clone()));
                if self.stats()["subtitle"].as_str() != Some(described) || Instant::now() > deadline
                {
                    break;
                }
            }
        }
        last.expect("three passes")
    }

    /// Pause at `seconds`, a time no subtitle covers, once no subtitle is
    /// on screen: for a screenshot after a cue's end that the looping
    /// clip's next pass cannot bring back meanwhile.
    pub fn pause_without_subtitles_at(&mut self, seconds: f64) {
        self.ok(r#"{"command":"pause"}"#);
        self.ok(&format!(
            r#"{{"command":"seek","seconds":{seconds},"accurate":true}}"#
        ));
        self.wait_for_subtitle(None);
    }

    pub fn stats(&mut self) -> Value {
        self.ok(r#"{"command":"stats"}"#)
    }

    pub fn position(&mut self) -> Option<f64> {
        self.ok(r#"{"command":"position"}"#)["position-s"].as_f64()
    }

    /// Poll the statistics (every `every`) until `done` holds for them;
    /// they are returned. Fails after [`SLOW`] saying `what` was awaited,
    /// or where the player exited meanwhile.
    pub fn wait_for(
        &mut self,
        what: &str,
        every: Duration,
        done: impl FnMut(&Value) -> bool,
    ) -> Value {
        self.wait_for_or_exit(what, every, done)
            .unwrap_or_else(|(status, log)| {
                panic!("{what}: the player exited ({status}); log:\n{log}")
            })
    }

    /// [`Player::wait_for`], but a player that exits meanwhile is
    /// answered with its exit status and log instead of a failure.
    pub fn wait_for_or_exit(
        &mut self,
        what: &str,
        every: Duration,
        mut done: impl FnMut(&Value) -> bool,
    ) -> Result<Value, (ExitStatus, String)> {
        let deadline = Instant::now() + SLOW;
        loop {
            // A player on its way out: the request cannot be sent, reads
            // no reply, or is refused ("shutting down").
            let stats = match self.try_request(r#"{"command":"stats"}"#) {
                Ok(stats) if stats["ok"] == true => stats,
                reply => {
                    let why = format!("{what}: stats -> {reply:?}");
                    return Err(self.exit_after(EXIT_AFTER_SILENCE, &why));
                }
            };
            if done(&stats) {
                return Ok(stats);
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not after {SLOW:?}; last stats {stats}\nthe player's threads:\n{}\nlog:\n{}",
                self.stacks(),
                self.log()
            );
            std::thread::sleep(every);
        }
    }

    /// The exit status and log of a player on its way out, once it
    /// exited (a teardown takes a while; `timeout` at most, else a failure
    /// with its threads' stacks, saying `why`).
    fn exit_after(&mut self, timeout: Duration, why: &str) -> (ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "{why}, and the player did not exit; its threads:\n{}\nlog:\n{}",
                self.stacks(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The statistics once at least `at_least` frames were rendered.
    pub fn wait_for_frames(&mut self, at_least: u64) -> Value {
        self.wait_for(
            &format!("{at_least} frames shown"),
            Duration::from_millis(500),
            |stats| count(stats, "frames-rendered") >= at_least,
        )
    }

    /// Quit and wait for the exit.
    pub fn quit(self) -> (ExitStatus, String) {
        self.quit_with(r#"{"command":"quit"}"#)
    }

    /// Send `request`, which makes the player quit (`quit`, or a key that
    /// does), and wait for the exit.
    pub fn quit_with(mut self, request: &str) -> (ExitStatus, String) {
        self.ok(request);
        self.exit_after(SLOW, &format!("{request} was answered"))
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        // A failed test must not leave the player running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A counter from the statistics.
pub fn count(stats: &Value, name: &str) -> u64 {
    stats[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {stats}"))
}

/// Assert that the statistics show frames on the dma-buf path with not a
/// byte copied on the way: not by a conversion, zcexport or the sink.
pub fn assert_zero_copy(stats: &Value) {
    assert_eq!(stats["path"], "dmabuf", "{stats}");
    assert_eq!(stats["copies-per-frame"], 0.0, "{stats}");
    for counter in [
        "export-bytes-copied",
        "convert-bytes-copied",
        "sink-bytes-copied",
    ] {
        assert_eq!(count(stats, counter), 0, "{counter}: {stats}");
    }
}
