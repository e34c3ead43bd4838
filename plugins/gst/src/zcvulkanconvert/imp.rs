use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_transform::{InputBuffer, PrepareOutputBufferSuccess};
use gst_base::subclass::prelude::*;
use zc_dmabuf::Modifier;
use zc_vulkan::{
    Colorimetry, Context, Converter, ConverterOptions, DeviceChoice, OutputBuffer, OutputPath,
};

use super::caps;
use crate::allocator::{BackendSetting, ZcDmaBufAllocator};
use crate::dialect::{self, Dialect, DrmFormat};
use crate::lock;

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcvulkanconvert",
        gst::DebugColorFlags::empty(),
        Some("zc Vulkan YUV to RGB conversion"),
    )
});

const DEFAULT_PASSTHROUGH: bool = false;

#[derive(Debug, Clone, Default)]
struct Settings {
    /// `auto`, a device index, or a DRM node path.
    device: String,
    /// Pass frames downstream takes as they are on untouched.
    passthrough: bool,
}

/// Per-stream state: made in `start`, caps filled in `set_caps`.
pub(super) struct State {
    pub(super) converter: Converter,
    /// Wrap exported dma-buf outputs.
    pub(super) dmabuf_allocator: gst_allocators::DmaBufAllocator,
    /// Wrap memfd outputs (no dma-buf exporter).
    pub(super) fd_allocator: gst_allocators::FdAllocator,
    /// Output buffers for reuse, each with the Vulkan side of its dma-buf.
    /// One is free when only we hold the GstBuffer: downstream gets child
    /// buffers whose ParentBufferMeta holds a reference to it.
    pub(super) outputs: Vec<(gst::Buffer, OutputBuffer)>,
    /// The DMA_DRM formats the device imports (any modifier it samples).
    pub(super) inputs: Vec<DrmFormat>,
    pub(super) in_info: Option<gst_video::VideoInfo>,
    /// The input caps' modifier (LINEAR for 1.22's caps).
    pub(super) in_modifier: Modifier,
    pub(super) out_info: Option<gst_video::VideoInfo>,
    pub(super) colorimetry: Colorimetry,
}

#[derive(Default)]
pub struct ZcVulkanConvert {
    settings: Mutex<Settings>,
    pub(super) state: Mutex<Option<State>>,
    pub(super) frames: AtomicU64,
    pub(super) imports: AtomicU64,
    /// Caps already refused with a warning (once each).
    pub(super) refused: Mutex<HashSet<String>>,
}

#[glib::object_subclass]
impl ObjectSubclass for ZcVulkanConvert {
    const NAME: &'static str = "GstZcVulkanConvert";
    type Type = super::ZcVulkanConvert;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for ZcVulkanConvert {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("device")
                    .nick("Vulkan device")
                    .blurb(
                        "Which Vulkan device converts: `auto` (the first that can import dma-bufs), a device \
                         index in the loader's order (0, 1, ...), or a DRM node such as /dev/dri/renderD128 \
                         (matched through VK_EXT_physical_device_drm; use the compositor's main device)",
                    )
                    .default_value(Some("auto"))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("passthrough")
                    .nick("Passthrough")
                    .blurb(
                        "Pass frames on untouched where downstream takes them as they are, and convert only \
                         where it does not (as videoconvert does); off: always convert to RGB",
                    )
                    .default_value(DEFAULT_PASSTHROUGH)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("frames-converted")
                    .nick("Frames converted")
                    .blurb("Frames converted since the element last started")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("frames-imported")
                    .nick("Frames imported")
                    .blurb(
                        "Input buffers imported into Vulkan since the element last started. Each import is \
                         kept on the buffer's memory and freed with it, so with a pool upstream this stays \
                         at the pool's size however many frames pass",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "device" => {
                let device: Option<String> = value.get().unwrap_or_default();
                lock(&self.settings).device = device.unwrap_or_else(|| "auto".into());
            }
            "passthrough" => {
                let passthrough = value.get().unwrap_or(DEFAULT_PASSTHROUGH);
                lock(&self.settings).passthrough = passthrough;
            }
            other => gst::warning!(CAT, imp = self, "no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "device" => {
                let device = lock(&self.settings).device.clone();
                if device.is_empty() {
                    "auto".to_value()
                } else {
                    device.to_value()
                }
            }
            "passthrough" => lock(&self.settings).passthrough.to_value(),
            "frames-converted" => self.frames.load(Ordering::Relaxed).to_value(),
            "frames-imported" => self.imports.load(Ordering::Relaxed).to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for ZcVulkanConvert {}

impl ElementImpl for ZcVulkanConvert {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "zc Vulkan YUV to RGB",
                "Filter/Converter/Video/Hardware",
                "Imports YUV dma-buf frames (NV12, YUY2, P010, and 8- or 10-bit planar 4:2:0, 4:2:2 and 4:4:4) \
                 into Vulkan, converts them to RGB with a compute shader (BT.601/709/2020, limited or full range from the caps) and hands the result on \
                 as a dma-buf: no CPU copy. Output: RGBA, or 10 bits per colour where 10-bit video should stay 10-bit: \
                 BGR10A2_LE (DRM AR30) and RGB10A2_LE (AB30), and on GStreamer 1.28+ BGR10x2_LE (XR30) and RGB10x2_LE (XB30); \
                 10-bit input goes out as 10-bit RGB when downstream takes it, 8-bit input as RGBA",
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
                    &caps::sink_template(),
                )
                .expect("valid sink template"), // ok: static caps
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps::src_template(),
                )
                .expect("valid src template"), // ok: static caps
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for ZcVulkanConvert {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    // Same caps on both sides only come from transform_caps with the
    // `passthrough` property (converted caps are always RGBA from YUV).
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let wanted = lock(&self.settings).device.clone();
        let choice: DeviceChoice = wanted.parse().map_err(|_| {
            gst::error_msg!(
                gst::LibraryError::Settings,
                ["device={wanted:?} is neither `auto`, a device index nor a /dev/dri path"]
            )
        })?;
        let ctx = match choice {
            DeviceChoice::Auto => self.display_device(),
            _ => None,
        };
        let ctx = match ctx {
            Some(ctx) => Ok(ctx),
            None => Context::new(&choice),
        };
        let ctx = ctx.map_err(|err| {
            gst::error_msg!(
                gst::ResourceError::NotFound,
                ("no usable Vulkan device"),
                ["{err}"]
            )
        })?;
        let converter = Converter::new(ctx, ConverterOptions::default()).map_err(|err| {
            gst::error_msg!(
                gst::ResourceError::Failed,
                ("cannot set up the Vulkan conversion"),
                ["{err}"]
            )
        })?;
        gst::info!(
            CAT,
            imp = self,
            "Vulkan device {}; inputs as {:?}, outputs as {:?}",
            converter.context().info(),
            converter.import_path(),
            converter.output_path()
        );
        let inputs = self.input_drm_formats(&converter);
        self.frames.store(0, Ordering::Relaxed);
        self.imports.store(0, Ordering::Relaxed);
        *lock(&self.state) = Some(State {
            inputs,
            in_modifier: Modifier::LINEAR,
            converter,
            dmabuf_allocator: gst_allocators::DmaBufAllocator::new(),
            fd_allocator: gst_allocators::FdAllocator::new(),
            outputs: Vec::new(),
            in_info: None,
            out_info: None,
            colorimetry: Colorimetry::default_for_height(0),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // Drops the imports, pipelines and the device, in that order.
        *lock(&self.state) = None;
        Ok(())
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let (inputs, dmabuf_outputs) = match lock(&self.state).as_ref() {
            Some(state) => (
                Some(state.inputs.clone()),
                state.converter.output_path() == OutputPath::ExportedDmaBuf,
            ),
            None => (None, true),
        };
        let converted = caps::transform(
            direction,
            caps,
            Dialect::runtime(),
            inputs.as_deref(),
            dmabuf_outputs,
        );
        // With passthrough: the same caps first, what the conversion makes
        // after them.
        let out = if lock(&self.settings).passthrough {
            let mut same = caps.clone();
            same.merge(converted);
            same
        } else {
            converted
        };
        let out = match filter {
            Some(filter) => filter.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        };
        gst::debug!(CAT, imp = self, "{direction:?} {caps} -> {out}");
        Some(out)
    }

    fn fixate_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        othercaps: gst::Caps,
    ) -> gst::Caps {
        // Output caps: 10-bit video out as 10-bit RGB where downstream takes
        // it, else RGBA (whatever order downstream listed them in). Caps
        // passed through untouched are left to the default.
        let passing = lock(&self.settings).passthrough && othercaps.can_intersect(caps);
        let othercaps = if direction == gst::PadDirection::Sink && !passing {
            caps::prefer_output(caps, othercaps)
        } else {
            othercaps
        };
        self.parent_fixate_caps(direction, caps, othercaps)
    }

    fn accept_caps(&self, direction: gst::PadDirection, caps: &gst::Caps) -> bool {
        // BaseTransform's check looks at templates and at what the caps
        // transform into, not at modifiers: a DMA_DRM format the device
        // cannot import is refused here, by name.
        if direction == gst::PadDirection::Sink
            && lock(&self.settings).passthrough
            && self.obj().src_pad().peer_query_accept_caps(caps)
        {
            // Passed on untouched: downstream takes them as they are.
            return true;
        }
        if direction == gst::PadDirection::Sink {
            let inputs = lock(&self.state).as_ref().map(|s| s.inputs.clone());
            if let Some(why) = inputs.and_then(|inputs| dialect::refusal(caps, &inputs)) {
                self.warn_refusal(caps, &why);
                return false;
            }
        }
        self.parent_accept_caps(direction, caps)
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let fail = |reason: String| {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("cannot convert {incaps}: {reason}")
            );
            gst::loggable_error!(CAT, "{reason}")
        };
        if incaps == outcaps {
            gst::info!(CAT, imp = self, "passing {incaps} on untouched");
            return Ok(());
        }
        // Either dialect (1.22's format=NV12, 1.24's DMA_DRM) in one place.
        let (in_info, in_drm) = dialect::video_info(incaps).map_err(|e| fail(e.to_string()))?;
        let (out_info, _) = dialect::video_info(outcaps).map_err(|e| fail(e.to_string()))?;
        if !caps::output_formats().contains(&out_info.format()) {
            return Err(fail(format!(
                "output format {} is not one the shader writes ({})",
                out_info.format().to_str(),
                caps::output_formats()
                    .iter()
                    .map(|f| f.to_str().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !caps::input_formats().contains(&in_info.format()) {
            return Err(fail(format!(
                "input format {} is not one the shader converts ({})",
                in_info.format().to_str(),
                caps::input_list()
            )));
        }
        let inputs = lock(&self.state)
            .as_ref()
            .map(|s| s.inputs.clone())
            .ok_or_else(|| fail("caps before start".to_owned()))?;
        if in_drm.modifier != Modifier::LINEAR && !inputs.contains(&in_drm) {
            let why = dialect::refusal(incaps, &inputs).unwrap_or_else(|| {
                format!("the device cannot import modifier {}", in_drm.modifier)
            });
            return Err(fail(why));
        }
        let (colorimetry, note) = crate::colorimetry::from_caps(incaps, &in_info);
        if let Some(note) = note {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                ("colorimetry defaulted to {colorimetry}"),
                ["{note} (default: BT.709 from 720 lines, BT.601 below, limited range)"]
            );
        }
        gst::info!(
            CAT,
            imp = self,
            "converting {incaps} to {outcaps} with {colorimetry}"
        );
        let mut state = lock(&self.state);
        let state = state
            .as_mut()
            .ok_or_else(|| gst::loggable_error!(CAT, "caps before start"))?;
        state.outputs.clear();
        state.in_info = Some(in_info);
        state.in_modifier = in_drm.modifier;
        state.out_info = Some(out_info);
        state.colorimetry = colorimetry;
        Ok(())
    }

    fn propose_allocation(
        &self,
        decide_query: Option<&gst::query::Allocation>,
        query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
        if self.obj().is_passthrough() {
            // Downstream's proposal, forwarded.
            return self.parent_propose_allocation(decide_query, query);
        }
        let (Some(caps), _need_pool) = query.get_owned() else {
            return Err(gst::loggable_error!(CAT, "allocation query without caps"));
        };
        // Either dialect; zc's pool makes linear frames only (a producer of
        // tiled frames keeps its own) and reads 1.22's caps.
        let (info, drm) = dialect::video_info(&caps)
            .map_err(|e| gst::loggable_error!(CAT, "allocation query caps: {e}"))?;
        query.add_allocation_meta::<gst_video::VideoMeta>(None);
        if drm.modifier != Modifier::LINEAR {
            return Ok(());
        }
        let caps = info
            .to_caps()
            .map_err(|_| gst::loggable_error!(CAT, "no caps for {caps}"))?;
        let allocator = ZcDmaBufAllocator::new(BackendSetting::Auto);
        allocator
            .backend()
            .map_err(|err| gst::loggable_error!(CAT, "no dma-buf backend for the pool: {err}"))?;
        crate::pool_proposal::offer_pool(query, &allocator, &caps, &info)
            .map_err(|_| gst::loggable_error!(CAT, "the zc pool refused {caps}"))?;
        gst::debug!(CAT, imp = self, "proposed a zc pool for {caps}");
        Ok(())
    }

    fn decide_allocation(
        &self,
        _query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
        // Outputs are Vulkan's own exported memory, not from a downstream pool.
        Ok(())
    }

    fn prepare_output_buffer(
        &self,
        inbuf: InputBuffer,
    ) -> Result<PrepareOutputBufferSuccess, gst::FlowError> {
        if self.obj().is_passthrough() {
            return Ok(PrepareOutputBufferSuccess::InputBuffer);
        }
        let inbuf: &gst::BufferRef = match &inbuf {
            InputBuffer::Writable(b) => b,
            InputBuffer::Readable(b) => b,
        };
        self.convert(inbuf).map(PrepareOutputBufferSuccess::Buffer)
    }

    fn transform(
        &self,
        _inbuf: &gst::Buffer,
        _outbuf: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // The conversion happened in prepare_output_buffer, which makes the
        // output buffer from the exported dma-buf.
        Ok(gst::FlowSuccess::Ok)
    }
}
