//! What zcexport counts (frames in, passed on, copied, bytes copied), as
//! read-only properties, as one `stats` structure read at one instant, and
//! as the `zc-export-stats` message posted at EOS.
//!
//! A frame is counted once, when its fate is known: `frames-in` and the
//! counter of what happened to it change under one lock, so a `stats`
//! snapshot always adds up (`frames-in` = zero-copy + copied + passed on +
//! refused).

use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::imp::{CAT, ZcExport};
use crate::counters::counter_property;
use crate::lock;

/// The counters, all changed together.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tally {
    frames_in: u64,
    frames_zero_copy: u64,
    frames_copied: u64,
    bytes_copied: u64,
    frames_passed_on: u64,
}

impl Tally {
    /// Each counter by its property's name (the stats fields' too).
    fn values(&self) -> [(&'static str, u64); 5] {
        [
            ("frames-in", self.frames_in),
            ("frames-zero-copy", self.frames_zero_copy),
            ("frames-copied", self.frames_copied),
            ("bytes-copied", self.bytes_copied),
            ("frames-passed-on", self.frames_passed_on),
        ]
    }

    fn structure(&self, name: &str) -> gst::Structure {
        let mut s = gst::Structure::new_empty(name);
        for (field, value) in self.values() {
            s.set(field, value);
        }
        s
    }
}

/// What became of one frame.
#[derive(Clone, Copy, Debug)]
pub(super) enum Fate {
    /// Passed on untouched.
    ZeroCopy,
    /// Copied into a dma-buf, this many bytes.
    Copied(u64),
    /// Of a format zc does not lay out: passed on as it came, unchecked.
    PassedOn,
    /// Refused with an error: counted in `frames-in` only.
    Refused,
}

#[derive(Default)]
pub(super) struct Counters(Mutex<Tally>);

impl Counters {
    /// All back to 0 (a new run).
    pub(super) fn reset(&self) {
        *lock(&self.0) = Tally::default();
    }

    /// Count one frame and its fate.
    pub(super) fn record(&self, fate: Fate) {
        let mut tally = lock(&self.0);
        tally.frames_in += 1;
        match fate {
            Fate::ZeroCopy => tally.frames_zero_copy += 1,
            Fate::Copied(bytes) => {
                tally.frames_copied += 1;
                tally.bytes_copied += bytes;
            }
            Fate::PassedOn => tally.frames_passed_on += 1,
            Fate::Refused => {}
        }
    }

    fn snapshot(&self) -> Tally {
        *lock(&self.0)
    }

    /// The value of the read-only property `name`, when it is one of
    /// [`properties`].
    pub(super) fn property(&self, name: &str) -> Option<glib::Value> {
        if name == "stats" {
            return Some(self.snapshot().structure("zc-export-stats").to_value());
        }
        self.snapshot()
            .values()
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
        counter_property(
            "frames-passed-on",
            "Frames passed on",
            "Frames of a format zc does not lay out, passed on unchanged in whatever memory they came",
        ),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb(
                "All counters read at one instant (frames-in, frames-zero-copy, frames-copied, \
                 bytes-copied, frames-passed-on), so they add up",
            )
            .read_only()
            .build(),
    ]
}

impl ZcExport {
    /// Post the counters (at EOS).
    pub(super) fn post_stats(&self) {
        let s = self.counters.snapshot().structure("zc-export-stats");
        gst::info!(CAT, imp = self, "{s}");
        let _ = self
            .obj()
            .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_is_counted_with_its_fate_at_once() {
        let counters = Counters::default();
        counters.record(Fate::ZeroCopy);
        counters.record(Fate::Copied(100));
        counters.record(Fate::Copied(50));
        counters.record(Fate::PassedOn);
        counters.record(Fate::Refused);
        let tally = counters.snapshot();
        assert_eq!(
            tally.values(),
            [
                ("frames-in", 5),
                ("frames-zero-copy", 1),
                ("frames-copied", 2),
                ("bytes-copied", 150),
                ("frames-passed-on", 1)
            ]
        );
        counters.reset();
        assert_eq!(counters.snapshot(), Tally::default());
    }
}
