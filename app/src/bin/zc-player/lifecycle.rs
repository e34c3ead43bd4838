//! How the player ends, whatever ends it: SIGINT, SIGTERM and SIGHUP ask it
//! to quit the way `quit` does (a second one ends it at once), and a small
//! watcher process removes what it would have removed if it dies without
//! tearing down (SIGKILL, an abort). The Weston it starts gets SIGTERM from
//! the kernel when it dies (`WestonConfig::die_with_parent`). A pipeline
//! that does not stop within [`TEARDOWN_LIMIT`] is left behind: the player
//! exits without it ([`TeardownGuard`]).

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::session::Outcome;

/// The signals that mean "quit".
const QUIT_SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// Which quit signal arrived, if any.
pub struct Signals {
    received: Arc<AtomicUsize>,
}

impl Signals {
    pub fn install() -> Result<Signals> {
        let received = Arc::new(AtomicUsize::new(0));
        let once = Arc::new(AtomicBool::new(false));
        for signal in QUIT_SIGNALS {
            // The second signal finds `once` set and exits at once, with the
            // shell's status for that signal; the watcher cleans up.
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, once.clone())
                .and_then(|_| signal_hook::flag::register(signal, once.clone()))
                .and_then(|_| {
                    signal_hook::flag::register_usize(signal, received.clone(), signal as usize)
                })
                .with_context(|| format!("cannot handle signal {signal}"))?;
        }
        Ok(Signals { received })
    }

    /// The quit signal that arrived (its number), if one did.
    pub fn received(&self) -> Option<i32> {
        match self.received.load(Ordering::Acquire) {
            0 => None,
            signal => i32::try_from(signal).ok(),
        }
    }
}

/// The name of a quit signal, for the message at exit.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Runs in the watcher: it waits for a line on stdin. `done` means the
/// player cleaned up itself; end of file without it means the player died,
/// so it removes the control socket (only if it is still the player's, by
/// device and inode) and the player's private folder (snapshots, Weston's
/// runtime folder; Weston itself got SIGTERM from the kernel).
const WATCHER_SCRIPT: &str = r#"
IFS= read -r word
[ "$word" = done ] && exit 0
if [ -n "$ZC_SOCKET" ] && [ "$(stat -c %d:%i -- "$ZC_SOCKET" 2>/dev/null)" = "$ZC_SOCKET_ID" ]; then
    rm -f -- "$ZC_SOCKET"
fi
# Weston removes its socket and lock on SIGTERM; give it a moment.
sleep 1
rm -rf -- "$ZC_PRIVATE"
"#;

/// The watcher process; dropping it says `done` (unless a panic is
/// unwinding, when it cleans up after us) and reaps it.
pub struct Watcher {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Watcher {
    /// Watch `private` (removed whole) and the control socket `socket` with
    /// its (device, inode).
    pub fn start(private: &Path, socket: Option<(&Path, (u64, u64))>) -> Result<Watcher> {
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", WATCHER_SCRIPT, "zc-player-watcher"])
            .env("ZC_PRIVATE", private)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((path, (dev, ino))) = socket {
            command
                .env("ZC_SOCKET", path)
                .env("ZC_SOCKET_ID", format!("{dev}:{ino}"));
        }
        // Its own process group: a terminal's Ctrl-C must not end it first.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .context("cannot start the clean-up watcher (/bin/sh)")?;
        let stdin = child.stdin.take();
        Ok(Watcher { child, stdin })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take()
            && !std::thread::panicking()
        {
            let _ = stdin.write_all(b"done\n");
        }
        let _ = self.child.wait();
    }
}

/// How long stopping the pipeline (or the current entry) may take.
/// Setting a pipeline to NULL or READY waits for each streaming thread to
/// leave its element; one that never does (GStreamer 1.22's decodebin3
/// deadlocked at the start, a source blocked in a read that cannot be
/// interrupted) would keep the player from ever quitting. Generous: a
/// slow machine (software emulation) stops a pipeline in seconds.
pub const TEARDOWN_LIMIT: Duration = Duration::from_secs(20);

/// How the player ends: its exit status and the message it says last.
pub type Ending = (i32, Option<String>);

/// The ending of a session that ended as `result`; `sub` is `--sub`'s file.
pub fn ending(result: &Result<Outcome>, sub: Option<&str>) -> Ending {
    match result {
        Ok(Outcome::Done) => (0, None),
        Ok(Outcome::BadInput(message)) => (
            2,
            Some(match sub {
                // Either file may be what GStreamer could not read.
                Some(sub) => format!("cannot play {message} (with the subtitles {sub})"),
                None => format!("cannot play {message}"),
            }),
        ),
        Ok(Outcome::Interrupted(signal)) => (
            128 + signal,
            Some(format!("stopped by {}", signal_name(*signal))),
        ),
        Err(err) => (1, Some(format!("{err:#}"))),
    }
}

/// End the process at once, leaving GStreamer's threads where they are:
/// say `ending`'s message and `why`, and `_exit` with its status (1 for one
/// that was 0: done, but not cleanly; 2 and 128 + N stay). No exit handler
/// or destructor runs, since GStreamer's threads (and maybe the main
/// thread) are inside a pipeline that cannot be stopped safely. The
/// watcher then removes the player's files; Weston gets SIGTERM from the
/// kernel.
pub fn abandon(ending: &Ending, why: Option<&str>) -> ! {
    let (code, message) = ending;
    let code = if *code == 0 { 1 } else { *code };
    if let Some(message) = message {
        eprintln!("zc-player: {message}");
    }
    if let Some(why) = why {
        eprintln!("zc-player: {why}");
    }
    // SAFETY: _exit(2) ends the process and touches none of its memory;
    // skipping exit handlers and destructors is the point (see above).
    // stderr is unbuffered: said above.
    unsafe { libc::_exit(code) }
}

/// While it lives, a thread waits for it: if it still lives after the
/// limit, the thread ends the process with the player's ending and why it
/// did not wait longer ([`abandon`]).
pub struct TeardownGuard {
    /// Whether the guarded call returned, and its wake-up. The guard's
    /// thread holds the lock for good once it fired, so that the call
    /// returning just then waits for the exit instead of going on.
    returned: Arc<(Mutex<bool>, Condvar)>,
}

impl TeardownGuard {
    /// Guard stopping `what` (`the pipeline`), ending as `ending` says if
    /// it hangs.
    pub fn arm(limit: Duration, what: &'static str, ending: Ending) -> TeardownGuard {
        let returned = Arc::new((Mutex::new(false), Condvar::new()));
        let watched = returned.clone();
        let spawned = std::thread::Builder::new()
            .name("zc-player-teardown".into())
            .spawn(move || {
                let (flag, wake) = &*watched;
                let (returned, _) = wake
                    .wait_timeout_while(zc_app::lock(flag), limit, |returned| !*returned)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if *returned {
                    return;
                }
                let why = format!(
                    "GStreamer did not stop {what} within {} s (its threads are stuck): \
                     quitting without it",
                    limit.as_secs()
                );
                abandon(&ending, Some(&why));
            });
        if let Err(e) = spawned {
            eprintln!(
                "zc-player: warning: no teardown guard ({e}): a stuck pipeline can hang the quit"
            );
        }
        TeardownGuard { returned }
    }
}

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        let (flag, wake) = &*self.returned;
        // Blocks for good where the guard fired: the process is ending.
        *zc_app::lock(flag) = true;
        wake.notify_one();
    }
}
