//! zcexport's GObject and GStreamer glue: its pads, state and the
//! ObjectImpl/ElementImpl methods, each handing over to the module that
//! does the job.

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use zc_dmabuf::{Backend, Modifier};

use super::negotiation;
use super::settings::{self, Settings};
use super::stats::{self, Counters};
use crate::allocator::ZcDmaBufAllocator;
use crate::lock;
use crate::pool::ZcBufferPool;

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcexport",
        gst::DebugColorFlags::empty(),
        Some("zc dma-buf export"),
    )
});

/// Negotiated per-stream state.
pub(super) struct State {
    pub info: gst_video::VideoInfo,
    /// From DMA_DRM input caps; LINEAR otherwise. Frames with another
    /// modifier are only passed on, never copied.
    pub modifier: Modifier,
    /// Whether the output caps are DMA_DRM, whose readers need a VideoMeta
    /// on every buffer.
    pub dma_drm_out: bool,
    /// Where copied frames go; made for the current caps.
    pub copy_pool: Option<ZcBufferPool>,
    /// Whether frames are passed on as they come, unchecked: their format
    /// is one zc does not lay out (counted in `frames-passed-on`).
    pub pass_on: bool,
    pub warned_copy: bool,
    /// Whether frames lacking full rows were warned about (once).
    pub warned_rows: bool,
}

pub struct ZcExport {
    pub(super) sinkpad: gst::Pad,
    pub(super) srcpad: gst::Pad,
    pub(super) settings: Mutex<Settings>,
    pub(super) state: Mutex<Option<State>>,
    allocator: Mutex<Option<ZcDmaBufAllocator>>,
    pub(super) counters: Counters,
}

impl ZcExport {
    /// The allocator of the `backend` setting, opened on first use.
    pub(super) fn allocator(&self) -> ZcDmaBufAllocator {
        let mut allocator = lock(&self.allocator);
        allocator
            .get_or_insert_with(|| ZcDmaBufAllocator::new(lock(&self.settings).backend))
            .clone()
    }

    /// Whether the output is dma-bufs (any backend but memfd).
    pub(super) fn outputs_dma_bufs(&self) -> bool {
        self.allocator()
            .backend()
            .map(|b| b != Backend::Memfd)
            .unwrap_or(false)
    }

    /// The upstream element, for messages.
    pub(super) fn upstream_name(&self) -> String {
        self.sinkpad
            .peer()
            .and_then(|peer| peer.parent_element())
            .map(|element| element.name().to_string())
            .unwrap_or_else(|| "the upstream element".to_owned())
    }

    /// Upstream events (QoS after every frame, reconfigure, seeks) go
    /// straight to the one sink pad: the default handler would look the
    /// pad up through the element's internal links each time.
    fn src_event(&self, event: gst::Event) -> bool {
        self.sinkpad.push_event(event)
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(caps_event) => match self.set_caps(caps_event.caps()) {
                Ok(out_caps) => self.srcpad.push_event(gst::event::Caps::new(&out_caps)),
                Err(reason) => {
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Negotiation,
                        ("cannot negotiate: {reason}")
                    );
                    false
                }
            },
            gst::EventView::Eos(_) => {
                self.post_stats();
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ZcExport {
    const NAME: &'static str = "GstZcExport";
    type Type = super::ZcExport;
    type ParentType = gst::Element;

    #[allow(clippy::expect_used)] // ok: class_init registers both templates
    fn with_class(klass: &Self::Class) -> Self {
        let sink_template = klass
            .pad_template("sink")
            .expect("sink template is registered below"); // ok: class_init
        let sinkpad = gst::Pad::builder_from_template(&sink_template)
            .chain_function(|pad, parent, buffer| {
                ZcExport::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                ZcExport::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                ZcExport::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_query(pad, query),
                )
            })
            .build();
        let src_template = klass
            .pad_template("src")
            .expect("src template is registered below"); // ok: class_init
        let srcpad = gst::Pad::builder_from_template(&src_template)
            .event_function(|_pad, parent, event| {
                ZcExport::catch_panic_pad_function(parent, || false, |imp| imp.src_event(event))
            })
            .query_function(|pad, parent, query| {
                ZcExport::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_query(pad, query),
                )
            })
            .build();
        Self {
            sinkpad,
            srcpad,
            settings: Mutex::default(),
            state: Mutex::default(),
            allocator: Mutex::default(),
            counters: Counters::default(),
        }
    }
}

impl ObjectImpl for ZcExport {
    #[allow(clippy::expect_used)] // ok: a fresh element takes its pads
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad)
            .expect("a fresh element takes its pads"); // ok: construction
        obj.add_pad(&self.srcpad)
            .expect("a fresh element takes its pads"); // ok: construction
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut properties = settings::properties();
            properties.extend(stats::properties());
            properties
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let name = pspec.name();
        if !lock(&self.settings).set(name, value) {
            gst::warning!(CAT, imp = self, "no property {name}");
        } else if name == "backend" {
            // The next negotiation opens the new backend.
            *lock(&self.allocator) = None;
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let name = pspec.name();
        lock(&self.settings)
            .get(name)
            .or_else(|| self.counters.property(name))
            .unwrap_or_else(|| glib::Value::from_type(pspec.value_type()))
    }
}

impl GstObjectImpl for ZcExport {}

impl ElementImpl for ZcExport {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "zc dma-buf export",
                "Filter/Video",
                "Proposes a dma-buf pool upstream so decoders write into dma-bufs, passes dma-buf frames on \
                 untouched, and copies system-memory frames into dma-bufs only when it must",
                "zc developers",
            )
        });
        Some(&*METADATA)
    }

    #[allow(clippy::expect_used)] // ok: templates from static caps
    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let (sink_caps, src_caps) = negotiation::template_caps();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &sink_caps,
                )
                .expect("valid sink template"), // ok: static caps
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src_caps,
                )
                .expect("valid src template"), // ok: static caps
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            self.counters.reset();
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady
            && let Some(state) = lock(&self.state).take()
            && let Some(pool) = state.copy_pool
        {
            let _ = pool.set_active(false);
        }
        Ok(result)
    }
}
