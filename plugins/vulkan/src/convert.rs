//! The YUV->RGBA compute pass: import, dispatch, export.
//!
//! Imports are [`FrameImport`]s owned by the caller, so they live exactly as
//! long as the frame's buffers do (the element keeps one on each GstMemory).

use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ash::vk;
use zc_dmabuf::{
    Access, Allocator, DmaBuf, Fourcc, FrameLayout, MemfdAllocator, Modifier, StrideAlign,
};

use crate::color::Colorimetry;
use crate::device::Context;
use crate::error::{Error, Result};
use crate::import::{self, Imported, OwnedBuffer};

static BUFFER_SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/yuv_to_rgba_buffer.spv"));
static IMAGE_SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/yuv_to_rgba_image.spv"));

/// The formats the converter takes, in the shaders' numbering.
pub const INPUT_FORMATS: [Fourcc; 4] = [Fourcc::NV12, Fourcc::YUV420, Fourcc::YUYV, Fourcc::P010];

/// The output format: RGBA bytes in memory order (DRM ABGR8888,
/// GStreamer's RGBA).
pub const OUTPUT_FORMAT: Fourcc = Fourcc::ABGR8888;

/// How long the producer's implicit fence and our own fence may take.
const FENCE_TIMEOUT: Duration = Duration::from_secs(20);

fn shader_format(fourcc: Fourcc) -> Result<u32> {
    INPUT_FORMATS
        .iter()
        .position(|&f| f == fourcc)
        .map(|i| i as u32)
        .ok_or(Error::UnsupportedFormat { fourcc })
}

/// Must match `Params` in shaders/yuv_common.wgsl.
fn push_constants(
    layout: &FrameLayout,
    colour: Colorimetry,
    format: u32,
    output: &FrameLayout,
) -> [u8; 80] {
    let planes = layout.planes();
    let offset = |i: usize| planes.get(i).map_or(0, |p| p.offset as u32);
    let stride = |i: usize| planes.get(i).map_or(0, |p| p.stride);
    let out = output.planes()[0];
    let bits = if layout.fourcc() == Fourcc::P010 {
        10
    } else {
        8
    };
    let words: [u32; 12] = [
        layout.width(),
        layout.height(),
        format,
        out.stride,
        offset(0),
        offset(1),
        offset(2),
        out.offset as u32,
        stride(0),
        stride(1),
        stride(2),
        0,
    ];
    let floats: Vec<f32> = colour
        .range
        .scales(bits)
        .into_iter()
        .chain(colour.matrix.coefficients())
        .collect();
    let mut bytes = [0u8; 80];
    for (chunk, w) in bytes.chunks_exact_mut(4).zip(
        words
            .iter()
            .map(|w| w.to_le_bytes())
            .chain(floats.iter().map(|f| f.to_le_bytes())),
    ) {
        chunk.copy_from_slice(&w);
    }
    bytes
}

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

/// How outputs are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputPath {
    /// Vulkan memory exported with `vkGetMemoryFdKHR` as a dma-buf.
    ExportedDmaBuf,
    /// A memfd imported into Vulkan: where the driver cannot export a
    /// dma-buf (lavapipe on a kernel without udmabuf).
    ImportedMemfd,
}

/// An output buffer kept for reuse: the RGBA dma-buf and the Vulkan buffer
/// over it. Dropping it releases Vulkan's side; the dma-buf lives on while
/// any fd to it (a GstMemory, a compositor) is open.
pub struct OutputBuffer {
    layout: FrameLayout,
    buffer: DmaBuf,
    /// Shared with the converter while a timed-out conversion into it may
    /// still run.
    vk: Arc<OutputVk>,
}

/// An output's Vulkan side.
struct OutputVk {
    // Destroyed before its memory (declaration order).
    buffer: OwnedBuffer,
    _memory: Option<import::Memory>,
}

impl std::fmt::Debug for OutputBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputBuffer")
            .field("layout", &self.layout)
            .field("buffer", &self.buffer)
            .finish()
    }
}

impl OutputBuffer {
    /// RGBA (DRM ABGR8888), LINEAR, one buffer.
    pub fn layout(&self) -> &FrameLayout {
        &self.layout
    }

    /// The output's dma-buf (a memfd where the driver cannot export).
    pub fn dmabuf(&self) -> &DmaBuf {
        &self.buffer
    }
}

/// A converted frame: RGBA in one buffer, LINEAR.
#[derive(Debug)]
pub struct Output {
    pub layout: FrameLayout,
    pub buffer: DmaBuf,
}

/// A frame imported into Vulkan, to convert again and again while its
/// dma-bufs live. It holds dups of the frame's fds (the converter waits on
/// their fences) and the Vulkan objects bound to them; dropping it frees
/// both. Keep it with the frame's buffers, e.g. on their GstMemory, and let
/// it go with them: an import must never outlive the storage's owner's wish
/// to free it.
pub struct FrameImport {
    // Vulkan objects first: they are destroyed before the fds close. Shared
    // with the converter while a timed-out conversion of it may still run.
    imported: Arc<Imported>,
    buffers: Vec<DmaBuf>,
    layout: FrameLayout,
    identity: Vec<(u64, u64)>,
    converter_id: usize,
    live: Arc<AtomicUsize>,
}

impl FrameImport {
    pub fn layout(&self) -> &FrameLayout {
        &self.layout
    }

    /// How the frame was imported.
    pub fn path(&self) -> ImportPath {
        match *self.imported {
            Imported::Images(_) => ImportPath::Images,
            Imported::Buffers(_) => ImportPath::Buffers,
        }
    }

    /// Whether this is `converter`'s import of the same files with the same
    /// layout (so it can be used for `buffers` instead of importing again).
    pub fn is_import_of(
        &self,
        converter: &Converter,
        layout: &FrameLayout,
        buffers: &[DmaBuf],
    ) -> bool {
        self.converter_id == converter.id()
            && self.layout == *layout
            && file_identities(buffers).is_ok_and(|identity| identity == self.identity)
    }
}

impl std::fmt::Debug for FrameImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameImport")
            .field("layout", &self.layout)
            .field("path", &self.path())
            .finish()
    }
}

impl Drop for FrameImport {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Pipeline {
    ctx: Arc<Context>,
    set_layout: vk::DescriptorSetLayout,
    layout: vk::PipelineLayout,
    pipeline: vk::Pipeline,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // SAFETY: objects of this device, destroyed in reverse creation
        // order; no submission is pending (the converter waits its fence).
        unsafe {
            let d = &self.ctx.device;
            if self.pipeline != vk::Pipeline::null() {
                d.destroy_pipeline(self.pipeline, None);
            }
            if self.layout != vk::PipelineLayout::null() {
                d.destroy_pipeline_layout(self.layout, None);
            }
            d.destroy_descriptor_set_layout(self.set_layout, None);
        }
    }
}

fn create_pipeline(
    ctx: &Arc<Context>,
    spv: &[u8],
    planes_type: vk::DescriptorType,
) -> Result<Pipeline> {
    let d = &ctx.device;
    let bindings: Vec<_> = (0..4)
        .map(|i| {
            vk::DescriptorSetLayoutBinding::default()
                .binding(i)
                .descriptor_type(if i == 3 {
                    vk::DescriptorType::STORAGE_BUFFER
                } else {
                    planes_type
                })
                .descriptor_count(1)
                .stage_flags(vk::ShaderStageFlags::COMPUTE)
        })
        .collect();
    // SAFETY: valid create info.
    let set_layout = unsafe {
        d.create_descriptor_set_layout(
            &vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings),
            None,
        )
    }
    .map_err(Error::vk("vkCreateDescriptorSetLayout"))?;
    let mut pipeline = Pipeline {
        ctx: ctx.clone(),
        set_layout,
        layout: vk::PipelineLayout::null(),
        pipeline: vk::Pipeline::null(),
    };
    let ranges = [vk::PushConstantRange {
        stage_flags: vk::ShaderStageFlags::COMPUTE,
        offset: 0,
        size: 80,
    }];
    let set_layouts = [set_layout];
    // SAFETY: valid create info.
    pipeline.layout = unsafe {
        d.create_pipeline_layout(
            &vk::PipelineLayoutCreateInfo::default()
                .set_layouts(&set_layouts)
                .push_constant_ranges(&ranges),
            None,
        )
    }
    .map_err(Error::vk("vkCreatePipelineLayout"))?;
    let words = ash::util::read_spv(&mut std::io::Cursor::new(spv)).map_err(|_| Error::Vk {
        call: "read_spv",
        result: vk::Result::ERROR_INVALID_SHADER_NV,
    })?;
    // SAFETY: SPIR-V words produced and validated by naga at build time.
    let module = unsafe {
        d.create_shader_module(&vk::ShaderModuleCreateInfo::default().code(&words), None)
    }
    .map_err(Error::vk("vkCreateShaderModule"))?;
    let stage = vk::PipelineShaderStageCreateInfo::default()
        .stage(vk::ShaderStageFlags::COMPUTE)
        .module(module)
        .name(c"main");
    let info = vk::ComputePipelineCreateInfo::default()
        .stage(stage)
        .layout(pipeline.layout);
    // SAFETY: valid create info; the module may be destroyed right after.
    let created = unsafe { d.create_compute_pipelines(vk::PipelineCache::null(), &[info], None) };
    // SAFETY: the module is not used after pipeline creation.
    unsafe { d.destroy_shader_module(module, None) };
    pipeline.pipeline = created.map_err(|(_, e)| Error::Vk {
        call: "vkCreateComputePipelines",
        result: e,
    })?[0];
    Ok(pipeline)
}

/// Command pool, descriptor pool and fence; destroyed on drop.
struct Resources {
    ctx: Arc<Context>,
    command_pool: vk::CommandPool,
    descriptor_pool: vk::DescriptorPool,
    fence: vk::Fence,
    /// Waited on by each submission when the producer's sync_file was
    /// imported into it (temporarily); null without SYNC_FD semaphores.
    wait_semaphore: vk::Semaphore,
    /// Signalled by each submission and exported as a sync_file into the
    /// output dma-buf; null without SYNC_FD semaphores.
    signal_semaphore: vk::Semaphore,
}

impl Drop for Resources {
    fn drop(&mut self) {
        // SAFETY: objects of this device; waiting for the queue to idle
        // makes sure no submission still uses them (normally every
        // submission's fence was already waited for; an unsignalled fence
        // is never waited on here, it would only time out).
        unsafe {
            let d = &self.ctx.device;
            let _ = d.queue_wait_idle(self.ctx.queue);
            if self.fence != vk::Fence::null() {
                d.destroy_fence(self.fence, None);
            }
            for semaphore in [self.wait_semaphore, self.signal_semaphore] {
                if semaphore != vk::Semaphore::null() {
                    d.destroy_semaphore(semaphore, None);
                }
            }
            if self.descriptor_pool != vk::DescriptorPool::null() {
                d.destroy_descriptor_pool(self.descriptor_pool, None);
            }
            if self.command_pool != vk::CommandPool::null() {
                d.destroy_command_pool(self.command_pool, None);
            }
        }
    }
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

/// What a submission uses, kept until its fence signalled.
struct InFlight {
    _imported: Arc<Imported>,
    _output: Arc<OutputVk>,
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
        let d = &ctx.device;
        let mut resources = Resources {
            ctx: ctx.clone(),
            command_pool: vk::CommandPool::null(),
            descriptor_pool: vk::DescriptorPool::null(),
            fence: vk::Fence::null(),
            wait_semaphore: vk::Semaphore::null(),
            signal_semaphore: vk::Semaphore::null(),
        };
        // SAFETY: (this block and the next calls) valid create infos; the
        // created objects go straight into `resources`, which destroys them.
        resources.command_pool = unsafe {
            d.create_command_pool(
                &vk::CommandPoolCreateInfo::default()
                    .queue_family_index(ctx.queue_family)
                    .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER),
                None,
            )
        }
        .map_err(Error::vk("vkCreateCommandPool"))?;
        let sizes = [
            vk::DescriptorPoolSize {
                ty: vk::DescriptorType::STORAGE_BUFFER,
                descriptor_count: 8,
            },
            vk::DescriptorPoolSize {
                ty: vk::DescriptorType::SAMPLED_IMAGE,
                descriptor_count: 3,
            },
        ];
        // SAFETY: as above.
        resources.descriptor_pool = unsafe {
            d.create_descriptor_pool(
                &vk::DescriptorPoolCreateInfo::default()
                    .max_sets(2)
                    .pool_sizes(&sizes),
                None,
            )
        }
        .map_err(Error::vk("vkCreateDescriptorPool"))?;
        // SAFETY: as above.
        resources.fence = unsafe { d.create_fence(&vk::FenceCreateInfo::default(), None) }
            .map_err(Error::vk("vkCreateFence"))?;
        if ctx.semaphore_fd.is_some() {
            // SAFETY: valid create infos; the semaphores go into `resources`.
            resources.wait_semaphore =
                unsafe { d.create_semaphore(&vk::SemaphoreCreateInfo::default(), None) }
                    .map_err(Error::vk("vkCreateSemaphore"))?;
            let mut export = vk::ExportSemaphoreCreateInfo::default()
                .handle_types(vk::ExternalSemaphoreHandleTypeFlags::SYNC_FD);
            // SAFETY: as above; the chain lives across the call.
            resources.signal_semaphore = unsafe {
                d.create_semaphore(
                    &vk::SemaphoreCreateInfo::default().push_next(&mut export),
                    None,
                )
            }
            .map_err(Error::vk("vkCreateSemaphore (exportable)"))?;
        }
        // SAFETY: the pool was made above; buffers are freed with it.
        let command_buffer = unsafe {
            d.allocate_command_buffers(
                &vk::CommandBufferAllocateInfo::default()
                    .command_pool(resources.command_pool)
                    .level(vk::CommandBufferLevel::PRIMARY)
                    .command_buffer_count(1),
            )
        }
        .map_err(Error::vk("vkAllocateCommandBuffers"))?[0];
        let mut set_layouts = vec![buffer_pipeline.set_layout];
        if let Some(p) = &image_pipeline {
            set_layouts.push(p.set_layout);
        }
        // SAFETY: layouts and pool of this device; sets are freed with the pool.
        let sets = unsafe {
            d.allocate_descriptor_sets(
                &vk::DescriptorSetAllocateInfo::default()
                    .descriptor_pool(resources.descriptor_pool)
                    .set_layouts(&set_layouts),
            )
        }
        .map_err(Error::vk("vkAllocateDescriptorSets"))?;
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

    /// Wait for a submission left running by a timed-out conversion, so its
    /// command buffer and descriptor sets can be used again. An error (and
    /// nothing touched) while it still runs.
    fn finish_in_flight(&mut self) -> Result<()> {
        if self.in_flight.is_none() {
            return Ok(());
        }
        let d = &self.ctx.device;
        // SAFETY: our fence, submitted and not yet waited for successfully.
        match unsafe {
            d.wait_for_fences(
                &[self.resources.fence],
                true,
                self.fence_timeout.as_nanos() as u64,
            )
        } {
            Ok(()) => {}
            Err(vk::Result::TIMEOUT) => return Err(Error::GpuTimeout(self.fence_timeout)),
            Err(e) => return Err(Error::vk("vkWaitForFences")(e)),
        }
        // SAFETY: the fence signalled: no submission uses it.
        unsafe { d.reset_fences(&[self.resources.fence]) }.map_err(Error::vk("vkResetFences"))?;
        self.in_flight = None;
        Ok(())
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
        if shader_format(fourcc).is_err() {
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
        shader_format(layout.fourcc())?;
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
        shader_format(layout.fourcc())?;
        let out = self.allocate_output(layout.width(), layout.height())?;
        self.convert_into(layout, buffers, colour, &out)?;
        let OutputBuffer { layout, buffer, .. } = out;
        Ok(Output { layout, buffer })
    }

    /// An RGBA output for frames of this size, to convert into again and
    /// again with [`Converter::convert_into`] (a consumer such as a
    /// compositor then sees the same dma-bufs come back).
    pub fn allocate_output(&mut self, width: u32, height: u32) -> Result<OutputBuffer> {
        let layout = FrameLayout::compute(OUTPUT_FORMAT, width, height, StrideAlign::DEFAULT)?;
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
        let format = shader_format(layout.fourcc())?;
        if (out.layout.width(), out.layout.height()) != (layout.width(), layout.height()) {
            return Err(Error::OutputSize {
                output: (out.layout.width(), out.layout.height()),
                input: (layout.width(), layout.height()),
            });
        }
        // The output's readers (all its fences) are waited for on the CPU.
        // The producer (its write fence): with one dma-buf and SYNC_FD
        // semaphores by the GPU, otherwise (several fds, no semaphores, a
        // failed import) on the CPU too.
        let gpu_waits = buffers.len() == 1
            && buffers[0].is_dma_buf()
            && self.import_producer_fence(&buffers[0]);
        let waits = buffers
            .iter()
            .filter(|_| !gpu_waits)
            .map(|b| (b, Access::Read))
            .chain(std::iter::once((&out.buffer, Access::Write)));
        for (b, access) in waits.filter(|(b, _)| b.is_dma_buf()) {
            if !b.wait_idle(access, Some(FENCE_TIMEOUT))? {
                return Err(Error::ProducerTimeout(FENCE_TIMEOUT));
            }
        }
        let push = push_constants(layout, colour, format, &out.layout);
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

    /// A buffer for the RGBA result, as a dma-buf exported from Vulkan
    /// where the driver can, else a memfd imported into Vulkan.
    fn make_output(
        &mut self,
        layout: &FrameLayout,
    ) -> Result<(OwnedBuffer, DmaBuf, Option<import::Memory>)> {
        let size = layout.buffer_size();
        if self.output_path == OutputPath::ExportedDmaBuf {
            match self.export_output(size) {
                Ok(out) => return Ok(out),
                Err(e) => {
                    log::warn!(
                        "exporting the output as a dma-buf failed ({e}); using memfd outputs from now on"
                    );
                    self.output_path = OutputPath::ImportedMemfd;
                }
            }
        }
        let memfd = MemfdAllocator.allocate_bytes(size, "zc vulkan rgba")?;
        let imported = import::import_buffer(&self.ctx, &memfd, 0)?;
        let (buffer, memory) = imported.into_parts();
        Ok((buffer, memfd, Some(memory)))
    }

    fn export_output(&self, size: u64) -> Result<(OwnedBuffer, DmaBuf, Option<import::Memory>)> {
        let ctx = &self.ctx;
        let buffer = import::create_external_buffer(ctx, size, true)?;
        // SAFETY: a buffer of this device.
        let requirements = unsafe { ctx.device.get_buffer_memory_requirements(buffer.buffer) };
        let type_index = ctx
            .memory_type(
                requirements.memory_type_bits,
                vk::MemoryPropertyFlags::DEVICE_LOCAL,
            )
            .or_else(|| {
                ctx.memory_type(
                    requirements.memory_type_bits,
                    vk::MemoryPropertyFlags::empty(),
                )
            })
            .ok_or(Error::NoMemoryType {
                buffer: 0,
                fd_types: !0,
                required: requirements.memory_type_bits,
            })?;
        let mut export = vk::ExportMemoryAllocateInfo::default()
            .handle_types(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
        let mut dedicated = vk::MemoryDedicatedAllocateInfo::default().buffer(buffer.buffer);
        let info = vk::MemoryAllocateInfo::default()
            .allocation_size(requirements.size)
            .memory_type_index(type_index)
            .push_next(&mut export)
            .push_next(&mut dedicated);
        // SAFETY: valid allocate info whose chain lives across the call.
        let memory = unsafe { ctx.device.allocate_memory(&info, None) }
            .map_err(Error::vk("vkAllocateMemory (export)"))?;
        let memory = import::Memory::wrap(ctx, memory);
        // SAFETY: dedicated memory for this buffer, offset 0.
        unsafe {
            ctx.device
                .bind_buffer_memory(buffer.buffer, memory.memory, 0)
        }
        .map_err(Error::vk("vkBindBufferMemory"))?;
        let get = vk::MemoryGetFdInfoKHR::default()
            .memory(memory.memory)
            .handle_type(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
        // SAFETY: memory allocated exportable as DMA_BUF.
        let fd =
            unsafe { ctx.memory_fd.get_memory_fd(&get) }.map_err(Error::vk("vkGetMemoryFdKHR"))?;
        // SAFETY: vkGetMemoryFdKHR returns a new fd that the caller owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let dmabuf = DmaBuf::from_fd(fd)?;
        if dmabuf.size() < size {
            return Err(Error::Import {
                buffer: 0,
                size: dmabuf.size(),
                reason: format!("exported output is smaller than {size} bytes"),
            });
        }
        Ok((buffer, dmabuf, Some(memory)))
    }

    /// Import the producer's pending writes on `input` (a sync_file) into
    /// the wait semaphore. False if the device cannot, or the import failed
    /// (then the CPU waits instead).
    fn import_producer_fence(&self, input: &DmaBuf) -> bool {
        let Some(semaphore_fd) = &self.ctx.semaphore_fd else {
            return false;
        };
        let sync_file = match input.export_sync_file(Access::Read) {
            Ok(s) => s,
            Err(e) => {
                log::debug!("no sync_file from the input ({e}); waiting on the CPU");
                return false;
            }
        };
        let fd: OwnedFd = sync_file.into_fd();
        let info = vk::ImportSemaphoreFdInfoKHR::default()
            .semaphore(self.resources.wait_semaphore)
            .flags(vk::SemaphoreImportFlags::TEMPORARY)
            .handle_type(vk::ExternalSemaphoreHandleTypeFlags::SYNC_FD)
            .fd(fd.as_raw_fd());
        // SAFETY: the semaphore is ours and not in use (the last submission
        // was waited for); `fd` stays open across the call.
        match unsafe { semaphore_fd.import_semaphore_fd(&info) } {
            Ok(()) => {
                // Vulkan owns the fd now.
                let _ = fd.into_raw_fd();
                true
            }
            Err(e) => {
                // A failed import leaves the fd to us (the spec; Mesa's
                // common semaphore code follows it): `fd` closes here.
                drop(fd);
                log::warn!("importing the producer's sync_file failed ({e}); waiting on the CPU");
                false
            }
        }
    }

    /// Export the submission's signal semaphore as a sync_file and attach
    /// it to the output dma-buf as a write fence, so implicit-sync consumers
    /// wait for the conversion. Failures are logged: the CPU also waits for
    /// the submission before the output is handed on.
    fn attach_output_fence(&self, output: &DmaBuf) {
        let Some(semaphore_fd) = &self.ctx.semaphore_fd else {
            return;
        };
        let info = vk::SemaphoreGetFdInfoKHR::default()
            .semaphore(self.resources.signal_semaphore)
            .handle_type(vk::ExternalSemaphoreHandleTypeFlags::SYNC_FD);
        // SAFETY: the semaphore had a signal operation submitted (every
        // submission signals it); the returned fd is ours.
        let fd = match unsafe { semaphore_fd.get_semaphore_fd(&info) } {
            Ok(fd) => fd,
            Err(e) => {
                log::warn!("exporting the conversion's sync_file failed: {e}");
                return;
            }
        };
        // SAFETY: vkGetSemaphoreFdKHR returned a new fd that we own.
        let sync_file = zc_dmabuf::SyncFile::from_fd(unsafe { OwnedFd::from_raw_fd(fd) });
        if output.is_dma_buf()
            && let Err(e) = output.import_sync_file(&sync_file, Access::Write)
        {
            log::warn!("attaching the conversion's fence to the output failed: {e}");
        }
    }

    fn record_and_submit(
        &mut self,
        imported: &Imported,
        layout: &FrameLayout,
        output: &OwnedBuffer,
        push: &[u8; 80],
        gpu_waits: bool,
    ) -> Result<()> {
        let d = &self.ctx.device;
        let cb = self.command_buffer;
        let ours = self.ctx.queue_family;
        let foreign = self.ctx.foreign_family();
        let out_info = [vk::DescriptorBufferInfo {
            buffer: output.buffer,
            offset: 0,
            range: vk::WHOLE_SIZE,
        }];
        let (pipeline, set) = match imported {
            Imported::Buffers(_) => (&self.buffer_pipeline, self.buffer_set),
            Imported::Images(_) => match &self.image_pipeline {
                Some(p) => (p, self.image_set),
                None => {
                    return Err(Error::Vk {
                        call: "image pipeline",
                        result: vk::Result::ERROR_FEATURE_NOT_PRESENT,
                    });
                }
            },
        };
        let planes = layout.planes();
        let plane = |i: usize| planes.get(i).copied().unwrap_or(planes[0]);
        let mut buffer_barriers = Vec::new();
        let mut image_barriers = Vec::new();
        let color_range = vk::ImageSubresourceRange {
            aspect_mask: vk::ImageAspectFlags::COLOR,
            base_mip_level: 0,
            level_count: 1,
            base_array_layer: 0,
            layer_count: 1,
        };
        match imported {
            Imported::Buffers(bufs) => {
                let infos: Vec<[vk::DescriptorBufferInfo; 1]> = (0..3)
                    .map(|i| {
                        [vk::DescriptorBufferInfo {
                            buffer: bufs[plane(i).buffer].buffer.buffer,
                            offset: 0,
                            range: vk::WHOLE_SIZE,
                        }]
                    })
                    .collect();
                let mut writes: Vec<_> = infos
                    .iter()
                    .enumerate()
                    .map(|(i, info)| {
                        vk::WriteDescriptorSet::default()
                            .dst_set(set)
                            .dst_binding(i as u32)
                            .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                            .buffer_info(info)
                    })
                    .collect();
                writes.push(
                    vk::WriteDescriptorSet::default()
                        .dst_set(set)
                        .dst_binding(3)
                        .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                        .buffer_info(&out_info),
                );
                // SAFETY: the set is not in use (the last submission's fence was waited for).
                unsafe { d.update_descriptor_sets(&writes, &[]) };
                for b in bufs {
                    buffer_barriers.push(
                        vk::BufferMemoryBarrier::default()
                            .src_queue_family_index(foreign)
                            .dst_queue_family_index(ours)
                            .dst_access_mask(vk::AccessFlags::SHADER_READ)
                            .buffer(b.buffer.buffer)
                            .size(vk::WHOLE_SIZE),
                    );
                }
            }
            Imported::Images(imgs) => {
                let infos: Vec<[vk::DescriptorImageInfo; 1]> = (0..3)
                    .map(|i| {
                        let view = imgs.get(i).unwrap_or(&imgs[0]).view;
                        [vk::DescriptorImageInfo {
                            sampler: vk::Sampler::null(),
                            image_view: view,
                            image_layout: vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL,
                        }]
                    })
                    .collect();
                let mut writes: Vec<_> = infos
                    .iter()
                    .enumerate()
                    .map(|(i, info)| {
                        vk::WriteDescriptorSet::default()
                            .dst_set(set)
                            .dst_binding(i as u32)
                            .descriptor_type(vk::DescriptorType::SAMPLED_IMAGE)
                            .image_info(info)
                    })
                    .collect();
                writes.push(
                    vk::WriteDescriptorSet::default()
                        .dst_set(set)
                        .dst_binding(3)
                        .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                        .buffer_info(&out_info),
                );
                // SAFETY: as above.
                unsafe { d.update_descriptor_sets(&writes, &[]) };
                for img in imgs {
                    // Acquire from the foreign producer; GENERAL keeps the
                    // contents (UNDEFINED would let the driver discard them).
                    image_barriers.push(
                        vk::ImageMemoryBarrier::default()
                            .src_queue_family_index(foreign)
                            .dst_queue_family_index(ours)
                            .old_layout(vk::ImageLayout::GENERAL)
                            .new_layout(vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL)
                            .dst_access_mask(vk::AccessFlags::SHADER_READ)
                            .image(img.image)
                            .subresource_range(color_range),
                    );
                }
            }
        }
        let groups = (layout.width().div_ceil(8), layout.height().div_ceil(8));
        // SAFETY: recording into our one command buffer, which no pending
        // submission uses (the fence of the previous one was waited for);
        // every handle recorded lives until the fence below signals.
        unsafe {
            d.begin_command_buffer(
                cb,
                &vk::CommandBufferBeginInfo::default()
                    .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT),
            )
            .map_err(Error::vk("vkBeginCommandBuffer"))?;
            d.cmd_pipeline_barrier(
                cb,
                vk::PipelineStageFlags::TOP_OF_PIPE,
                vk::PipelineStageFlags::COMPUTE_SHADER,
                vk::DependencyFlags::empty(),
                &[],
                &buffer_barriers,
                &image_barriers,
            );
            d.cmd_bind_pipeline(cb, vk::PipelineBindPoint::COMPUTE, pipeline.pipeline);
            d.cmd_bind_descriptor_sets(
                cb,
                vk::PipelineBindPoint::COMPUTE,
                pipeline.layout,
                0,
                &[set],
                &[],
            );
            d.cmd_push_constants(cb, pipeline.layout, vk::ShaderStageFlags::COMPUTE, 0, push);
            d.cmd_dispatch(cb, groups.0, groups.1, 1);
            // Give everything back to the foreign world: inputs to their
            // producer, the output to its consumer.
            let release_buffers: Vec<_> = buffer_barriers
                .iter()
                .map(|b| {
                    vk::BufferMemoryBarrier::default()
                        .src_queue_family_index(ours)
                        .dst_queue_family_index(foreign)
                        .src_access_mask(vk::AccessFlags::SHADER_READ)
                        .buffer(b.buffer)
                        .size(vk::WHOLE_SIZE)
                })
                .chain(std::iter::once(
                    vk::BufferMemoryBarrier::default()
                        .src_queue_family_index(ours)
                        .dst_queue_family_index(foreign)
                        .src_access_mask(vk::AccessFlags::SHADER_WRITE)
                        .buffer(output.buffer)
                        .size(vk::WHOLE_SIZE),
                ))
                .collect();
            let release_images: Vec<_> = image_barriers
                .iter()
                .map(|b| {
                    vk::ImageMemoryBarrier::default()
                        .src_queue_family_index(ours)
                        .dst_queue_family_index(foreign)
                        .old_layout(vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL)
                        .new_layout(vk::ImageLayout::GENERAL)
                        .src_access_mask(vk::AccessFlags::SHADER_READ)
                        .image(b.image)
                        .subresource_range(color_range)
                })
                .collect();
            d.cmd_pipeline_barrier(
                cb,
                vk::PipelineStageFlags::COMPUTE_SHADER,
                vk::PipelineStageFlags::BOTTOM_OF_PIPE,
                vk::DependencyFlags::empty(),
                &[],
                &release_buffers,
                &release_images,
            );
            d.end_command_buffer(cb)
                .map_err(Error::vk("vkEndCommandBuffer"))?;
            let cbs = [cb];
            let wait = [self.resources.wait_semaphore];
            let stages = [vk::PipelineStageFlags::COMPUTE_SHADER];
            let signal = [self.resources.signal_semaphore];
            let mut submit = vk::SubmitInfo::default().command_buffers(&cbs);
            if gpu_waits {
                submit = submit.wait_semaphores(&wait).wait_dst_stage_mask(&stages);
            }
            if self.resources.signal_semaphore != vk::Semaphore::null() {
                submit = submit.signal_semaphores(&signal);
            }
            d.queue_submit(self.ctx.queue, &[submit], self.resources.fence)
                .map_err(Error::vk("vkQueueSubmit"))?;
        }
        Ok(())
    }
}

/// Identity of a frame's buffers: (device, inode) of each fd. An import
/// holds these files open, so the inodes cannot be reused while it exists.
fn file_identities(buffers: &[DmaBuf]) -> Result<Vec<(u64, u64)>> {
    buffers
        .iter()
        .map(|b| {
            import::file_identity(b.as_fd().as_raw_fd()).ok_or_else(|| {
                let source = std::io::Error::last_os_error();
                Error::DmaBuf(zc_dmabuf::Error::Buffer {
                    what: "fstat",
                    kind: "dma-buf",
                    source,
                })
            })
        })
        .collect()
}
