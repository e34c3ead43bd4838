//! The session: connect to the compositor, make the window, wait for it to
//! be mapped, start the pipeline with the sink embedded in it, then run the
//! main loop (Wayland, the bus, the control socket, a half-second timer)
//! until the player quits, and tear down in the order the sink needs.
//! What the loop does with each event is in [`events`].

mod events;

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use smithay_client_toolkit::reexports::calloop::channel::{self, Event as ChannelEvent};
use smithay_client_toolkit::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay_client_toolkit::reexports::calloop::{self, EventLoop};
use smithay_client_toolkit::reexports::calloop_wayland_source::WaylandSource;
use smithay_client_toolkit::shell::WaylandSurface;
use wayland_client::globals::registry_queue_init;
use wayland_client::{Connection, Proxy};
use zc_app::player::ipc::Call;
use zc_app::player::playlist::Playlist;
use zc_app::player::wakeup;
use zc_app::player::watch_later::WatchLater;
use zc_app::weston::HeadlessWeston;

use crate::lifecycle::{Signals, TEARDOWN_LIMIT, TeardownGuard, abandon, ending};
use crate::playback::{self, Layout, Player, PlayerExit, PlayerOptions, WindowHandles};
use crate::window::{App, DEFAULT_SIZE};
use crate::{Args, lock};

/// How a session ended, short of an error.
pub(crate) enum Outcome {
    Done,
    BadInput(String),
    /// A quit signal (its number) ended playback; torn down like `quit`.
    Interrupted(i32),
}

type QuitReply = Option<std::sync::mpsc::Sender<zc_app::player::ipc::Reply>>;

#[allow(clippy::too_many_arguments)]
pub(crate) fn play(
    args: &Args,
    playlist: Playlist,
    subtitle_uri: Option<&str>,
    audio: playback::AudioOutput,
    snapshot_dir: &Path,
    signals: &Signals,
    socket: &Path,
    weston: Option<Rc<HeadlessWeston>>,
    event_loop: &mut EventLoop<App>,
    bus_sender: channel::Sender<playback::BusEvent>,
    bus_events: channel::Channel<playback::BusEvent>,
    ipc_calls: channel::Channel<Call>,
) -> Result<(Outcome, QuitReply)> {
    let stream = UnixStream::connect(socket)
        .with_context(|| format!("cannot connect to the compositor at {}", socket.display()))?;
    let connection = Connection::from_socket(stream)
        .map_err(|e| anyhow!("cannot talk to the compositor at {}: {e}", socket.display()))?;
    let (globals, queue) = registry_queue_init::<App>(&connection)
        .map_err(|e| anyhow!("the compositor's globals: {e}"))?;
    let qh = queue.handle();
    let loop_handle = event_loop.handle();
    WaylandSource::new(connection.clone(), queue)
        .insert(loop_handle.clone())
        .map_err(|e| anyhow!("cannot watch the Wayland connection: {e}"))?;

    let first = playlist.current();
    let title = format!(
        "zc-player: {}",
        first
            .rsplit('/')
            .find(|part| !part.is_empty())
            .unwrap_or(first)
    );
    let layout = Arc::new(Mutex::new(Layout::default()));
    let mut state = App::create(
        &globals,
        &qh,
        title,
        args.geometry.unwrap_or(DEFAULT_SIZE),
        args.fullscreen,
        layout.clone(),
        weston,
    )?;

    // The window is mapped before the sink is handed its surface.
    while !state.is_configured() {
        event_loop
            .dispatch(Duration::from_millis(100), &mut state)
            .map_err(|e| loop_failed(&connection, &e))?;
        if let Some(exit) = state.exit.take() {
            return Ok((finish(exit)?, state.quit_reply.take()));
        }
        if let Some(signal) = signals.received() {
            return Ok((Outcome::Interrupted(signal), None));
        }
    }

    let handles = WindowHandles {
        display: connection.backend().display_ptr() as usize,
        surface: state.window.wl_surface().id().as_ptr() as usize,
    };
    let bus_sender = Mutex::new(bus_sender);
    let player = Player::new(
        &PlayerOptions {
            playlist,
            watch_later: WatchLater::from_env(),
            speed: args.speed,
            volume: args.volume / 100.0,
            mute: args.mute,
            aid: args.aid.clone(),
            sid: args.sid.clone(),
            subtitle_uri: subtitle_uri.map(str::to_owned),
            path: args.path,
            backend: args.backend,
            looping: args.looping,
            keep_open: args.keep_open,
            start: args.start,
            start_timeout: Duration::from_secs_f64(args.start_timeout),
            audio,
            snapshot_dir: snapshot_dir.to_owned(),
        },
        handles,
        layout,
        move |event| {
            let _ = lock(&bus_sender).send(event);
        },
    )?;
    let mut player = player;
    player.start()?;
    state.player = Some(player);

    let bus_source = loop_handle
        .insert_source(bus_events, |event, _, app| {
            if let ChannelEvent::Msg(event) = event {
                let qh = app_queue(app);
                app.on_bus(event, &qh);
            }
        })
        .map_err(|e| anyhow!("cannot watch the pipeline's bus: {e}"))?;
    loop_handle
        .insert_source(ipc_calls, |event, _, app| {
            if let ChannelEvent::Msg(call) = event {
                let qh = app_queue(app);
                app.on_call(call, &qh);
            }
        })
        .map_err(|e| anyhow!("cannot watch the control socket: {e}"))?;
    loop_handle
        .insert_source(
            Timer::from_duration(Duration::from_millis(500)),
            |_, _, app| {
                app.tick();
                TimeoutAction::ToDuration(Duration::from_millis(500))
            },
        )
        .map_err(|e| anyhow!("cannot start the statistics timer: {e}"))?;
    loop_handle
        .insert_source(Timer::from_duration(wakeup::TICK), |_, _, app| {
            app.update_timed();
            TimeoutAction::ToDuration(app.next_wakeup())
        })
        .map_err(|e| anyhow!("cannot start the subtitle and OSD timer: {e}"))?;

    let mut stuck = false;
    let result = loop {
        if let Err(e) = event_loop.dispatch(Duration::from_millis(100), &mut state) {
            break Err(loop_failed(&connection, &e));
        }
        if let Some(error) = connection.protocol_error() {
            break Err(anyhow!("the compositor closed the connection: {error}"));
        }
        if let Some(exit) = state.exit.take() {
            stuck = matches!(exit, PlayerExit::Stuck(_));
            break finish(exit);
        }
        if let Some(signal) = signals.received() {
            break Ok(Outcome::Interrupted(signal));
        }
    };
    if stuck {
        // A pipeline stuck at its start is not stopped: in GStreamer 1.22's
        // decodebin3 deadlock, setting it to NULL hangs, or crashes in
        // decodebin3 (seen: SIGSEGV in its state change, in CI). Nothing
        // was shown, so there is no position to save.
        abandon(&ending(&result, args.sub.as_deref()), None);
    }
    if let Some(mut player) = state.player.take() {
        let asked = state.quit_asked || matches!(result, Ok(Outcome::Interrupted(_)));
        if (args.save_position_on_quit || state.save_position_asked) && asked {
            player.save_position();
        }
        let _guard = TeardownGuard::arm(
            TEARDOWN_LIMIT,
            "the pipeline",
            ending(&result, args.sub.as_deref()),
        );
        player.shutdown();
        // Bus messages not yet handled hold references to the elements;
        // the sink must be gone before the connection it borrows closes.
        loop_handle.remove(bus_source);
        drop(player);
    }
    let quit_reply = state.quit_reply.take();
    drop(state);
    let left_behind = playback::pipelines_left_behind();
    if left_behind > 0 {
        // Their sinks may still use the connection: it stays open until
        // the process ends.
        eprintln!(
            "zc-player: {left_behind} pipeline(s) left behind are still stuck: \
             ending without stopping them"
        );
        std::mem::forget(connection);
    } else {
        drop(connection);
    }
    result.map(|outcome| (outcome, quit_reply))
}

/// The queue handle for callbacks that only get the state.
fn app_queue(app: &App) -> wayland_client::QueueHandle<App> {
    app.queue_handle()
}

fn finish(exit: PlayerExit) -> Result<Outcome> {
    match exit {
        PlayerExit::Done => Ok(Outcome::Done),
        PlayerExit::BadInput(message) => Ok(Outcome::BadInput(message)),
        PlayerExit::Failed(message) | PlayerExit::Stuck(message) => bail!("{message}"),
    }
}

/// What a failed turn of the main loop means. Of its sources only the
/// Wayland connection does I/O that can fail, so a broken pipe or a reset
/// there is the compositor closing the connection (it quit, crashed, or
/// dropped this client); a protocol error it sent says more.
fn loop_failed(connection: &Connection, error: &calloop::Error) -> anyhow::Error {
    fn io_error(error: &calloop::Error) -> Option<&std::io::Error> {
        match error {
            calloop::Error::IoError(io) => Some(io),
            calloop::Error::OtherError(inner) => inner
                .downcast_ref::<calloop::Error>()
                .and_then(io_error)
                .or_else(|| inner.downcast_ref::<std::io::Error>()),
            _ => None,
        }
    }
    if let Some(protocol) = connection.protocol_error() {
        return anyhow!("the compositor closed the connection: {protocol}");
    }
    match io_error(error).map(std::io::Error::kind) {
        Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset) => anyhow!(
            "the compositor closed the connection without a protocol error (it quit, crashed \
             or dropped this client): {error}"
        ),
        _ => anyhow!("the main loop failed: {error}"),
    }
}
