//! What zcexport counts (frames in, passed on, copied, bytes copied), as
//! read-only properties and as the `zc-export-stats` message posted at EOS.

use std::sync::atomic::{AtomicU64, Ordering};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::imp::{CAT, ZcExport};
use crate::counters::{Copies, counter_property};

#[derive(Default)]
pub(super) struct Counters {
    pub frames_in: AtomicU64,
    pub frames_zero_copy: AtomicU64,
    pub copies: Copies,
}

impl Counters {
    /// All back to 0 (a new run).
    pub(super) fn reset(&self) {
        self.frames_in.store(0, Ordering::Relaxed);
        self.frames_zero_copy.store(0, Ordering::Relaxed);
        self.copies.reset();
    }

    /// Each counter by its property's name (the stats fields' too).
    fn values(&self) -> [(&'static str, u64); 4] {
        [
            ("frames-in", self.frames_in.load(Ordering::Relaxed)),
            (
                "frames-zero-copy",
                self.frames_zero_copy.load(Ordering::Relaxed),
            ),
            ("frames-copied", self.copies.frames()),
            ("bytes-copied", self.copies.bytes()),
        ]
    }

    /// The value of the read-only property `name`, when it is one of
    /// [`properties`].
    pub(super) fn property(&self, name: &str) -> Option<glib::Value> {
        self.values()
            .into_iter()
            .find(|(counter, _)| *counter == name)
            .map(|(_, value)| value.to_value())
    }
}

/// The read-only counter properties.
pub(super) fn properties() -> Vec<glib::ParamSpec> {
    vec![
        counter_property("frames-in", "Frames in", "Frames received"),
        counter_property(
            "frames-zero-copy",
            "Zero-copy frames",
            "Frames passed on without a copy (dma-buf or zc memory)",
        ),
        counter_property(
            "frames-copied",
            "Copied frames",
            "Frames copied from system memory into a dma-buf",
        ),
        counter_property(
            "bytes-copied",
            "Bytes copied",
            "Bytes the CPU copied (visible frame size per copied frame)",
        ),
    ]
}

impl ZcExport {
    /// Post the counters (at EOS).
    pub(super) fn post_stats(&self) {
        let mut s = gst::Structure::new_empty("zc-export-stats");
        for (name, value) in self.counters.values() {
            s.set(name, value);
        }
        gst::info!(CAT, imp = self, "{s}");
        let _ = self
            .obj()
            .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
    }
}
