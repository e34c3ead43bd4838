//! When frames are meant to be shown: where the compositor paces frames
//! (`wp_fifo_v1` + `wp_commit_timing_v1`), the sink asks the base class to
//! render [`COMMIT_AHEAD`] early (its render delay) and commits each frame
//! at once with its target time on the compositor's presentation clock.

use std::sync::atomic::Ordering;

use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use zc_wayland::Presenter;

use super::imp::{CAT, ZcWaylandSink};

/// How long before its time a frame is handed to the compositor when the
/// compositor paces frames: GstBaseSink's render delay (added to the
/// latency the sink reports). Two frames at 30 fps, so one late wake-up of
/// the streaming thread does not make a frame late.
pub(super) const COMMIT_AHEAD: gst::ClockTime = gst::ClockTime::from_mseconds(66);

/// A target further ahead than this is not given (the frame is shown at
/// once): a jump of the clock or a bad timestamp must not hold the surface.
const LONGEST_AHEAD: gst::ClockTime = gst::ClockTime::from_seconds(2);

impl ZcWaylandSink {
    /// On connecting: where the compositor paces frames, render frames
    /// [`COMMIT_AHEAD`] early (unless the application chose a render delay).
    pub(super) fn choose_pacing(&self, presenter: &Presenter) {
        let caps = presenter.capabilities();
        let obj = self.obj();
        // Ours from an earlier connection goes first; the application's stays.
        if self.chose_render_delay.swap(false, Ordering::Relaxed) {
            obj.set_render_delay(gst::ClockTime::ZERO);
        }
        if caps.has_fifo && caps.has_commit_timing {
            if obj.render_delay() == gst::ClockTime::ZERO {
                obj.set_render_delay(COMMIT_AHEAD);
                self.chose_render_delay.store(true, Ordering::Relaxed);
            }
            gst::info!(
                CAT,
                imp = self,
                "pacing: the compositor's (wp_fifo_v1 + wp_commit_timing_v1), frames committed {} ahead of their time",
                obj.render_delay()
            );
        } else {
            gst::info!(
                CAT,
                imp = self,
                "pacing: frame callbacks (the compositor lacks{}{})",
                if caps.has_fifo { "" } else { " wp_fifo_v1" },
                if caps.has_commit_timing {
                    ""
                } else {
                    " wp_commit_timing_v1"
                }
            );
        }
    }

    /// When `buffer` is meant to be shown, on the compositor's presentation
    /// clock: its running time plus the base time, the latency and
    /// ts-offset (the time GstBaseSink syncs it to, before the render
    /// delay), moved from the pipeline clock to the presentation clock by
    /// reading both now. None where no clock says it (not playing: the
    /// preroll frame; sync=false; no timestamp).
    pub(super) fn target_time(&self, presenter: &Presenter, buffer: &gst::Buffer) -> Option<u64> {
        let obj = self.obj();
        if !obj.is_sync() || obj.current_state() != gst::State::Playing {
            return None;
        }
        let clock = obj.clock()?;
        let base_time = obj.base_time()?;
        let segment = obj.segment().downcast::<gst::ClockTime>().ok()?;
        let running_time = segment.to_running_time(buffer.pts()?)?;
        let target = i128::from((base_time + running_time + obj.latency()).nseconds())
            + i128::from(obj.ts_offset());
        let ahead = target - i128::from(clock.time().nseconds());
        if ahead > i128::from(LONGEST_AHEAD.nseconds()) {
            gst::debug!(
                CAT,
                imp = self,
                "a frame {} ms ahead of its time is shown at once",
                ahead / 1_000_000
            );
            return None;
        }
        let on_presentation_clock = i128::from(presenter.presentation_clock_now_ns()) + ahead;
        u64::try_from(on_presentation_clock.max(0)).ok()
    }
}
