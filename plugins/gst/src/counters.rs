//! What the elements count for their read-only properties: the property
//! spec of a counter, and the copies the CPU made (frames and bytes), which
//! zcwaylandsink counts.

use std::sync::atomic::{AtomicU64, Ordering};

use gst::glib;
use gst::glib::prelude::*;

/// A read-only `guint64` property for a counter.
pub(crate) fn counter_property(name: &str, nick: &str, blurb: &str) -> glib::ParamSpec {
    glib::ParamSpecUInt64::builder(name)
        .nick(nick)
        .blurb(blurb)
        .read_only()
        .build()
}

/// Frames the CPU copied, and their bytes.
#[derive(Default)]
pub(crate) struct Copies {
    frames: AtomicU64,
    bytes: AtomicU64,
}

impl Copies {
    /// One more frame copied, of `bytes`.
    pub(crate) fn add(&self, bytes: u64) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}
