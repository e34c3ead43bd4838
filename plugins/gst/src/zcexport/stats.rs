//! What zcexport counts (frames in, passed on, copied, bytes copied), as
//! read-only properties and as the `zc-export-stats` message posted at EOS.

use std::sync::atomic::{AtomicU64, Ordering};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::imp::{CAT, ZcExport};

#[derive(Default)]
pub(super) struct Counters {
    pub frames_in: AtomicU64,
    pub frames_zero_copy: AtomicU64,
    pub frames_copied: AtomicU64,
    pub bytes_copied: AtomicU64,
}

impl Counters {
    /// One more frame copied, of `bytes`.
    pub(super) fn copied(&self, bytes: u64) {
        self.frames_copied.fetch_add(1, Ordering::Relaxed);
        self.bytes_copied.fetch_add(bytes, Ordering::Relaxed);
    }

    /// All back to 0 (a new run).
    pub(super) fn reset(&self) {
        for counter in [
            &self.frames_in,
            &self.frames_zero_copy,
            &self.frames_copied,
            &self.bytes_copied,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// The value of the read-only property `name`, when it is one of
    /// [`properties`].
    pub(super) fn property(&self, name: &str) -> Option<glib::Value> {
        let counter = match name {
            "frames-in" => &self.frames_in,
            "frames-zero-copy" => &self.frames_zero_copy,
            "frames-copied" => &self.frames_copied,
            "bytes-copied" => &self.bytes_copied,
            _ => return None,
        };
        Some(counter.load(Ordering::Relaxed).to_value())
    }
}

/// The read-only counter properties.
pub(super) fn properties() -> Vec<glib::ParamSpec> {
    let counter = |name: &'static str, nick: &'static str, blurb: &'static str| {
        glib::ParamSpecUInt64::builder(name)
            .nick(nick)
            .blurb(blurb)
            .read_only()
            .build()
    };
    vec![
        counter("frames-in", "Frames in", "Frames received"),
        counter(
            "frames-zero-copy",
            "Zero-copy frames",
            "Frames passed on without a copy (dma-buf or zc memory)",
        ),
        counter(
            "frames-copied",
            "Copied frames",
            "Frames copied from system memory into a dma-buf",
        ),
        counter(
            "bytes-copied",
            "Bytes copied",
            "Bytes the CPU copied (visible frame size per copied frame)",
        ),
    ]
}

impl ZcExport {
    /// Post the counters (at EOS).
    pub(super) fn post_stats(&self) {
        let c = &self.counters;
        let s = gst::Structure::builder("zc-export-stats")
            .field("frames-in", c.frames_in.load(Ordering::Relaxed))
            .field(
                "frames-zero-copy",
                c.frames_zero_copy.load(Ordering::Relaxed),
            )
            .field("frames-copied", c.frames_copied.load(Ordering::Relaxed))
            .field("bytes-copied", c.bytes_copied.load(Ordering::Relaxed))
            .build();
        gst::info!(CAT, imp = self, "{s}");
        let _ = self
            .obj()
            .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
    }
}
