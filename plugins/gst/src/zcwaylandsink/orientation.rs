//! `rotate-method`: the video turned or flipped on screen by the
//! compositor (the Wayland layer's buffer transform), never by a copy, as
//! GStreamer's `waylandsink` does it. `auto` follows the stream's
//! `image-orientation` tag: phones store portrait video sideways and tag
//! how to turn it.

use std::sync::atomic::Ordering;

use gst::subclass::prelude::*;
use gst_video::VideoOrientationMethod as Method;
use zc_wayland::{Orientation, Presenter};

use super::imp::{CAT, ZcWaylandSink};
use crate::lock;

/// The default `rotate-method`: the frame as it is.
pub(super) const DEFAULT_ROTATE_METHOD: Method = Method::Identity;

impl ZcWaylandSink {
    /// How the video is to be shown now.
    pub(super) fn wanted_orientation(&self) -> Orientation {
        let method = lock(&self.settings).rotate_method;
        crate::orientation::shown(method, *lock(&self.tagged_orientation))
    }

    /// Tell the presenter, if connected, how to show the video now.
    pub(super) fn apply_orientation(&self) {
        self.orientation_stale.store(false, Ordering::Relaxed);
        let Some(presenter) = self.presenter() else {
            return;
        };
        let orientation = self.wanted_orientation();
        gst::debug!(CAT, imp = self, "orientation {orientation:?}");
        if let Err(e) = presenter.set_orientation(orientation) {
            gst::warning!(CAT, imp = self, "cannot turn the video: {e}");
        }
    }

    /// A TAG event: its `image-orientation`, for `auto`.
    pub(super) fn take_tags(&self, tags: &gst::TagListRef) {
        if let Some(method) = Method::from_tag(tags) {
            gst::info!(CAT, imp = self, "the stream is tagged {method:?}");
            *lock(&self.tagged_orientation) = Some(method);
            self.apply_orientation();
        }
    }

    /// A new stream: the last one's tag no longer holds. Applied with its
    /// first frame (or its own tag), not at once: the frame on screen is
    /// still the last stream's.
    pub(super) fn forget_tags(&self) {
        if lock(&self.tagged_orientation).take().is_some() {
            self.orientation_stale.store(true, Ordering::Relaxed);
        }
    }

    /// Before a frame is shown: a new stream without a tag of its own is
    /// shown as `rotate-method` says.
    pub(super) fn refresh_orientation(&self, presenter: &Presenter) {
        if self.orientation_stale.load(Ordering::Relaxed)
            && self.orientation_stale.swap(false, Ordering::Relaxed)
            && let Err(e) = presenter.set_orientation(self.wanted_orientation())
        {
            gst::warning!(CAT, imp = self, "cannot turn the video: {e}");
        }
    }
}
