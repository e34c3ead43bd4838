//! Leaving the current entry without waiting on it for good. Moving to
//! another entry stops the pipeline (to READY) and starts it again with
//! the new URI; a pipeline whose streaming threads never leave their
//! elements (GStreamer 1.22's playbin3 deadlocked, a source blocked in a
//! read it cannot interrupt) would hold the player on that call for good.
//! So the stop runs on a thread of its own: one that is not done within
//! [`SWITCH_LIMIT`] is left to that thread, and the entry gets a new
//! pipeline. The thread stops the pipeline for good (to NULL) and drops it
//! if it ever gets to READY; until then it counts as left behind, and the
//! player ends without closing the Wayland connection the stuck sink may
//! still use ([`pipelines_left_behind`]).
//!
//! A pipeline stuck at an entry's start is not stopped at all
//! ([`leave_stuck`]): GStreamer 1.22's deadlocked decodebin3 can crash
//! when it is (seen: SIGSEGV in its state change, in CI).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use gst::prelude::*;
use zc_app::lock;

use super::pipeline::Elements;

/// How long moving to another entry waits for the current one to stop.
/// Stopping takes well under a second, seconds under software emulation
/// and load; a pipeline slower than this is only left to finish on its
/// own.
pub const SWITCH_LIMIT: Duration = Duration::from_secs(5);

/// Pipelines left behind that have not stopped yet: counted up when the
/// waiter gives up on one, down when its thread got it to NULL.
static LEFT_BEHIND: AtomicUsize = AtomicUsize::new(0);

/// How many pipelines the player left behind are still stuck.
pub fn pipelines_left_behind() -> usize {
    LEFT_BEHIND.load(Ordering::Acquire)
}

/// Leave a pipeline stuck at an entry's start as it is, for good (see
/// the module documentation). Its messages are no longer the player's
/// (its bus drops them), and the video and audio block where they would
/// enter the player's elements, so should it ever wake up, nothing of it
/// is seen or heard, no window of its own is opened (no caps reach the
/// sink) and its threads park instead of decoding on. It is kept, never
/// dropped, for its stuck threads, and counts in [`pipelines_left_behind`]
/// to the end.
pub(super) fn leave_stuck(elements: &Elements) {
    LEFT_BEHIND.fetch_add(1, Ordering::AcqRel);
    let bus = elements.pipeline.bus();
    if let Some(bus) = &bus {
        bus.unset_sync_handler();
    }
    let kept = elements.pipeline.clone();
    let entries = elements.entries.clone();
    // Pads take their locks, which a stuck thread may hold: not on the
    // main thread.
    let spawned = std::thread::Builder::new()
        .name("zc-player-stuck".into())
        .spawn(move || {
            if let Some(bus) = bus {
                bus.set_flushing(true);
            }
            for pad in &entries {
                pad.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |_, _| {
                    gst::PadProbeReturn::Ok
                });
            }
            std::mem::forget(kept);
        });
    if let Err(e) = spawned {
        eprintln!("zc-player: warning: cannot start a thread to silence the stuck pipeline: {e}");
        std::mem::forget(elements.pipeline.clone());
    }
}

/// Where a stop on its own thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Running,
    /// It returned in time; whether it succeeded.
    Returned(bool),
    /// The waiter gave up on it: the stopping thread owns the pipeline.
    LeftBehind,
}

/// How stopping a pipeline ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It is in READY, to be used again.
    Ready,
    /// It did not get there within the limit: it is the stopping
    /// thread's now, and the caller needs a new pipeline.
    LeftBehind,
}

/// Stop `pipeline` to READY, waiting at most `limit` (see the module
/// documentation). An error: it refused to stop.
pub fn stop_within(pipeline: &gst::Element, limit: Duration) -> Result<Stopped, String> {
    let shared = Arc::new((Mutex::new(Stop::Running), Condvar::new()));
    let theirs = shared.clone();
    let stopping = pipeline.clone();
    let spawned = std::thread::Builder::new()
        .name("zc-player-stop".into())
        .spawn(move || {
            let ok = stopping.set_state(gst::State::Ready).is_ok();
            let (stop, returned) = &*theirs;
            let mut stop = lock(stop);
            if *stop == Stop::LeftBehind {
                drop(stop);
                // Nobody uses it any more: all the way down, then dropped.
                let _ = stopping.set_state(gst::State::Null);
                eprintln!("zc-player: a pipeline left behind stopped after all");
                LEFT_BEHIND.fetch_sub(1, Ordering::AcqRel);
            } else {
                *stop = Stop::Returned(ok);
                returned.notify_one();
            }
        });
    if let Err(e) = spawned {
        return Err(format!(
            "cannot start a thread to stop the current entry: {e}"
        ));
    }
    let (stop, returned) = &*shared;
    let (mut stop, _) = returned
        .wait_timeout_while(lock(stop), limit, |stop| *stop == Stop::Running)
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match *stop {
        Stop::Returned(true) => Ok(Stopped::Ready),
        Stop::Returned(false) => Err("the current entry refused to stop".to_owned()),
        Stop::Running | Stop::LeftBehind => {
            // Under the lock the thread checks: it counts it down.
            LEFT_BEHIND.fetch_add(1, Ordering::AcqRel);
            *stop = Stop::LeftBehind;
            // Its messages are no longer the player's.
            if let Some(bus) = pipeline.bus() {
                bus.unset_sync_handler();
            }
            Ok(Stopped::LeftBehind)
        }
    }
}
