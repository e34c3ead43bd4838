//! What the compositor did with the frames: the counters, and the
//! presentations that feed them (reported by the feedback objects of
//! `frame_objects`, on `wp_presentation`'s clock).

use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::presentation_time::client::wp_presentation::{self, WpPresentation};

use super::State;
use super::pacing::{PRESENTATIONS_KEPT, Presentation};
use crate::lock;

/// Counters of what the compositor did with the frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PresentStats {
    /// Frames handed to `present`.
    pub frames_submitted: u64,
    /// Frames committed to the surface.
    pub frames_committed: u64,
    /// Frames replaced by a newer one before they could be committed
    /// (the compositor had not asked for a new frame yet).
    pub frames_replaced: u64,
    /// `wp_presentation_feedback.presented` events.
    pub frames_presented: u64,
    /// Presented frames the compositor flagged `zero_copy` (scanned out
    /// directly from the client's buffer).
    pub frames_presented_zero_copy: u64,
    /// `wp_presentation_feedback.discarded` events.
    pub frames_discarded: u64,
    /// Sum of commit-to-presentation times, for the mean latency.
    pub latency_ns_total: u64,
    /// Frames committed ahead with a target time (compositor pacing).
    pub frames_committed_ahead: u64,
    /// Presented frames that had a target time, and the sum of how far
    /// from it each was shown (either way), for the mean jitter.
    pub jitter_samples: u64,
    pub jitter_ns_total: u64,
    /// Times the dispatch thread woke up: for events, fences, its stop, a
    /// second without any, or the end of a batch (compositor pacing: see
    /// [`Presenter::set_event_batch`](super::Presenter::set_event_batch)).
    pub dispatch_wakeups: u64,
    /// Frames that arrived in a buffer the compositor had not released yet:
    /// its producer wrote into storage the compositor may still read. The
    /// sink holds every frame until release, so this stays 0; the counter
    /// proves it.
    pub buffers_reused_while_held: u64,
    /// Commits that carried an acquire fence (explicit sync).
    pub acquire_fences: u64,
    /// Releases that came with a fence, waited for before the frame went back.
    pub fenced_releases: u64,
    /// Releases the compositor said needed no fence.
    pub immediate_releases: u64,
}

impl PresentStats {
    pub fn mean_latency_us(&self) -> u64 {
        self.latency_ns_total
            .checked_div(self.frames_presented)
            .map_or(0, |ns| ns / 1000)
    }

    /// Mean absolute difference between target and actual presentation
    /// time, in microseconds (0 before any frame with a target).
    pub fn mean_jitter_us(&self) -> u64 {
        self.jitter_ns_total
            .checked_div(self.jitter_samples)
            .map_or(0, |ns| ns / 1000)
    }
}

pub(super) struct PresentationData {
    pub(super) committed_ns: u64,
    pub(super) target_ns: Option<u64>,
    /// Committed ahead (compositor pacing): counted in `in_flight`.
    pub(super) ahead: bool,
    /// The generation of the window it was committed to.
    pub(super) window: u64,
}

impl Dispatch<WpPresentation, ()> for State {
    fn event(
        state: &mut Self,
        _: &WpPresentation,
        event: wp_presentation::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_presentation::Event::ClockId { clk_id } = event {
            lock(&state.shared.inner).presentation_clock = clk_id as libc::clockid_t;
        }
    }
}

impl State {
    /// A frame's presentation feedback ended: shown at `presented_ns` (the
    /// presentation clock; `zero_copy`: scanned out from our buffer), or
    /// discarded (None). A frame of a window since destroyed is counted,
    /// but no longer in `in_flight` (reset with its window).
    pub(super) fn presentation_done(
        &mut self,
        data: &PresentationData,
        presented: Option<(u64, bool)>,
        qh: &QueueHandle<Self>,
    ) {
        let mut inner = lock(&self.shared.inner);
        match presented {
            Some((presented_ns, zero_copy)) => {
                inner.stats.frames_presented += 1;
                inner.stats.latency_ns_total = inner
                    .stats
                    .latency_ns_total
                    .saturating_add(presented_ns.saturating_sub(data.committed_ns));
                if zero_copy {
                    inner.stats.frames_presented_zero_copy += 1;
                }
                if let Some(target_ns) = data.target_ns {
                    inner.stats.jitter_samples += 1;
                    inner.stats.jitter_ns_total = inner
                        .stats
                        .jitter_ns_total
                        .saturating_add(presented_ns.abs_diff(target_ns));
                }
                if inner.presentations.len() == PRESENTATIONS_KEPT {
                    inner.presentations.pop_front();
                }
                inner.presentations.push_back(Presentation {
                    target_ns: data.target_ns,
                    presented_ns,
                });
            }
            None => inner.stats.frames_discarded += 1,
        }
        let current = inner.window.as_ref().map(|w| w.generation);
        drop(inner);
        if data.ahead && current == Some(data.window) {
            self.frame_left_queue(qh);
        }
    }
}
