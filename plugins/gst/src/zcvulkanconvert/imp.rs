use std::collections::HashSet;
use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_allocators::prelude::*;
use gst_base::subclass::base_transform::{InputBuffer, PrepareOutputBufferSuccess};
use gst_base::subclass::prelude::*;
use zc_dmabuf::{DmaBuf, FrameLayout, Modifier};
use zc_vulkan::{
    Colorimetry, Context, Converter, ConverterOptions, DeviceChoice, FrameImport, OutputBuffer,
    OutputPath,
};

use super::caps;
use crate::allocator::{BackendSetting, ZcDmaBufAllocator};
use crate::dialect::{self, Dialect, DrmFormat};
use crate::frame::{Frame, MemoryKind};
use crate::lock;
use crate::main_device;
use crate::memory_cache::MemoryCache;

/// Each input memory carries its frame's Vulkan import, freed with it.
static IMPORTS: LazyLock<MemoryCache<FrameImport>> =
    LazyLock::new(|| MemoryCache::new("zc-vulkan-import"));

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcvulkanconvert",
        gst::DebugColorFlags::empty(),
        Some("zc Vulkan YUV to RGBA conversion"),
    )
});

#[derive(Debug, Clone, Default)]
struct Settings {
    /// `auto`, a device index, or a DRM node path.
    device: String,
}

/// Per-stream state: made in `start`, caps filled in `set_caps`.
struct State {
    converter: Converter,
    /// Wrap exported dma-buf outputs.
    dmabuf_allocator: gst_allocators::DmaBufAllocator,
    /// Wrap memfd outputs (no dma-buf exporter).
    fd_allocator: gst_allocators::FdAllocator,
    /// Output buffers for reuse, each with the Vulkan side of its dma-buf.
    /// One is free when only we hold the GstBuffer: downstream gets child
    /// buffers whose ParentBufferMeta holds a reference to it.
    outputs: Vec<(gst::Buffer, OutputBuffer)>,
    /// The DMA_DRM formats the device imports (any modifier it samples).
    inputs: Vec<DrmFormat>,
    in_info: Option<gst_video::VideoInfo>,
    /// The input caps' modifier (LINEAR for 1.22's caps).
    in_modifier: Modifier,
    out_info: Option<gst_video::VideoInfo>,
    colorimetry: Colorimetry,
}

#[derive(Default)]
pub struct ZcVulkanConvert {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    frames: AtomicU64,
    imports: AtomicU64,
    /// Caps already refused with a warning (once each).
    refused: Mutex<HashSet<String>>,
}

impl ZcVulkanConvert {
    /// The frame's layout and one handle (a dup) per GstMemory it uses.
    fn frame_of(
        &self,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        modifier: Modifier,
    ) -> Result<(FrameLayout, Vec<DmaBuf>), String> {
        if let Some(memory) = buffer
            .iter_memories()
            .find(|m| !m.is_memory_type::<gst_allocators::FdMemory>())
        {
            return Err(format!(
                "a frame arrived in {} memory, not a dma-buf or fd memory; put zcexport (or a zc pool) upstream",
                memory
                    .allocator()
                    .map(|a| a.name().to_string())
                    .unwrap_or_else(|| "system".into())
            ));
        }
        // One policy for every element: real fd sizes, full rows (a short
        // last row is refused here: the GPU gets whole frames only).
        let frame =
            Frame::from_buffer_with_modifier(buffer, info, modifier).map_err(|e| e.to_string())?;
        let mut buffers = Vec::with_capacity(frame.fds.len());
        for &fd in &frame.fds {
            // SAFETY: the buffer's memory keeps `fd` open while we borrow it
            // here; the dup below is ours.
            let owned = unsafe { BorrowedFd::borrow_raw(fd) }
                .try_clone_to_owned()
                .map_err(|e| format!("dup of the frame's fd: {e}"))?;
            let handle = if frame.kind == MemoryKind::DmaBuf {
                DmaBuf::from_fd(owned)
            } else {
                DmaBuf::from_memfd(owned)
            }
            .map_err(|e| e.to_string())?;
            buffers.push(handle);
        }
        let layout = frame.layout;
        Ok((layout, buffers))
    }

    /// Most output buffers kept for reuse: a compositor holds two or three,
    /// queues downstream a few more.
    const MAX_OUTPUTS: usize = 8;

    /// The index of an output nobody downstream holds, making one if needed.
    fn free_output(
        &self,
        state: &mut State,
        info: &gst_video::VideoInfo,
    ) -> Result<usize, gst::FlowError> {
        if let Some(i) = state.outputs.iter().position(|(b, _)| b.is_writable()) {
            return Ok(i);
        }
        if state.outputs.len() >= Self::MAX_OUTPUTS {
            // All in use: forget the oldest (it lives on downstream and is
            // freed when released) rather than stall the stream.
            gst::debug!(
                CAT,
                imp = self,
                "all {} outputs in use downstream; making another",
                Self::MAX_OUTPUTS
            );
            state.outputs.remove(0);
        }
        let target = state
            .converter
            .allocate_output(info.width(), info.height())
            .map_err(|err| {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::NoSpaceLeft,
                    ("cannot make an output buffer"),
                    ["{err}"]
                );
                gst::FlowError::Error
            })?;
        let buffer = self.wrap_output(state, &target)?;
        state.outputs.push((buffer, target));
        Ok(state.outputs.len() - 1)
    }

    /// A GstBuffer over a dup of the output's fd, with its VideoMeta.
    fn wrap_output(
        &self,
        state: &State,
        target: &OutputBuffer,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let fail = |what: String| {
            gst::element_imp_error!(
                self,
                gst::ResourceError::Failed,
                ("cannot wrap an output buffer"),
                ["{what}"]
            );
            gst::FlowError::Error
        };
        let handle = target
            .dmabuf()
            .try_clone()
            .map_err(|e| fail(e.to_string()))?;
        let size = handle.size() as usize;
        let is_dma_buf = handle.is_dma_buf();
        let raw = handle.into_fd().into_raw_fd();
        // SAFETY: `raw` is a dup we own and give up here; the memory takes
        // ownership and closes it when freed.
        let memory = unsafe {
            if is_dma_buf {
                state.dmabuf_allocator.alloc_dmabuf(raw, size)
            } else {
                state
                    .fd_allocator
                    .alloc_fd(raw, size, gst_allocators::FdMemoryFlags::NONE)
            }
        };
        let memory = memory.map_err(|err| {
            // SAFETY: the allocator failed before taking the fd; close it.
            drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) });
            fail(err.to_string())
        })?;
        let mut buffer = gst::Buffer::new();
        let out_mut = buffer
            .get_mut()
            .ok_or_else(|| fail("new buffer not writable".into()))?;
        out_mut.append_memory(memory);
        let layout = target.layout();
        let p = layout.planes()[0];
        gst_video::VideoMeta::add_full(
            out_mut,
            gst_video::VideoFrameFlags::empty(),
            caps::output_format(),
            layout.width(),
            layout.height(),
            &[p.offset as usize],
            &[p.stride as i32],
        )
        .map_err(|err| fail(format!("VideoMeta: {err}")))?;
        Ok(buffer)
    }

    /// The Vulkan device on the display's GPU, when a zc sink downstream
    /// knows the compositor's main device and a device here matches it.
    fn display_device(&self) -> Option<Arc<Context>> {
        let src_pad = self.obj().static_pad("src")?;
        let nodes = main_device::query_downstream(&src_pad)?;
        for node in &nodes {
            match Context::new(&DeviceChoice::DrmNode(node.clone())) {
                Ok(ctx) => {
                    gst::info!(
                        CAT,
                        imp = self,
                        "using {} on the display's main device {}",
                        ctx.info(),
                        node.display()
                    );
                    return Some(ctx);
                }
                Err(err) => {
                    gst::debug!(CAT, imp = self, "{}: {err}", node.display());
                }
            }
        }
        gst::info!(
            CAT,
            imp = self,
            "no Vulkan device here is on the display's main device ({}); using the first that imports \
             dma-bufs, so the compositor may have to import across devices",
            nodes
                .iter()
                .map(|n| n.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        None
    }

    /// The DMA_DRM formats `converter` imports: every input format with
    /// every modifier the device samples and imports it with.
    fn input_drm_formats(&self, converter: &Converter) -> Vec<DrmFormat> {
        let mut formats = Vec::new();
        for &fourcc in zc_vulkan::INPUT_FORMATS.iter() {
            match converter.input_modifiers(fourcc) {
                Ok(modifiers) => formats.extend(
                    modifiers
                        .into_iter()
                        .map(|modifier| DrmFormat { fourcc, modifier }),
                ),
                Err(err) => {
                    gst::warning!(CAT, imp = self, "modifiers for {fourcc}: {err}");
                }
            }
        }
        gst::info!(
            CAT,
            imp = self,
            "the device imports {}",
            formats
                .iter()
                .map(DrmFormat::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        formats
    }

    /// Say once per caps why upstream's DMA_DRM caps were refused: a bare
    /// not-negotiated would not name the modifier.
    fn warn_refusal(&self, caps: &gst::Caps, why: &str) {
        let text = caps.to_string();
        if !lock(&self.refused).insert(text) {
            return;
        }
        let device = lock(&self.state)
            .as_ref()
            .map(|s| s.converter.context().info().to_string())
            .unwrap_or_default();
        gst::element_imp_warning!(
            self,
            gst::CoreError::Negotiation,
            ("refused {caps}"),
            ["the Vulkan device {device}: {why}"]
        );
    }

    fn convert(&self, inbuf: &gst::BufferRef) -> Result<gst::Buffer, gst::FlowError> {
        let mut state = lock(&self.state);
        let Some(state) = state.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("not started"));
            return Err(gst::FlowError::Flushing);
        };
        let (Some(in_info), Some(out_info)) = (state.in_info.clone(), state.out_info.clone())
        else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("a buffer arrived before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let (layout, buffers) =
            self.frame_of(inbuf, &in_info, state.in_modifier)
                .map_err(|reason| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        ("cannot import the frame"),
                        ["{reason}"]
                    );
                    gst::FlowError::Error
                })?;
        let index = self.free_output(state, &out_info)?;
        let (out, target) = &mut state.outputs[index];
        let converter = &mut state.converter;
        let first_memory = inbuf.peek_memory(0);
        let import = match IMPORTS
            .get(first_memory)
            .filter(|import| import.is_import_of(converter, &layout, &buffers))
        {
            Some(import) => Ok(import),
            None => converter.import(&layout, &buffers).map(|import| {
                let import = Arc::new(import);
                self.imports.fetch_add(1, Ordering::Relaxed);
                gst::debug!(CAT, imp = self, "imported {import:?}");
                // Dropped with the memory: when its pool frees it, or a
                // re-import (new layout) replaces it.
                IMPORTS.set(first_memory, import.clone());
                import
            }),
        };
        import
            .and_then(|import| converter.convert_import_into(&import, state.colorimetry, target))
            .map_err(|err| {
                if err.is_device_lost() {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Failed,
                        ("the Vulkan device was lost"),
                        ["{err}; restart the pipeline (the device is reopened on the next start)"]
                    );
                } else {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Failed,
                        ("Vulkan conversion failed"),
                        ["{err}"]
                    );
                }
                gst::FlowError::Error
            })?;
        // Downstream gets a child buffer: the same memory and VideoMeta,
        // and a ParentBufferMeta that keeps the pooled buffer referenced
        // (so not reusable) until every holder of the child lets go.
        let mut child = gst::Buffer::new();
        {
            let child_mut = child.get_mut().ok_or(gst::FlowError::Error)?;
            out.copy_into(
                child_mut,
                gst::BufferCopyFlags::MEMORY | gst::BufferCopyFlags::META,
                ..,
            )
            .map_err(|_| gst::FlowError::Error)?;
            let _ = inbuf.copy_into(
                child_mut,
                gst::BufferCopyFlags::TIMESTAMPS | gst::BufferCopyFlags::FLAGS,
                ..,
            );
            gst::ParentBufferMeta::add(child_mut, out);
        }
        let out = child;
        let n = self.frames.fetch_add(1, Ordering::Relaxed);
        gst::trace!(
            CAT,
            imp = self,
            "frame {n} converted, {} imports alive",
            state.converter.live_imports()
        );
        Ok(out)
    }
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
                "zc Vulkan YUV to RGBA",
                "Filter/Converter/Video/Hardware",
                "Imports YUV dma-buf frames (NV12, I420, YUY2, P010) into Vulkan, converts them to RGBA with a \
                 compute shader (BT.601/709/2020, limited or full range from the caps) and hands the result on \
                 as a dma-buf: no CPU copy",
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
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
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
        let out = caps::transform(
            direction,
            caps,
            Dialect::runtime(),
            inputs.as_deref(),
            dmabuf_outputs,
        );
        let out = match filter {
            Some(filter) => filter.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        };
        gst::debug!(CAT, imp = self, "{direction:?} {caps} -> {out}");
        Some(out)
    }

    fn accept_caps(&self, direction: gst::PadDirection, caps: &gst::Caps) -> bool {
        // BaseTransform's check looks at templates and at what the caps
        // transform into, not at modifiers: a DMA_DRM format the device
        // cannot import is refused here, by name.
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
        // Either dialect (1.22's format=NV12, 1.24's DMA_DRM) in one place.
        let (in_info, in_drm) = dialect::video_info(incaps).map_err(|e| fail(e.to_string()))?;
        let (out_info, _) = dialect::video_info(outcaps).map_err(|e| fail(e.to_string()))?;
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
        _decide_query: Option<&gst::query::Allocation>,
        query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
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
