//! The compute pipelines: the two shaders (planes read from storage buffers
//! or from sampled images), their descriptor set layouts, and the push
//! constants they share with `shaders/yuv_common.wgsl`.

use std::sync::Arc;

use ash::vk;
use zc_dmabuf::FrameLayout;
use zc_dmabuf::color::Colorimetry;

use super::ShaderFormat;
use super::shader_format::output_packing;

use crate::device::Context;
use crate::error::{Error, Result};

pub(super) static BUFFER_SPV: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/yuv_to_rgba_buffer.spv"));
pub(super) static IMAGE_SPV: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/yuv_to_rgba_image.spv"));

/// Bytes of the shaders' push constants (`Params`).
pub(super) const PUSH_CONSTANTS_SIZE: usize = 96;

/// Must match `Params` in shaders/yuv_common.wgsl. Fails for an output
/// format the shaders do not write.
pub(super) fn push_constants(
    layout: &FrameLayout,
    colour: Colorimetry,
    format: ShaderFormat,
    output: &FrameLayout,
) -> Result<[u8; PUSH_CONSTANTS_SIZE]> {
    let packing = output_packing(output.fourcc())?;
    let planes = layout.planes();
    let offset = |i: usize| planes.get(i).map_or(0, |p| p.offset as u32);
    let stride = |i: usize| planes.get(i).map_or(0, |p| p.stride);
    let out = output.planes()[0];
    let words: [u32; 12] = [
        layout.width(),
        layout.height(),
        format.layout_code(),
        out.stride,
        offset(0),
        offset(1),
        offset(2),
        out.offset as u32,
        stride(0),
        stride(1),
        stride(2),
        format.shape_code(),
    ];
    let floats: Vec<f32> = colour
        .range
        .scales(format.bits())
        .into_iter()
        .chain(colour.matrix.coefficients())
        .collect();
    let mut bytes = [0u8; PUSH_CONSTANTS_SIZE];
    for (chunk, w) in bytes.chunks_exact_mut(4).zip(
        words
            .iter()
            .map(|w| w.to_le_bytes())
            .chain(floats.iter().map(|f| f.to_le_bytes()))
            .chain(packing.iter().map(|w| w.to_le_bytes())),
    ) {
        chunk.copy_from_slice(&w);
    }
    Ok(bytes)
}

pub(super) struct Pipeline {
    ctx: Arc<Context>,
    pub(super) set_layout: vk::DescriptorSetLayout,
    pub(super) layout: vk::PipelineLayout,
    pub(super) pipeline: vk::Pipeline,
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

pub(super) fn create_pipeline(
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
        size: PUSH_CONSTANTS_SIZE as u32,
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
