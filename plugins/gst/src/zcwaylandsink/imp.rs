//! The element's GObject and GStreamer glue: its state, and the
//! ObjectImpl/ElementImpl/BaseSinkImpl/VideoSinkImpl methods, each handing
//! over to the module that does the job.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;
use zc_dmabuf::{Fourcc, Modifier};
use zc_wayland::Presenter;

use super::import::CacheKey;
use super::negotiation;
use super::overlay::{self, Embedding};
use super::settings::{self, PathPreference, Settings};
use super::stats::{self, Counters, Path};
use crate::lock;
use crate::pool::ZcBufferPool;

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcwaylandsink",
        gst::DebugColorFlags::empty(),
        Some("zc Wayland dma-buf sink"),
    )
});

/// Negotiated per-stream state.
pub(super) struct Stream {
    pub info: gst_video::VideoInfo,
    pub fourcc: Fourcc,
    /// From DMA_DRM caps; LINEAR otherwise. Frames with another modifier
    /// are only ever imported, never read by the CPU.
    pub modifier: Modifier,
    pub path_preference: PathPreference,
    /// Where copies go: memfd when wl_shm takes the format, else a dma-buf.
    pub upload_pool: Option<ZcBufferPool>,
    pub feedback_serial: u64,
    pub last_path: Option<Path>,
    /// Whether a frame that could only be copied (short last row) was
    /// warned about: once per stream.
    pub warned_copyable: bool,
}

/// Each lock is taken alone and never held while the compositor is asked
/// (a round trip waits on another process).
#[derive(Default)]
pub struct ZcWaylandSink {
    pub(super) settings: Mutex<Settings>,
    pub(super) embedding: Mutex<Embedding>,
    presenter: Mutex<Option<Arc<Presenter>>>,
    pub(super) stream: Mutex<Option<Stream>>,
    /// The overlay composition shown above the video (its seqnum).
    pub(super) overlay_shown: Mutex<Option<u32>>,
    pub(super) counters: Counters,
    pub(super) cache_key: CacheKey,
    /// DMA_DRM caps already refused with a warning (once each).
    pub(super) refused_caps: Mutex<HashSet<String>>,
    /// Formats the compositor failed to import as dma-bufs though it listed
    /// them: left out of the dma-buf caps (upstream is asked to negotiate
    /// again) and copied where they still come, until the next connection.
    pub(super) refused_formats: Mutex<HashSet<Fourcc>>,
    /// Whether the compositor's guess at a stream's colorimetry was warned
    /// about (once per element).
    pub(super) warned_representation: AtomicBool,
    /// Whether the render delay is the sink's own choice (compositor
    /// pacing), not the application's.
    pub(super) chose_render_delay: AtomicBool,
    /// The stream's `image-orientation`, for `rotate-method=auto`.
    pub(super) tagged_orientation: Mutex<Option<gst_video::VideoOrientationMethod>>,
    /// A new stream started without a tag yet: the orientation is applied
    /// again with its first frame.
    pub(super) orientation_stale: AtomicBool,
}

impl ZcWaylandSink {
    /// The compositor connection, between READY and NULL.
    pub(super) fn presenter(&self) -> Option<Arc<Presenter>> {
        lock(&self.presenter).clone()
    }

    pub(super) fn set_presenter(&self, presenter: Option<Presenter>) {
        // The old one is dropped after the lock is released: dropping it
        // waits for the compositor.
        let old = std::mem::replace(&mut *lock(&self.presenter), presenter.map(Arc::new));
        lock(&self.refused_formats).clear();
        drop(old);
    }

    /// The stream ends (PAUSED to READY): its upload pool is deactivated.
    fn end_stream(&self) {
        let stream = lock(&self.stream).take();
        if let Some(pool) = stream.and_then(|s| s.upload_pool) {
            let _ = pool.set_active(false);
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ZcWaylandSink {
    const NAME: &'static str = "GstZcWaylandSink";
    type Type = super::ZcWaylandSink;
    type ParentType = gst_video::VideoSink;
    type Interfaces = (gst_video::VideoOverlay,);

    fn class_init(klass: &mut Self::Class) {
        // gstreamer-rs gives every GstBaseSink subclass a `prepare` that
        // only chains up (GstVideoSink has none), and GstBaseSink works out
        // each buffer's sync times once more for a sink with a `prepare`
        // (to drop it late before preparing it): 0.6k instructions a frame
        // in `zc-bench --instructions`. This sink prepares nothing, so it
        // has no `prepare`, as stock waylandsink (so a `prepare` in
        // BaseSinkImpl below would never be called), and GstBaseSink
        // treats its late buffers as it treats stock's.
        let base = klass.upcast_ref_mut::<gst_base::BaseSink>().as_mut();
        base.prepare = None;
        base.prepare_list = None;
    }
}

impl ObjectImpl for ZcWaylandSink {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut properties = settings::properties();
            properties.push(overlay::render_rectangle_property());
            properties.extend(stats::properties());
            properties
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let name = pspec.name();
        if name == "render-rectangle" {
            self.set_render_rectangle_property(value);
            return;
        }
        let mut settings = lock(&self.settings);
        if !settings.set(name, value) {
            gst::warning!(CAT, imp = self, "no property {name}");
        } else if name == "path-preference" {
            gst::debug!(
                CAT,
                imp = self,
                "path preference {}",
                settings.path_preference.nick()
            );
        } else if name == "rotate-method" {
            drop(settings);
            self.apply_orientation();
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let name = pspec.name();
        if name == "render-rectangle" {
            return self.render_rectangle_value();
        }
        // The settings lock is released before the stats take theirs.
        let setting = lock(&self.settings).get(name);
        setting
            .or_else(|| self.stats_property(name))
            .unwrap_or_else(|| glib::Value::from_type(pspec.value_type()))
    }
}

impl GstObjectImpl for ZcWaylandSink {}

impl ElementImpl for ZcWaylandSink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "zc Wayland dma-buf sink",
                "Sink/Video",
                "Shows video on a Wayland compositor by importing dma-buf frames (linux-dmabuf v3-v5), \
                 falling back to wl_shm, with presentation feedback",
                "zc developers",
            )
        });
        Some(&*METADATA)
    }

    #[allow(clippy::expect_used)] // ok: templates from static caps
    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &negotiation::template_caps(),
                )
                .expect("valid sink template"), // ok: static caps
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady
            && let Err(message) = self.connect()
        {
            self.post_error_message(message);
            return Err(gst::StateChangeError);
        }
        let result = self.parent_change_state(transition)?;
        match transition {
            gst::StateChange::PausedToReady => {
                // The window goes with the stream (an embedded video leaves
                // the application's surface); the next run makes a new one.
                if let Some(presenter) = self.presenter() {
                    presenter.destroy_window();
                }
                *lock(&self.overlay_shown) = None;
                self.end_stream();
            }
            gst::StateChange::ReadyToNull => {
                // Dropping the presenter closes the window and the connection
                // and gives back every frame the compositor still held.
                self.set_presenter(None);
            }
            _ => {}
        }
        Ok(result)
    }

    fn set_context(&self, context: &gst::Context) {
        self.take_display_context(context);
        self.parent_set_context(context)
    }
}

impl BaseSinkImpl for ZcWaylandSink {
    fn query(&self, query: &mut gst::QueryRef) -> bool {
        // Upstream elements asking for a Wayland display get the one in
        // use, and a converter picking its GPU the display's.
        if self.answer_display_query(query) || self.answer_main_device_query(query) {
            return true;
        }
        let accept_caps = match query.view() {
            gst::QueryView::AcceptCaps(q) => Some(q.caps_owned()),
            _ => None,
        };
        let answered = BaseSinkImplExt::parent_query(self, query);
        if let (Some(caps), gst::QueryView::AcceptCaps(q)) = (accept_caps, query.view())
            && !q.result()
        {
            self.explain_refusal(&caps);
        }
        answered
    }

    fn caps(&self, filter: Option<&gst::Caps>) -> Option<gst::Caps> {
        Some(self.sink_caps(filter))
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        self.set_stream_caps(caps)
    }

    fn propose_allocation(
        &self,
        query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
        if self.presenter().is_some_and(|p| p.supports_overlays()) {
            // Subtitles come as meta, shown above the video (composition.rs).
            query.add_allocation_meta::<gst_video::VideoOverlayCompositionMeta>(None);
        }
        self.propose_pool(query)
    }

    fn event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Eos(_) => self.post_stats(),
            gst::EventView::StreamStart(_) => self.forget_tags(),
            gst::EventView::Tag(tag) => self.take_tags(tag.tag()),
            _ => {}
        }
        self.parent_event(event)
    }
}

impl VideoSinkImpl for ZcWaylandSink {
    fn show_frame(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.render(buffer)
    }
}
