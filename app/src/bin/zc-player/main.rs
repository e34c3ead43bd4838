//! zc-player: a desktop video player on the zero-copy path. The decoder
//! writes into dma-bufs from zc's pool (zcexport), the compositor imports
//! them (the Wayland sink, embedded in our window), and a snapshot reads one
//! inside CPU-access brackets (zcthumbnail). Driven by keys, the mouse and a
//! JSON-lines control socket.

mod args;
mod lifecycle;
mod playback;
mod session;
mod window;

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Mutex;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};

pub(crate) use args::{Args, input_uri};
use args::{SubtitleInput, file_uri, playlist_of, subtitle_input};
use smithay_client_toolkit::reexports::calloop::EventLoop;
use smithay_client_toolkit::reexports::calloop::channel;
use zc_app::lock;
use zc_app::player::fds::{OpenFd, open_fds, opened_since};
use zc_app::player::ipc::{Call, IpcServer};
use zc_app::weston::{HeadlessWeston, WestonConfig};

use lifecycle::{Signals, Watcher, ending};
use session::Outcome;
use window::App;

/// The player's debug category: what reached the window and why it shows
/// or hides something (`GST_DEBUG=zc-player:5`; 6 adds every look at the
/// time), as an element's category
/// explains what the element did.
pub(crate) static CAT: std::sync::LazyLock<gst::DebugCategory> = std::sync::LazyLock::new(|| {
    gst::DebugCategory::new(
        "zc-player",
        gst::DebugColorFlags::empty(),
        Some("zc-player: each subtitle cue, and why it shows or hides"),
    )
});

fn main() {
    zc_app::cli_docs::generate_if_asked(Args::command);
    let args = Args::parse();
    let result = run(&args);
    let (code, message) = ending(&result, args.sub.as_deref());
    if let Some(message) = message {
        eprintln!("zc-player: {message}");
    }
    std::process::exit(code);
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
    gst::init().context("GStreamer did not initialise")?;
    let playlist = match playlist_of(args) {
        Ok(playlist) => playlist,
        Err(message) => return Ok(Outcome::BadInput(message)),
    };
    let subtitle = match args.sub.as_deref().map(subtitle_input).transpose() {
        Ok(subtitle) => subtitle,
        Err(message) => return Ok(Outcome::BadInput(message)),
    };
    let signals = Signals::install()?;
    gstzerocopy::plugin_register_static().context("registering the zerocopy plugin")?;
    // Everything the player writes for itself lives in one fresh 0700
    // folder (mkdtemp): snapshots on their way, its Weston's runtime folder.
    let private = zc_app::files::private_dir("zc-player-", &std::env::temp_dir())
        .context("cannot create the player's temporary folder")?;
    let subtitle_uri = match subtitle {
        Some(SubtitleInput::Uri(uri)) => Some(uri),
        Some(SubtitleInput::WebVtt(text)) => {
            let path = private.path().join("subtitles.vtt");
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Some(file_uri(&path).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };

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
    let audio = if args.no_audio {
        playback::AudioOutput::Off
    } else if playback::audio_device_available() {
        playback::AudioOutput::Device
    } else {
        playback::AudioOutput::NoDevice
    };
    // Everything open from here on belongs to playback and must be closed
    // again when the player quits.
    let baseline = open_fds();

    let outcome = session::play(
        args,
        playlist,
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
