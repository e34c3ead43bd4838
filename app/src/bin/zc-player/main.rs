//! zc-player: a desktop video player on the zero-copy path. The decoder
//! writes into dma-bufs from zc's pool (zcexport), the compositor imports
//! them (the Wayland sink, embedded in our window), and a snapshot reads one
//! inside CPU-access brackets (zcthumbnail). Driven by keys, the mouse and a
//! JSON-lines control socket.

mod lifecycle;
mod playback;
mod session;
mod window;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use smithay_client_toolkit::reexports::calloop::EventLoop;
use smithay_client_toolkit::reexports::calloop::channel;
use zc_app::lock;
use zc_app::player::controls::MAX_SEEK_SECONDS;
use zc_app::player::fds::{OpenFd, open_fds, opened_since};
use zc_app::player::ipc::{Call, IpcServer};
use zc_app::weston::{HeadlessWeston, WestonConfig};

use lifecycle::{Signals, Watcher, signal_name};
use playback::{BackendSetting, PathPreference};
use session::Outcome;
use window::App;

const EXAMPLES: &str = "\
Examples:
  zc-player clip.mp4                       play a file in a window
  zc-player https://example.com/a.mkv      play a URI (anything GStreamer reads)
  zc-player clip.mp4 --fullscreen --loop   fullscreen, start over at the end
  zc-player clip.mp4 --path copy           force the copy path, for comparison
  zc-player film.mkv --sub film.en.srt     subtitles from a file of their own
  zc-player clip.mp4 --headless --ipc /tmp/zc.sock --keep-open
                                           no desktop: a headless Weston of its own,
                                           driven through the control socket:
  echo '{\"command\":\"stats\"}' | socat - UNIX-CONNECT:/tmp/zc.sock
  zc-playerctl /tmp/zc.sock '{\"command\":\"seek\",\"seconds\":10}' '{\"command\":\"quit\"}'

Keys: space pause/resume, Left/Right seek 5 s, Up/Down 60 s, f or double-click
fullscreen, m mute, 9/0 volume, s snapshot (full size PNG in the current folder),
i statistics panel, q or Esc quit.

Control socket (one JSON object per line, one reply per line):
  play, pause, seek {seconds, relative?, accurate?}, position, duration, stats,
  snapshot {path?}, screenshot {path} (own headless Weston only), key {key}, quit.

Exit status: 0 done, 1 failure while playing (e.g. the compositor went away),
2 the input cannot be played (missing file, no decoder, failing URI).";

/// A desktop video player on zc's zero-copy path (dma-buf from decoder to compositor).
#[derive(Parser, Debug)]
#[command(name = "zc-player", version, after_help = EXAMPLES)]
struct Args {
    /// A video file or a URI (file://, http://, ...).
    input: String,
    /// Start fullscreen.
    #[arg(long)]
    fullscreen: bool,
    /// Show the subtitles of this file (.srt, .ass, .vtt, .sub: what GStreamer's
    /// subparse reads) instead of the input's own.
    #[arg(long, value_name = "FILE")]
    sub: Option<String>,
    /// Start over at the end of the stream.
    #[arg(long = "loop")]
    looping: bool,
    /// Stay on the last frame at the end instead of quitting.
    #[arg(long)]
    keep_open: bool,
    /// Start at this position in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    start: Option<f64>,
    /// How frames reach the compositor (`copy` forces a CPU copy, for comparison).
    #[arg(long, value_parser = zc_app::cli::enum_parser::<PathPreference>(), default_value = "auto")]
    path: PathPreference,
    /// Where zcexport's pool allocates its dma-bufs.
    #[arg(long, value_parser = zc_app::cli::enum_parser::<BackendSetting>(), default_value = "auto")]
    backend: BackendSetting,
    /// Listen for JSON-lines commands on this Unix socket.
    #[arg(long, value_name = "PATH")]
    ipc: Option<PathBuf>,
    /// Start a headless Weston of our own even when WAYLAND_DISPLAY is set.
    #[arg(long)]
    headless: bool,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .trim()
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds, e.g. 12.5"))?;
    if !seconds.is_finite() || !(0.0..=MAX_SEEK_SECONDS).contains(&seconds) {
        return Err(format!(
            "`{text}`: the start is 0 to {MAX_SEEK_SECONDS:e} seconds"
        ));
    }
    Ok(seconds)
}

fn main() {
    zc_app::cli_docs::generate_if_asked(Args::command);
    let args = Args::parse();
    let code = match run(&args) {
        Ok(Outcome::Done) => 0,
        Ok(Outcome::BadInput(message)) => {
            match &args.sub {
                // Either file may be what GStreamer could not read.
                Some(sub) => eprintln!(
                    "zc-player: cannot play {} with the subtitles {sub}: {message}",
                    args.input
                ),
                None => eprintln!("zc-player: cannot play {}: {message}", args.input),
            }
            2
        }
        Ok(Outcome::Interrupted(signal)) => {
            eprintln!("zc-player: stopped by {}", signal_name(signal));
            128 + signal
        }
        Err(err) => {
            eprintln!("zc-player: {err:#}");
            1
        }
    };
    std::process::exit(code);
}

/// The input as a URI, or why it cannot be played.
fn input_uri(input: &str) -> Result<String, String> {
    let looks_like_uri = input.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if looks_like_uri {
        return Ok(input.to_owned());
    }
    let path = Path::new(input);
    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            "no such file (give an existing video file or a URI such as file:///path/clip.mp4)"
                .to_owned()
        }
        _ => format!("cannot read it: {e}"),
    })?;
    if metadata.is_dir() {
        return Err("it is a folder; give a video file".to_owned());
    }
    std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let absolute =
        std::path::absolute(path).map_err(|e| format!("cannot resolve the path: {e}"))?;
    gst::glib::filename_to_uri(&absolute, None)
        .map(|u| u.to_string())
        .map_err(|e| format!("cannot turn the path into a URI: {e}"))
}

/// Where to connect: `WAYLAND_DISPLAY` (a name under `XDG_RUNTIME_DIR` or
/// an absolute path), or None when there is no session.
fn session_socket() -> Option<PathBuf> {
    let display = std::env::var_os("WAYLAND_DISPLAY").filter(|d| !d.is_empty())?;
    let display = PathBuf::from(display);
    if display.is_absolute() {
        return Some(display);
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")?;
    Some(PathBuf::from(runtime).join(display))
}

fn run(args: &Args) -> Result<Outcome> {
    let uri = match input_uri(&args.input) {
        Ok(uri) => uri,
        Err(message) => return Ok(Outcome::BadInput(message)),
    };
    let subtitle_uri = match args.sub.as_deref().map(input_uri).transpose() {
        Ok(uri) => uri,
        Err(message) => {
            return Ok(Outcome::BadInput(format!(
                "the subtitle file {}: {message}",
                args.sub.as_deref().unwrap_or_default()
            )));
        }
    };
    let signals = Signals::install()?;
    gst::init().context("GStreamer did not initialise")?;
    gstzerocopy::plugin_register_static().context("registering the zerocopy plugin")?;
    // Everything the player writes for itself lives in one fresh 0700
    // folder (mkdtemp): snapshots on their way, its Weston's runtime folder.
    let private = zc_app::files::private_dir("zc-player-", &std::env::temp_dir())
        .context("cannot create the player's temporary folder")?;

    // A compositor: the session's, or a headless one of our own.
    let (socket, weston) = match (args.headless, session_socket()) {
        (false, Some(socket)) => (socket, None),
        (headless, _) => {
            let weston = HeadlessWeston::start(&WestonConfig {
                // Desktop-sized, so the window and its panel have room.
                width: 1280,
                height: 720,
                runtime_parent: Some(private.path().to_owned()),
                die_with_parent: true,
                ..WestonConfig::default()
            })
            .context("starting a headless Weston")?;
            eprintln!(
                "zc-player: {}: started a headless Weston at {} (pid {})",
                if headless {
                    "--headless"
                } else {
                    "no WAYLAND_DISPLAY"
                },
                weston.socket_path().display(),
                weston.pid()
            );
            (weston.socket_path(), Some(Rc::new(weston)))
        }
    };

    let mut event_loop: EventLoop<App> =
        EventLoop::try_new().context("cannot create the event loop")?;
    let (bus_sender, bus_events) = channel::channel();
    let (ipc_sender, ipc_calls) = channel::channel::<Call>();
    let ipc = match &args.ipc {
        Some(path) => {
            let sender = Mutex::new(ipc_sender);
            Some(IpcServer::start(path, move |call| {
                lock(&sender).send(call).is_ok()
            })?)
        }
        None => None,
    };
    // A safety net only: without it the player still cleans up after itself,
    // just not after SIGKILL.
    let watcher = match Watcher::start(
        private.path(),
        ipc.as_ref()
            .map(|server| (server.path(), server.identity())),
    ) {
        Ok(watcher) => Some(watcher),
        Err(err) => {
            eprintln!("zc-player: {err:#}; if the player is killed, its files stay behind");
            None
        }
    };
    let audio = playback::audio_device_available();
    // Everything open from here on belongs to playback and must be closed
    // again when the player quits.
    let baseline = open_fds();

    let outcome = session::play(
        args,
        &uri,
        subtitle_uri.as_deref(),
        audio,
        &private.path().join("snapshots"),
        &signals,
        &socket,
        weston.clone(),
        &mut event_loop,
        bus_sender,
        bus_events,
        ipc_calls,
    );
    drop(event_loop);
    let (outcome, quit_reply) = outcome?;
    let leaked = opened_since(
        &baseline,
        &open_fds(),
        &ipc.as_ref()
            .map(|s| s.connection_targets())
            .unwrap_or_default(),
    );
    if let Some(reply) = quit_reply {
        let _ = reply.send(Ok(quit_fields(&baseline, &leaked)));
    }
    if !leaked.is_empty() && matches!(outcome, Outcome::Done) {
        eprintln!(
            "zc-player: {} fds opened during playback are still open: {:?}",
            leaked.len(),
            leaked
        );
    }
    drop(ipc);
    drop(weston);
    drop(private);
    drop(watcher);
    Ok(outcome)
}

fn quit_fields(
    baseline: &[OpenFd],
    leaked: &[OpenFd],
) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("fds-before-playback".into(), baseline.len().into());
    fields.insert("fds-left-open".into(), leaked.len().into());
    fields.insert(
        "left-open".into(),
        leaked
            .iter()
            .map(|f| serde_json::Value::String(format!("{} -> {}", f.fd, f.target)))
            .collect::<Vec<_>>()
            .into(),
    );
    fields
}
