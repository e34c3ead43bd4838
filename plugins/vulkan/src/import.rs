//! dma-buf frames into Vulkan: as single-plane images with explicit DRM
//! modifier plane layouts where the device has
//! `VK_EXT_image_drm_format_modifier`, else as storage buffers addressed by
//! plane offset and stride.
//!
//! Every plane gets its own single-plane `VkImage` (R8, R8G8, R16, R16G16;
//! YUYV as R8G8B8A8 at half width) bound to a dedicated import of the
//! plane's dma-buf with the plane's offset and pitch. This handles "one fd
//! for all planes" and "one fd per plane" alike, without the multi-planar
//! formats and sampler YCbCr conversion that lavapipe and some drivers lack
//! for modifiers. Aux planes (compression metadata) are not supported.

use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd};
use std::sync::Arc;

use ash::vk;
use zc_dmabuf::{DmaBuf, Fourcc, FrameLayout, Modifier};

use crate::device::Context;
use crate::error::{Error, Modifiers, Result};

/// The single-plane Vulkan format of each plane of `fourcc` (one texel per
/// block of the plane, as [`zc_dmabuf::FormatInfo`] shapes it), or `None`
/// for formats the importer does not know.
pub(crate) fn plane_formats(fourcc: Fourcc) -> Option<&'static [vk::Format]> {
    const R8_3: [vk::Format; 3] = [vk::Format::R8_UNORM; 3];
    const R16_3: [vk::Format; 3] = [vk::Format::R16_UNORM; 3];
    Some(match fourcc {
        Fourcc::NV12 => &[vk::Format::R8_UNORM, vk::Format::R8G8_UNORM],
        Fourcc::YUV420 | Fourcc::YUV422 | Fourcc::YUV444 => &R8_3,
        Fourcc::S010 | Fourcc::S210 | Fourcc::S410 => &R16_3,
        // Two pixels per texel: Y0 U Y1 V.
        Fourcc::YUYV => &[vk::Format::R8G8B8A8_UNORM],
        Fourcc::P010 => &[vk::Format::R16_UNORM, vk::Format::R16G16_UNORM],
        Fourcc::XRGB8888 | Fourcc::ARGB8888 => &[vk::Format::B8G8R8A8_UNORM],
        Fourcc::XBGR8888 | Fourcc::ABGR8888 => &[vk::Format::R8G8B8A8_UNORM],
        _ => return None,
    })
}

/// The single-plane Vulkan format and the extent in texels of plane
/// `plane` of `layout` (a texel per block: half as wide as the frame for
/// subsampled chroma and YUYV), or `None` for formats the importer does not
/// know.
pub(crate) fn plane_format(layout: &FrameLayout, plane: usize) -> Option<(vk::Format, u32, u32)> {
    let format = *plane_formats(layout.fourcc())?.get(plane)?;
    let info = layout.format();
    let shape = info.planes.get(plane)?;
    let width = layout.width().div_ceil(shape.block_width);
    let height = info.plane_rows(plane, layout.height());
    Some((format, width, height))
}

/// Imported device memory; freed on drop (which also closes Vulkan's fd).
pub(crate) struct Memory {
    ctx: Arc<Context>,
    pub(crate) memory: vk::DeviceMemory,
}

impl Memory {
    /// Take ownership of memory allocated from `ctx`'s device.
    pub(crate) fn wrap(ctx: &Arc<Context>, memory: vk::DeviceMemory) -> Memory {
        Memory {
            ctx: ctx.clone(),
            memory,
        }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: the memory came from this device; its users (buffers,
        // images) are destroyed before it (field order in their owners) and
        // no submission using it is pending (the converter waits its fence).
        unsafe { self.ctx.device.free_memory(self.memory, None) };
    }
}

/// Import `fd` (a dup owned by this call) as the dedicated memory of
/// `dedicated`. Vulkan takes the fd on success; on failure it is closed here
/// unless the driver already did (never by guessing from the file).
pub(crate) fn import_memory(
    ctx: &Arc<Context>,
    fd: OwnedFd,
    buffer_index: usize,
    size: u64,
    requirements: vk::MemoryRequirements,
    mut dedicated: vk::MemoryDedicatedAllocateInfo<'_>,
) -> Result<Memory> {
    let mut fd_props = vk::MemoryFdPropertiesKHR::default();
    // SAFETY: `fd` is a valid open fd for the duration of the call.
    unsafe {
        ctx.memory_fd.get_memory_fd_properties(
            vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT,
            fd.as_raw_fd(),
            &mut fd_props,
        )
    }
    .map_err(Error::vk("vkGetMemoryFdPropertiesKHR"))?;
    if requirements.size > size {
        return Err(Error::Import {
            buffer: buffer_index,
            size,
            reason: format!("the device needs {} bytes for it", requirements.size),
        });
    }
    let type_index = ctx
        .memory_type(
            fd_props.memory_type_bits & requirements.memory_type_bits,
            vk::MemoryPropertyFlags::empty(),
        )
        .ok_or(Error::NoMemoryType {
            buffer: buffer_index,
            fd_types: fd_props.memory_type_bits,
            required: requirements.memory_type_bits,
        })?;
    let mut import = vk::ImportMemoryFdInfoKHR::default()
        .handle_type(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT)
        .fd(fd.as_raw_fd());
    let info = vk::MemoryAllocateInfo::default()
        .allocation_size(requirements.size.max(1))
        .memory_type_index(type_index)
        .push_next(&mut import)
        .push_next(&mut dedicated);
    let read_only = zc_dmabuf::fd_is_read_only(fd.as_fd()).unwrap_or(false);
    // SAFETY: the chain's structs live across the call; `fd` stays open
    // across it.
    let result = unsafe { ctx.device.allocate_memory(&info, None) };
    match result {
        Ok(memory) => {
            // Vulkan owns the fd now (and closes it with the memory).
            let _ = fd.into_raw_fd();
            Ok(Memory {
                ctx: ctx.clone(),
                memory,
            })
        }
        Err(e) => {
            // The spec leaves the fd to us; a driver that closed it anyway
            // must not have it closed twice (the number may be another
            // thread's by now). See `Context::closes_fd_on_failed_import`.
            if ctx.closes_fd_on_failed_import() {
                let _ = fd.into_raw_fd();
            } else {
                drop(fd);
            }
            if e == vk::Result::ERROR_INVALID_EXTERNAL_HANDLE && read_only {
                return Err(Error::Import {
                    buffer: buffer_index,
                    size,
                    reason:
                        "the driver refused the read-only fd (lavapipe maps imports read-write; \
                             export the dma-buf with O_RDWR)"
                            .into(),
                });
            }
            Err(Error::Vk {
                call: "vkAllocateMemory (import)",
                result: e,
            })
        }
    }
}

/// A storage buffer over imported memory.
pub(crate) struct ImportedBuffer {
    // Destroyed before its memory: fields drop in declaration order.
    pub(crate) buffer: OwnedBuffer,
    _memory: Memory,
}

impl ImportedBuffer {
    /// The buffer and its memory, to be dropped buffer first.
    pub(crate) fn into_parts(self) -> (OwnedBuffer, Memory) {
        (self.buffer, self._memory)
    }
}

/// A VkBuffer destroyed on drop.
pub(crate) struct OwnedBuffer {
    ctx: Arc<Context>,
    pub(crate) buffer: vk::Buffer,
}

impl Drop for OwnedBuffer {
    fn drop(&mut self) {
        // SAFETY: made from this device; no pending use (see `Memory`).
        unsafe { self.ctx.device.destroy_buffer(self.buffer, None) };
    }
}

pub(crate) fn create_external_buffer(
    ctx: &Arc<Context>,
    size: u64,
    export: bool,
) -> Result<OwnedBuffer> {
    let mut external = vk::ExternalMemoryBufferCreateInfo::default()
        .handle_types(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
    let usage = if export {
        vk::BufferUsageFlags::STORAGE_BUFFER | vk::BufferUsageFlags::TRANSFER_DST
    } else {
        vk::BufferUsageFlags::STORAGE_BUFFER
    };
    let info = vk::BufferCreateInfo::default()
        .size(size)
        .usage(usage)
        .sharing_mode(vk::SharingMode::EXCLUSIVE)
        .push_next(&mut external);
    // SAFETY: valid create info living across the call.
    let buffer =
        unsafe { ctx.device.create_buffer(&info, None) }.map_err(Error::vk("vkCreateBuffer"))?;
    Ok(OwnedBuffer {
        ctx: ctx.clone(),
        buffer,
    })
}

/// Import a whole dma-buf (memfd too, where the driver allows) as a storage buffer.
pub(crate) fn import_buffer(
    ctx: &Arc<Context>,
    dmabuf: &DmaBuf,
    index: usize,
) -> Result<ImportedBuffer> {
    let size = dmabuf.size();
    let buffer = create_external_buffer(ctx, size, false)?;
    // SAFETY: a buffer of this device.
    let requirements = unsafe { ctx.device.get_buffer_memory_requirements(buffer.buffer) };
    let fd = dmabuf.try_clone()?.into_fd();
    let dedicated = vk::MemoryDedicatedAllocateInfo::default().buffer(buffer.buffer);
    let memory = import_memory(ctx, fd, index, size, requirements, dedicated)?;
    // SAFETY: memory allocated for exactly this buffer, offset 0.
    unsafe {
        ctx.device
            .bind_buffer_memory(buffer.buffer, memory.memory, 0)
    }
    .map_err(Error::vk("vkBindBufferMemory"))?;
    Ok(ImportedBuffer {
        buffer,
        _memory: memory,
    })
}

/// One plane imported as an image, with a view for the shader.
pub(crate) struct ImportedPlane {
    ctx: Arc<Context>,
    pub(crate) image: vk::Image,
    pub(crate) view: vk::ImageView,
    memory: Option<Memory>,
}

impl Drop for ImportedPlane {
    fn drop(&mut self) {
        // SAFETY: view before image before memory; all made from this
        // device; no submission uses them any more (see `Memory`).
        unsafe {
            if self.view != vk::ImageView::null() {
                self.ctx.device.destroy_image_view(self.view, None);
            }
            self.ctx.device.destroy_image(self.image, None);
        }
        drop(self.memory.take());
    }
}

/// The modifiers the device can sample `format` with, as single-plane images.
fn sampled_modifiers(ctx: &Context, format: vk::Format) -> Vec<Modifier> {
    let mut list = vk::DrmFormatModifierPropertiesListEXT::default();
    let mut props = vk::FormatProperties2::default().push_next(&mut list);
    // SAFETY: first call only counts; the struct lives across it.
    unsafe {
        ctx.instance()
            .get_physical_device_format_properties2(ctx.physical, format, &mut props)
    };
    let count = list.drm_format_modifier_count as usize;
    let mut mods = vec![vk::DrmFormatModifierPropertiesEXT::default(); count];
    let mut list =
        vk::DrmFormatModifierPropertiesListEXT::default().drm_format_modifier_properties(&mut mods);
    let mut props = vk::FormatProperties2::default().push_next(&mut list);
    // SAFETY: the array holds `count` entries as the driver asked.
    unsafe {
        ctx.instance()
            .get_physical_device_format_properties2(ctx.physical, format, &mut props)
    };
    mods.iter()
        .filter(|m| {
            m.drm_format_modifier_plane_count == 1
                && m.drm_format_modifier_tiling_features
                    .contains(vk::FormatFeatureFlags::SAMPLED_IMAGE)
        })
        .map(|m| Modifier(m.drm_format_modifier))
        .collect()
}

/// Whether a sampled single-plane image of `format` with `modifier` can be
/// imported from a dma-buf, and up to which size.
enum ImportLimits {
    UpTo(vk::Extent3D),
    NoSuchImage,
    NotFromDmaBuf,
}

fn import_limits(ctx: &Context, format: vk::Format, modifier: Modifier) -> Result<ImportLimits> {
    let mut external_info = vk::PhysicalDeviceExternalImageFormatInfo::default()
        .handle_type(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
    let mut modifier_info = vk::PhysicalDeviceImageDrmFormatModifierInfoEXT::default()
        .drm_format_modifier(modifier.0)
        .sharing_mode(vk::SharingMode::EXCLUSIVE);
    let format_info = vk::PhysicalDeviceImageFormatInfo2::default()
        .format(format)
        .ty(vk::ImageType::TYPE_2D)
        .tiling(vk::ImageTiling::DRM_FORMAT_MODIFIER_EXT)
        .usage(vk::ImageUsageFlags::SAMPLED)
        .push_next(&mut external_info)
        .push_next(&mut modifier_info);
    let mut external_props = vk::ExternalImageFormatProperties::default();
    let mut props = vk::ImageFormatProperties2::default().push_next(&mut external_props);
    // SAFETY: valid structs living across the call.
    let query = unsafe {
        ctx.instance().get_physical_device_image_format_properties2(
            ctx.physical,
            &format_info,
            &mut props,
        )
    };
    match query {
        Ok(()) => {}
        Err(vk::Result::ERROR_FORMAT_NOT_SUPPORTED) => return Ok(ImportLimits::NoSuchImage),
        Err(e) => {
            return Err(Error::Vk {
                call: "vkGetPhysicalDeviceImageFormatProperties2",
                result: e,
            });
        }
    }
    let max = props.image_format_properties.max_extent;
    let importable = external_props
        .external_memory_properties
        .external_memory_features
        .contains(vk::ExternalMemoryFeatureFlags::IMPORTABLE);
    Ok(if importable {
        ImportLimits::UpTo(max)
    } else {
        ImportLimits::NotFromDmaBuf
    })
}

/// The modifiers frames of `fourcc` can be imported with as images: those
/// every plane's single-plane format can be sampled and imported with
/// (each plane is its own image, so the planes may be in one dma-buf or in
/// several). Empty for formats the importer does not know.
pub(crate) fn importable_modifiers(ctx: &Context, fourcc: Fourcc) -> Result<Vec<Modifier>> {
    let Some(formats) = plane_formats(fourcc) else {
        return Ok(Vec::new());
    };
    let mut common: Option<Vec<Modifier>> = None;
    for &format in formats {
        let mut usable = Vec::new();
        for modifier in sampled_modifiers(ctx, format) {
            if matches!(import_limits(ctx, format, modifier)?, ImportLimits::UpTo(_)) {
                usable.push(modifier);
            }
        }
        common = Some(match common {
            None => usable,
            Some(previous) => previous
                .into_iter()
                .filter(|m| usable.contains(m))
                .collect(),
        });
    }
    Ok(common.unwrap_or_default())
}

/// Import plane `plane` of the frame as an image with an explicit layout.
pub(crate) fn import_plane(
    ctx: &Arc<Context>,
    layout: &FrameLayout,
    buffers: &[DmaBuf],
    plane: usize,
) -> Result<ImportedPlane> {
    let fourcc = layout.fourcc();
    let (format, width, height) =
        plane_format(layout, plane).ok_or(Error::UnsupportedFormat { fourcc })?;
    // The implicit modifier cannot be named to Vulkan; zc's producers that
    // report it (GBM on vgem, dumb buffers) are linear, so it is imported as
    // LINEAR. A tiled implicit buffer from a real GPU would read wrongly:
    // such producers should report their modifier.
    let modifier = if layout.modifier().is_implicit() {
        log::debug!("{fourcc}: implicit modifier imported as LINEAR");
        Modifier::LINEAR
    } else {
        layout.modifier()
    };
    let unsupported = |reason: String| Error::UnsupportedLayout {
        fourcc,
        plane,
        vk_format: format,
        modifier: layout.modifier(),
        reason,
        supported: Modifiers(sampled_modifiers(ctx, format)),
    };
    let supported = sampled_modifiers(ctx, format);
    if !supported.contains(&modifier) {
        return Err(unsupported("modifier not offered for sampling".into()));
    }
    let max = match import_limits(ctx, format, modifier)? {
        ImportLimits::UpTo(max) => max,
        ImportLimits::NoSuchImage => {
            return Err(unsupported(
                "no such image can be created for import".into(),
            ));
        }
        ImportLimits::NotFromDmaBuf => {
            return Err(unsupported("not importable from a dma-buf".into()));
        }
    };
    if width > max.width || height > max.height {
        return Err(unsupported(format!(
            "{width}x{height} exceeds the maximum {}x{}",
            max.width, max.height
        )));
    }

    let p = layout.planes()[plane];
    let plane_layouts = [vk::SubresourceLayout {
        offset: p.offset,
        size: 0,
        row_pitch: u64::from(p.stride),
        array_pitch: 0,
        depth_pitch: 0,
    }];
    let mut explicit = vk::ImageDrmFormatModifierExplicitCreateInfoEXT::default()
        .drm_format_modifier(modifier.0)
        .plane_layouts(&plane_layouts);
    let mut external = vk::ExternalMemoryImageCreateInfo::default()
        .handle_types(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
    let info = vk::ImageCreateInfo::default()
        .image_type(vk::ImageType::TYPE_2D)
        .format(format)
        .extent(vk::Extent3D {
            width,
            height,
            depth: 1,
        })
        .mip_levels(1)
        .array_layers(1)
        .samples(vk::SampleCountFlags::TYPE_1)
        .tiling(vk::ImageTiling::DRM_FORMAT_MODIFIER_EXT)
        .usage(vk::ImageUsageFlags::SAMPLED)
        .sharing_mode(vk::SharingMode::EXCLUSIVE)
        .initial_layout(vk::ImageLayout::UNDEFINED)
        .push_next(&mut external)
        .push_next(&mut explicit);
    // SAFETY: valid create info; the chain lives across the call.
    let image = unsafe { ctx.device.create_image(&info, None) }.map_err(|e| match e {
        vk::Result::ERROR_INVALID_DRM_FORMAT_MODIFIER_PLANE_LAYOUT_EXT => unsupported(format!(
            "plane layout offset {} pitch {} refused",
            p.offset, p.stride
        )),
        e => Error::Vk {
            call: "vkCreateImage",
            result: e,
        },
    })?;
    let mut imported = ImportedPlane {
        ctx: ctx.clone(),
        image,
        view: vk::ImageView::null(),
        memory: None,
    };
    // SAFETY: an image of this device.
    let requirements = unsafe { ctx.device.get_image_memory_requirements(image) };
    let dmabuf = &buffers[p.buffer];
    let fd = dmabuf.try_clone()?.into_fd();
    let dedicated = vk::MemoryDedicatedAllocateInfo::default().image(image);
    let memory = import_memory(ctx, fd, p.buffer, dmabuf.size(), requirements, dedicated)?;
    // SAFETY: dedicated memory for this image, bound at 0 (the plane offset
    // is part of the explicit layout).
    unsafe { ctx.device.bind_image_memory(image, memory.memory, 0) }
        .map_err(Error::vk("vkBindImageMemory"))?;
    imported.memory = Some(memory);
    let view_info = vk::ImageViewCreateInfo::default()
        .image(image)
        .view_type(vk::ImageViewType::TYPE_2D)
        .format(format)
        .subresource_range(vk::ImageSubresourceRange {
            aspect_mask: vk::ImageAspectFlags::COLOR,
            base_mip_level: 0,
            level_count: 1,
            base_array_layer: 0,
            layer_count: 1,
        });
    // SAFETY: a bound image of this device.
    imported.view = unsafe { ctx.device.create_image_view(&view_info, None) }
        .map_err(Error::vk("vkCreateImageView"))?;
    Ok(imported)
}

/// A frame as Vulkan sees it.
pub(crate) enum Imported {
    /// One storage buffer per dma-buf of the frame.
    Buffers(Vec<ImportedBuffer>),
    /// One image per plane.
    Images(Vec<ImportedPlane>),
}

/// Import a frame the way the device allows. `force_buffer` picks the
/// buffer path even where images would work (tests).
pub(crate) fn import_frame(
    ctx: &Arc<Context>,
    layout: &FrameLayout,
    buffers: &[DmaBuf],
    force_buffer: bool,
) -> Result<Imported> {
    if ctx.capabilities().drm_format_modifier && !force_buffer {
        let planes = (0..layout.planes().len())
            .map(|plane| import_plane(ctx, layout, buffers, plane))
            .collect::<Result<Vec<_>>>()?;
        return Ok(Imported::Images(planes));
    }
    let modifier = layout.modifier();
    if modifier != Modifier::LINEAR && !modifier.is_implicit() {
        return Err(Error::ModifierNeedsExtension {
            fourcc: layout.fourcc(),
            modifier,
        });
    }
    let imported = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| import_buffer(ctx, b, i))
        .collect::<Result<Vec<_>>>()?;
    Ok(Imported::Buffers(imported))
}
