//! Pacing by the compositor (`wp_fifo_v1` with `wp_commit_timing_v1`): a
//! frame is committed as soon as it is handed over, with the time it is
//! meant to be shown at; the compositor holds it until then (commit
//! timing) and shows every frame for at least one refresh (FIFO). No frame
//! callback is asked for, so nothing wakes per refresh; presentation
//! feedback reports how close to its target each frame landed, and bounds
//! how many frames wait in the compositor ([`MAX_IN_FLIGHT`]).
//! Without both protocols, or for a frame without a target (preroll), the
//! frame-callback pacing of `commit` applies.

use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{QueueHandle, delegate_noop};
use wayland_protocols::wp::commit_timing::v1::client::{
    wp_commit_timer_v1::WpCommitTimerV1, wp_commit_timing_manager_v1::WpCommitTimingManagerV1,
};
use wayland_protocols::wp::fifo::v1::client::{
    wp_fifo_manager_v1::WpFifoManagerV1, wp_fifo_v1::WpFifoV1,
};

use super::connection::Globals;
use super::{Presenter, State};
use crate::{lock, sys};

/// How many frames committed ahead may wait in the compositor for their
/// time: a newer frame waits for a presentation (or discard) of one of
/// them, and replaces a frame already waiting. Bounds the queue (and the
/// latency) when the compositor shows frames slower than they come; with
/// the sink's render delay (66 ms), up to 60 fps never waits.
pub(super) const MAX_IN_FLIGHT: u32 = 5;

/// How many presentations [`Presenter::presentations`] keeps (the latest).
pub const PRESENTATIONS_KEPT: usize = 4096;

/// One frame's presentation, in the compositor's presentation clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presentation {
    /// When it was meant to be shown (None: no target was given).
    pub target_ns: Option<u64>,
    /// When the compositor says it was shown.
    pub presented_ns: u64,
}

/// A surface's FIFO and commit-timer objects.
pub(super) struct Pacer {
    fifo: WpFifoV1,
    timer: WpCommitTimerV1,
}

impl Pacer {
    /// Both objects for `surface`, when the compositor has both protocols.
    pub(super) fn new(
        globals: &Globals,
        surface: &WlSurface,
        qh: &QueueHandle<State>,
    ) -> Option<Pacer> {
        // Presentation feedback closes the loop (MAX_IN_FLIGHT).
        let (Some(fifo), Some(timing), Some(_)) =
            (&globals.fifo, &globals.commit_timing, &globals.presentation)
        else {
            return None;
        };
        Some(Pacer {
            fifo: fifo.get_fifo(surface, qh, ()),
            timer: timing.get_timer(surface, qh, ()),
        })
    }

    /// Before a commit: not to be shown before `target_ns`, and shown for
    /// at least one refresh before the next commit's content replaces it.
    pub(super) fn constrain(&self, target_ns: u64) {
        let seconds = target_ns / 1_000_000_000;
        self.timer.set_timestamp(
            (seconds >> 32) as u32,
            seconds as u32,
            (target_ns % 1_000_000_000) as u32,
        );
        self.fifo.set_barrier();
        self.fifo.wait_barrier();
    }

    /// Destroy both (before their surface). Constraints already committed
    /// stay.
    pub(super) fn destroy(self) {
        self.timer.destroy();
        self.fifo.destroy();
    }
}

impl Presenter {
    /// Whether the current window is paced by the compositor (FIFO and
    /// commit timing): frames handed over with a target time are committed
    /// at once, ahead of it.
    pub fn uses_timed_pacing(&self) -> bool {
        lock(&self.shared.inner)
            .window
            .as_ref()
            .is_some_and(|w| w.pacer.is_some())
    }

    /// Now on the compositor's presentation clock (`wp_presentation`'s
    /// clock_id; CLOCK_MONOTONIC without it), in nanoseconds: what a
    /// target time is converted to.
    pub fn presentation_clock_now_ns(&self) -> u64 {
        sys::clock_ns(lock(&self.shared.inner).presentation_clock)
    }

    /// The latest presentations (at most [`PRESENTATIONS_KEPT`]), oldest
    /// first.
    pub fn presentations(&self) -> Vec<Presentation> {
        lock(&self.shared.inner)
            .presentations
            .iter()
            .copied()
            .collect()
    }
}

delegate_noop!(State: ignore WpFifoManagerV1);
delegate_noop!(State: ignore WpFifoV1);
delegate_noop!(State: ignore WpCommitTimingManagerV1);
delegate_noop!(State: ignore WpCommitTimerV1);

impl State {
    /// A frame committed ahead was presented or discarded: one fewer
    /// waits in the compositor, so a frame waiting here goes now.
    pub(super) fn frame_left_queue(&mut self, qh: &QueueHandle<State>) {
        let mut inner = lock(&self.shared.inner);
        inner.in_flight = inner.in_flight.saturating_sub(1);
        let paced = inner.window.as_ref().is_some_and(|w| w.pacer.is_some());
        let ready = inner.next.as_ref().is_some_and(|f| f.target_ns.is_some());
        if !(paced && ready && inner.in_flight < MAX_IN_FLIGHT) {
            return;
        }
        self.commit_waiting(inner, qh);
    }
}
