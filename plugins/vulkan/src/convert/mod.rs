//! The YUV->RGB compute pass: import, dispatch, export (RGBA8, or 10 bits
//! per colour: [`OUTPUT_FORMATS`]).
//!
//! Imports are [`FrameImport`]s owned by the caller, so they live exactly as
//! long as the frame's buffers do (the element keeps one on each GstMemory).
//!
//! Here: [`Converter`], its options and its public calls. Beside it:
//! - `pipeline`: the shaders, their pipelines and push constants;
//! - `resources`: command and descriptor pools, fence, semaphores;
//! - `frame_import`: [`FrameImport`], a frame imported once;
//! - `output`: [`OutputBuffer`] and how outputs are made ([`OutputPath`]);
//! - `sync`: fences in and out, timeouts, the submission in flight;
//! - `record`: recording and submitting one conversion.

mod frame_import;
mod output;
mod pipeline;
mod record;
mod resources;
mod shader_format;
mod sync;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ash::vk;
use zc_dmabuf::color::Colorimetry;
use zc_dmabuf::{DmaBuf, Fourcc, FrameLayout, Modifier, StrideAlign};

pub use frame_import::FrameImport;
use frame_import::file_identities;
use output::OutputVk;
pub use output::{Output, OutputBuffer, OutputPath};
use pipeline::{BUFFER_SPV, IMAGE_SPV, Pipeline, create_pipeline, push_constants};
use resources::Resources;
pub use shader_format::{INPUT_FORMATS, OUTPUT_FORMATS};
use shader_format::{ShaderFormat, output_packing};
pub(crate) use shader_format::{input_names, output_names};
use sync::{FENCE_TIMEOUT, InFlight};

use crate::device::Context;
use crate::error::{Error, Result};
use crate::import::{self, Imported};

/// The default output format: RGBA bytes in memory order (DRM ABGR8888,
/// GStreamer's RGBA). [`OUTPUT_FORMATS`] lists every format it can write.
pub const OUTPUT_FORMAT: Fourcc = Fourcc::ABGR8888;

/// Options for a [`Converter`].
#[derive(Clone, Debug, Default)]
pub struct ConverterOptions {
    /// Import into storage buffers even where image import with modifiers
    /// is available (for tests of the fallback path).
    pub force_buffer_path: bool,
}

/// Which way a frame was imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportPath {
    /// Single-plane images with explicit DRM modifier layouts.
    Images,
    /// Storage buffers addressed by offset and stride.
    Buffers,
}

/// Converts YUV dma-buf frames to RGBA dma-bufs on one device.
///
/// Not `Sync`: one conversion at a time (the element holds it in a Mutex).
pub struct Converter {
    // Drop order: pipelines and resources, then the context (held by
    // everything through Arc anyway, imports included).
    buffer_pipeline: Pipeline,
    image_pipeline: Option<Pipeline>,
    resources: Resources,
    command_buffer: vk::CommandBuffer,
    buffer_set: vk::DescriptorSet,
    image_set: vk::DescriptorSet,
    ctx: Arc<Context>,
    options: ConverterOptions,
    /// Imports made by this converter and not yet dropped.
    live_imports: Arc<AtomicUsize>,
    output_path: OutputPath,
    /// How long a conversion's fence is waited for.
    fence_timeout: Duration,
    /// The submission whose fence was not yet seen signalled (after a
    /// timeout): its command buffer, descriptor sets and semaphores stay
    /// untouched, and what it reads and writes alive, until it signalled.
    in_flight: Option<InFlight>,
}

impl Drop for Converter {
    fn drop(&mut self) {
        if self.in_flight.is_some() {
            // Before the pipelines go (fields drop before `resources`, whose
            // drop waits for the queue too).
            // SAFETY: our queue; waiting has no other effect.
            let _ = unsafe { self.ctx.device.queue_wait_idle(self.ctx.queue) };
        }
    }
}

impl std::fmt::Debug for Converter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Converter")
            .field("ctx", &self.ctx)
            .field("output_path", &self.output_path)
            .finish()
    }
}

impl Converter {
    pub fn new(ctx: Arc<Context>, options: ConverterOptions) -> Result<Self> {
        let buffer_pipeline =
            create_pipeline(&ctx, BUFFER_SPV, vk::DescriptorType::STORAGE_BUFFER)?;
        let image_pipeline = if ctx.capabilities().drm_format_modifier {
            Some(create_pipeline(
                &ctx,
                IMAGE_SPV,
                vk::DescriptorType::SAMPLED_IMAGE,
            )?)
        } else {
            None
        };
        let resources = Resources::new(&ctx)?;
        let command_buffer = resources.allocate_command_buffer()?;
        let mut set_layouts = vec![buffer_pipeline.set_layout];
        if let Some(p) = &image_pipeline {
            set_layouts.push(p.set_layout);
        }
        let sets = resources.allocate_descriptor_sets(&set_layouts)?;
        let caps = ctx.capabilities();
        let output_path = if caps.export_dma_buf {
            OutputPath::ExportedDmaBuf
        } else {
            OutputPath::ImportedMemfd
        };
        log::debug!(
            "converter: inputs as {}, outputs as {output_path:?}, {}",
            if caps.drm_format_modifier && !options.force_buffer_path {
                "images"
            } else {
                "buffers"
            },
            if caps.sync_fd_semaphore {
                "producer sync_files waited on by the GPU (SYNC_FD semaphore), output fence attached as a sync_file"
            } else {
                "no SYNC_FD semaphores: producer fences waited on the CPU"
            }
        );
        Ok(Converter {
            buffer_pipeline,
            image_pipeline,
            resources,
            command_buffer,
            buffer_set: sets[0],
            image_set: sets.get(1).copied().unwrap_or_default(),
            ctx,
            options,
            live_imports: Arc::new(AtomicUsize::new(0)),
            output_path,
            fence_timeout: FENCE_TIMEOUT,
            in_flight: None,
        })
    }

    /// How long to wait for each conversion on the GPU (default 20 s). For
    /// tests: a tiny one makes the timeout path run.
    #[doc(hidden)]
    pub fn set_fence_timeout(&mut self, timeout: Duration) {
        self.fence_timeout = timeout;
    }

    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// How outputs are currently made.
    pub fn output_path(&self) -> OutputPath {
        self.output_path
    }

    /// Whether producers' fences are waited for by the GPU (their sync_file
    /// imported as a SYNC_FD semaphore) and outputs get the conversion's
    /// fence as a sync_file; otherwise the CPU waits.
    pub fn gpu_sync(&self) -> bool {
        self.ctx.semaphore_fd.is_some()
    }

    /// The path frames are imported by.
    pub fn import_path(&self) -> ImportPath {
        if self.image_pipeline.is_some() && !self.options.force_buffer_path {
            ImportPath::Images
        } else {
            ImportPath::Buffers
        }
    }

    /// The DRM modifiers this converter imports frames of `fourcc` with:
    /// on the image path, those the device samples and imports for every
    /// plane (explicit plane layouts, one dma-buf or one per plane); on the
    /// buffer path, LINEAR only. Empty for a format it does not convert.
    pub fn input_modifiers(&self, fourcc: Fourcc) -> Result<Vec<Modifier>> {
        if ShaderFormat::of(fourcc).is_err() {
            return Ok(Vec::new());
        }
        match self.import_path() {
            ImportPath::Images => import::importable_modifiers(&self.ctx, fourcc),
            ImportPath::Buffers => Ok(vec![Modifier::LINEAR]),
        }
    }

    /// Import a frame without converting it: whether and how this device
    /// takes it. Any format with a known plane mapping (YUV inputs, 32-bit
    /// RGB) can be checked.
    pub fn check_import(&self, layout: &FrameLayout, buffers: &[DmaBuf]) -> Result<ImportPath> {
        import::import_frame(&self.ctx, layout, buffers, self.options.force_buffer_path).map(
            |imported| match imported {
                Imported::Images(_) => ImportPath::Images,
                Imported::Buffers(_) => ImportPath::Buffers,
            },
        )
    }

    /// Import a frame for conversion, once per buffer: convert it with
    /// [`Converter::convert_import_into`] as often as it comes back.
    pub fn import(&self, layout: &FrameLayout, buffers: &[DmaBuf]) -> Result<FrameImport> {
        ShaderFormat::of(layout.fourcc())?;
        let identity = file_identities(buffers)?;
        let buffers = buffers
            .iter()
            .map(DmaBuf::try_clone)
            .collect::<zc_dmabuf::Result<Vec<_>>>()?;
        let imported =
            import::import_frame(&self.ctx, layout, &buffers, self.options.force_buffer_path)?;
        self.live_imports.fetch_add(1, Ordering::Relaxed);
        Ok(FrameImport {
            imported: Arc::new(imported),
            buffers,
            layout: layout.clone(),
            identity,
            converter_id: self.id(),
            live: self.live_imports.clone(),
        })
    }

    /// Imports this converter made that are still alive (held by callers).
    pub fn live_imports(&self) -> usize {
        self.live_imports.load(Ordering::Relaxed)
    }

    /// What tells this converter's imports from another's.
    fn id(&self) -> usize {
        Arc::as_ptr(&self.live_imports) as usize
    }

    /// Convert one frame. The returned buffer is complete when this returns
    /// (our fence was waited for), so it carries no pending GPU work.
    pub fn convert(
        &mut self,
        layout: &FrameLayout,
        buffers: &[DmaBuf],
        colour: Colorimetry,
    ) -> Result<Output> {
        self.convert_to(layout, buffers, colour, OUTPUT_FORMAT)
    }

    /// As [`Converter::convert`], writing `output_format` (one of
    /// [`OUTPUT_FORMATS`]).
    pub fn convert_to(
        &mut self,
        layout: &FrameLayout,
        buffers: &[DmaBuf],
        colour: Colorimetry,
        output_format: Fourcc,
    ) -> Result<Output> {
        ShaderFormat::of(layout.fourcc())?;
        let out = self.allocate_output_as(output_format, layout.width(), layout.height())?;
        self.convert_into(layout, buffers, colour, &out)?;
        let OutputBuffer { layout, buffer, .. } = out;
        Ok(Output { layout, buffer })
    }

    /// An RGBA output for frames of this size, to convert into again and
    /// again with [`Converter::convert_into`] (a consumer such as a
    /// compositor then sees the same dma-bufs come back).
    pub fn allocate_output(&mut self, width: u32, height: u32) -> Result<OutputBuffer> {
        self.allocate_output_as(OUTPUT_FORMAT, width, height)
    }

    /// As [`Converter::allocate_output`], in `fourcc`: one of
    /// [`OUTPUT_FORMATS`] (e.g. XR30 to keep 10-bit video 10-bit).
    pub fn allocate_output_as(
        &mut self,
        fourcc: Fourcc,
        width: u32,
        height: u32,
    ) -> Result<OutputBuffer> {
        output_packing(fourcc)?;
        let layout = FrameLayout::compute(fourcc, width, height, StrideAlign::DEFAULT)?;
        let (vk_buffer, buffer, memory) = self.make_output(&layout)?;
        Ok(OutputBuffer {
            layout,
            buffer,
            vk: Arc::new(OutputVk {
                buffer: vk_buffer,
                _memory: memory,
            }),
        })
    }

    /// Convert one frame into `out`, importing it for this call only (see
    /// [`Converter::import`] to import once and convert many times).
    pub fn convert_into(
        &mut self,
        layout: &FrameLayout,
        buffers: &[DmaBuf],
        colour: Colorimetry,
        out: &OutputBuffer,
    ) -> Result<()> {
        let frame = self.import(layout, buffers)?;
        self.convert_import_into(&frame, colour, out)
    }

    /// Convert an imported frame into `out`. Waits first for every reader
    /// of `out` (the fences on its dma-buf) and for the producer of the
    /// input; the result is complete when this returns, so `frame` may be
    /// dropped right after.
    pub fn convert_import_into(
        &mut self,
        frame: &FrameImport,
        colour: Colorimetry,
        out: &OutputBuffer,
    ) -> Result<()> {
        if frame.converter_id != self.id() {
            return Err(Error::ForeignImport);
        }
        // Before anything the last submission used (semaphores, descriptor
        // sets, command buffer) is touched.
        self.finish_in_flight()?;
        let layout = &frame.layout;
        let buffers = &frame.buffers;
        let format = ShaderFormat::of(layout.fourcc())?;
        if (out.layout.width(), out.layout.height()) != (layout.width(), layout.height()) {
            return Err(Error::OutputSize {
                output: (out.layout.width(), out.layout.height()),
                input: (layout.width(), layout.height()),
            });
        }
        let gpu_waits = self.wait_for_producer_and_readers(buffers, &out.buffer)?;
        let push = push_constants(layout, colour, format, &out.layout)?;
        self.record_and_submit(&frame.imported, layout, &out.vk.buffer, &push, gpu_waits)?;
        // Until its fence signalled, the submission keeps what it uses alive
        // (the caller may drop the frame and the output after a timeout).
        self.in_flight = Some(InFlight {
            _imported: frame.imported.clone(),
            _output: out.vk.clone(),
        });
        self.finish_in_flight()?;
        self.attach_output_fence(&out.buffer);
        Ok(())
    }
}
