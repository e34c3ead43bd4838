//! What the sink counts: its own counters (copies, `wl_buffer`s made), the
//! presenter's (presentation feedback, fences), the way the last frame
//! took ([`Path`]), as read-only properties and as the `zc-sink-stats`
//! message posted at EOS, followed by `zc-sink-presentations` (each frame's
//! target and actual presentation time).

use std::sync::atomic::{AtomicU64, Ordering};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::imp::ZcWaylandSink;
use crate::counters::{Copies, counter_property};
use crate::lock;

/// How frames reach the compositor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Path {
    /// The frame's own dma-buf, imported with linux-dmabuf.
    DmaBuf,
    /// The frame's own memfd, through wl_shm.
    Shm,
    /// A copy into a pooled buffer (system memory, or a refused dma-buf).
    Copy,
}

impl Path {
    /// As the `path` property and the stats' `path` field say it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Path::DmaBuf => "dmabuf",
            Path::Shm => "shm",
            Path::Copy => "copy",
        }
    }
}

/// The sink's own counters (the presenter keeps the rest).
#[derive(Default)]
pub(super) struct Counters {
    pub copies: Copies,
    pub wl_buffers_created: AtomicU64,
    pub overlays_shown: AtomicU64,
}

impl Counters {
    pub(super) fn wl_buffer_created(&self) {
        self.wl_buffers_created.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn overlay_shown(&self) {
        self.overlays_shown.fetch_add(1, Ordering::Relaxed);
    }
}

/// The read-only properties: counters and the `path` taken.
pub(super) fn properties() -> Vec<glib::ParamSpec> {
    let counter = counter_property;
    vec![
        counter("frames-presented", "Frames presented", "Frames the compositor reports as shown (wp_presentation)"),
        counter("frames-discarded", "Frames discarded", "Frames the compositor reports as never shown (wp_presentation)"),
        counter("latency-us", "Latency (us)", "Mean time from commit to presentation, in microseconds"),
        counter("presentation-jitter-us", "Presentation jitter (us)", "Mean absolute difference between each frame's target and actual presentation time, in microseconds"),
        counter("acquire-fences", "Acquire fences", "Commits that carried the producer's fence (explicit sync)"),
        counter("fenced-releases", "Fenced releases", "Frames the compositor released with a fence, held until it signalled (explicit sync)"),
        counter("frames-copied", "Frames copied", "Frames copied because the compositor could not import their memory"),
        counter("bytes-copied", "Bytes copied", "Bytes the CPU copied for those frames"),
        counter("overlays-shown", "Overlays shown", "Overlay compositions (subtitles from GstVideoOverlayCompositionMeta) shown in the subsurface above the video, never blended into its frames"),
        counter("wl-buffers-created", "wl_buffers created", "wl_buffers made for frames' memories (dma-buf imports, wl_shm pools), which stops at the pool's size when each memory keeps its wl_buffer"),
        glib::ParamSpecString::builder("path")
            .nick("Path")
            .blurb("How the last frame reached the compositor: dmabuf (its own dma-buf), shm (its own memfd, through wl_shm), copy (copied into a pooled buffer), or none yet")
            .read_only()
            .build(),
        glib::ParamSpecString::builder("color-representation-set")
            .nick("Color representation set")
            .blurb("What the video surface states through wp_color_representation_v1 (matrix, range, chroma location), or none")
            .read_only()
            .build(),
        glib::ParamSpecString::builder("image-description-set")
            .nick("Image description set")
            .blurb("The HDR image description the video surface has through wp_color_manager_v1 (primaries, transfer, mastering display, content light levels), or none")
            .read_only()
            .build(),
        glib::ParamSpecString::builder("preferred-image-description")
            .nick("Preferred image description")
            .blurb("The image description the compositor prefers for the video surface (what its output shows best: primaries, transfer, luminances) through wp_color_manager_v1, or none")
            .read_only()
            .build(),
    ]
}

impl ZcWaylandSink {
    /// The value of the read-only property `name`, when it is one of
    /// [`properties`].
    pub(super) fn stats_property(&self, name: &str) -> Option<glib::Value> {
        let stats = || self.presenter().map(|p| p.stats()).unwrap_or_default();
        let counters = &self.counters;
        Some(match name {
            "frames-presented" => stats().frames_presented.to_value(),
            "frames-discarded" => stats().frames_discarded.to_value(),
            "latency-us" => stats().mean_latency_us().to_value(),
            "presentation-jitter-us" => stats().mean_jitter_us().to_value(),
            "acquire-fences" => stats().acquire_fences.to_value(),
            "fenced-releases" => stats().fenced_releases.to_value(),
            "frames-copied" => counters.copies.frames().to_value(),
            "bytes-copied" => counters.copies.bytes().to_value(),
            "overlays-shown" => self
                .counters
                .overlays_shown
                .load(Ordering::Relaxed)
                .to_value(),
            "wl-buffers-created" => counters
                .wl_buffers_created
                .load(Ordering::Relaxed)
                .to_value(),
            "path" => self.path_name().to_value(),
            "color-representation-set" => self.color_representation_set().to_value(),
            "image-description-set" => self.image_description_set().to_value(),
            "preferred-image-description" => self.preferred_image_description().to_value(),
            _ => return None,
        })
    }

    /// The way the last frame took, or "none".
    pub(super) fn path_name(&self) -> &'static str {
        lock(&self.stream)
            .as_ref()
            .and_then(|s| s.last_path)
            .map_or("none", Path::name)
    }

    /// Everything counted, as the `zc-sink-stats` message carries it.
    pub(super) fn stats_structure(&self) -> gst::Structure {
        let stats = self.presenter().map(|p| p.stats()).unwrap_or_default();
        let path = self.path_name();
        gst::Structure::builder("zc-sink-stats")
            .field("frames-submitted", stats.frames_submitted)
            .field("frames-committed", stats.frames_committed)
            .field("frames-replaced", stats.frames_replaced)
            .field("frames-presented", stats.frames_presented)
            .field(
                "frames-presented-zero-copy",
                stats.frames_presented_zero_copy,
            )
            .field("frames-discarded", stats.frames_discarded)
            .field("latency-us", stats.mean_latency_us())
            .field("presentation-jitter-us", stats.mean_jitter_us())
            .field("frames-committed-ahead", stats.frames_committed_ahead)
            .field("dispatch-wakeups", stats.dispatch_wakeups)
            .field("buffers-reused-while-held", stats.buffers_reused_while_held)
            .field("acquire-fences", stats.acquire_fences)
            .field("fenced-releases", stats.fenced_releases)
            .field("immediate-releases", stats.immediate_releases)
            .field("frames-copied", self.counters.copies.frames())
            .field("bytes-copied", self.counters.copies.bytes())
            .field(
                "wl-buffers-created",
                self.counters.wl_buffers_created.load(Ordering::Relaxed),
            )
            .field(
                "overlays-shown",
                self.counters.overlays_shown.load(Ordering::Relaxed),
            )
            .field("path", path)
            .field("color-representation-set", self.color_representation_set())
            .field("image-description-set", self.image_description_set())
            .field(
                "preferred-image-description",
                self.preferred_image_description(),
            )
            .build()
    }

    /// Each presented frame's target (0: none) and actual presentation
    /// time on the presentation clock, as the `zc-sink-presentations`
    /// message carries them.
    fn presentations_structure(&self) -> gst::Structure {
        let presentations = self
            .presenter()
            .map(|p| p.presentations())
            .unwrap_or_default();
        let targets = presentations.iter().map(|p| p.target_ns.unwrap_or(0));
        let presented = presentations.iter().map(|p| p.presented_ns);
        gst::Structure::builder("zc-sink-presentations")
            .field("target-ns", gst::Array::new(targets))
            .field("presented-ns", gst::Array::new(presented))
            .build()
    }

    /// Post the stats at EOS, after the last frames reached the screen.
    pub(super) fn post_stats(&self) {
        if let Some(presenter) = self.presenter() {
            presenter.wait_idle(std::time::Duration::from_secs(2));
        }
        let stats = self.stats_structure();
        gst::info!(super::imp::CAT, imp = self, "{stats}");
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Element::builder(stats).src(&*obj).build());
        let presentations = self.presentations_structure();
        let _ = obj.post_message(
            gst::message::Element::builder(presentations)
                .src(&*obj)
                .build(),
        );
    }
}
