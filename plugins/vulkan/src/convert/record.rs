//! Recording and submitting one conversion, step by step: the pipeline for
//! the import path, the descriptor writes for the frame's planes and the
//! output, the barriers that take the planes from their foreign producer and
//! give everything back, the dispatch, and the submission.

use ash::vk;
use zc_dmabuf::FrameLayout;

use super::Converter;
use super::pipeline::{PUSH_CONSTANTS_SIZE, Pipeline};
use crate::error::{Error, Result};
use crate::import::{Imported, OwnedBuffer};

/// The one mip level and layer of a plane's image.
const COLOR_RANGE: vk::ImageSubresourceRange = vk::ImageSubresourceRange {
    aspect_mask: vk::ImageAspectFlags::COLOR,
    base_mip_level: 0,
    level_count: 1,
    base_array_layer: 0,
    layer_count: 1,
};

/// The frame's planes, acquired from the foreign queue family (their
/// producer) before the dispatch.
struct Acquire {
    buffers: Vec<vk::BufferMemoryBarrier<'static>>,
    images: Vec<vk::ImageMemoryBarrier<'static>>,
}

/// The planes and the output, released to the foreign queue family (the
/// producer and the consumer) after the dispatch.
struct Release {
    buffers: Vec<vk::BufferMemoryBarrier<'static>>,
    images: Vec<vk::ImageMemoryBarrier<'static>>,
}

impl Converter {
    /// Record the conversion of `imported` (laid out as `layout`) into
    /// `output` and submit it, signalling our fence (and, with SYNC_FD
    /// semaphores, the signal semaphore); with `gpu_waits`, the submission
    /// first waits for the producer's fence in the wait semaphore.
    pub(super) fn record_and_submit(
        &mut self,
        imported: &Imported,
        layout: &FrameLayout,
        output: &OwnedBuffer,
        push: &[u8; PUSH_CONSTANTS_SIZE],
        gpu_waits: bool,
    ) -> Result<()> {
        let (pipeline, set) = self.pipeline_for(imported)?;
        let acquire = self.bind(imported, layout, set, output);
        let release = self.release_barriers(&acquire, output);
        self.record(pipeline, set, &acquire, &release, layout, push)?;
        self.submit(gpu_waits)
    }

    /// The pipeline and descriptor set of the frame's import path.
    fn pipeline_for(&self, imported: &Imported) -> Result<(&Pipeline, vk::DescriptorSet)> {
        match imported {
            Imported::Buffers(_) => Ok((&self.buffer_pipeline, self.buffer_set)),
            Imported::Images(_) => match &self.image_pipeline {
                Some(p) => Ok((p, self.image_set)),
                None => Err(Error::Vk {
                    call: "image pipeline",
                    result: vk::Result::ERROR_FEATURE_NOT_PRESENT,
                }),
            },
        }
    }

    /// Point the set's bindings 0-2 at the frame's planes (a missing plane
    /// repeats the first) and binding 3 at the output; the barriers that
    /// acquire the planes.
    fn bind(
        &self,
        imported: &Imported,
        layout: &FrameLayout,
        set: vk::DescriptorSet,
        output: &OwnedBuffer,
    ) -> Acquire {
        let ours = self.ctx.queue_family;
        let foreign = self.ctx.foreign_family();
        let planes = layout.planes();
        let plane = |i: usize| planes.get(i).copied().unwrap_or(planes[0]);
        let out_info = [vk::DescriptorBufferInfo {
            buffer: output.buffer,
            offset: 0,
            range: vk::WHOLE_SIZE,
        }];
        let out_write = vk::WriteDescriptorSet::default()
            .dst_set(set)
            .dst_binding(3)
            .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
            .buffer_info(&out_info);
        let plane_write = |i: usize, ty: vk::DescriptorType| {
            vk::WriteDescriptorSet::default()
                .dst_set(set)
                .dst_binding(i as u32)
                .descriptor_type(ty)
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
                let writes: Vec<_> = infos
                    .iter()
                    .enumerate()
                    .map(|(i, info)| {
                        plane_write(i, vk::DescriptorType::STORAGE_BUFFER).buffer_info(info)
                    })
                    .chain(std::iter::once(out_write))
                    .collect();
                self.update_descriptor_sets(&writes);
                let buffers = bufs
                    .iter()
                    .map(|b| {
                        vk::BufferMemoryBarrier::default()
                            .src_queue_family_index(foreign)
                            .dst_queue_family_index(ours)
                            .dst_access_mask(vk::AccessFlags::SHADER_READ)
                            .buffer(b.buffer.buffer)
                            .size(vk::WHOLE_SIZE)
                    })
                    .collect();
                Acquire {
                    buffers,
                    images: Vec::new(),
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
                let writes: Vec<_> = infos
                    .iter()
                    .enumerate()
                    .map(|(i, info)| {
                        plane_write(i, vk::DescriptorType::SAMPLED_IMAGE).image_info(info)
                    })
                    .chain(std::iter::once(out_write))
                    .collect();
                self.update_descriptor_sets(&writes);
                // Acquire from the foreign producer; GENERAL keeps the
                // contents (UNDEFINED would let the driver discard them).
                let images = imgs
                    .iter()
                    .map(|img| {
                        vk::ImageMemoryBarrier::default()
                            .src_queue_family_index(foreign)
                            .dst_queue_family_index(ours)
                            .old_layout(vk::ImageLayout::GENERAL)
                            .new_layout(vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL)
                            .dst_access_mask(vk::AccessFlags::SHADER_READ)
                            .image(img.image)
                            .subresource_range(COLOR_RANGE)
                    })
                    .collect();
                Acquire {
                    buffers: Vec::new(),
                    images,
                }
            }
        }
    }

    fn update_descriptor_sets(&self, writes: &[vk::WriteDescriptorSet<'_>]) {
        // SAFETY: the set is not in use (the last submission's fence was
        // waited for); every handle written lives until this conversion's
        // fence signalled.
        unsafe { self.ctx.device.update_descriptor_sets(writes, &[]) };
    }

    /// Give everything back to the foreign world after the dispatch: the
    /// planes to their producer, the output to its consumer.
    fn release_barriers(&self, acquire: &Acquire, output: &OwnedBuffer) -> Release {
        let ours = self.ctx.queue_family;
        let foreign = self.ctx.foreign_family();
        let buffers = acquire
            .buffers
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
        let images = acquire
            .images
            .iter()
            .map(|b| {
                vk::ImageMemoryBarrier::default()
                    .src_queue_family_index(ours)
                    .dst_queue_family_index(foreign)
                    .old_layout(vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL)
                    .new_layout(vk::ImageLayout::GENERAL)
                    .src_access_mask(vk::AccessFlags::SHADER_READ)
                    .image(b.image)
                    .subresource_range(COLOR_RANGE)
            })
            .collect();
        Release { buffers, images }
    }

    /// Record acquire barriers, the dispatch (8x8 pixels per workgroup) and
    /// release barriers into our one command buffer.
    fn record(
        &self,
        pipeline: &Pipeline,
        set: vk::DescriptorSet,
        acquire: &Acquire,
        release: &Release,
        layout: &FrameLayout,
        push: &[u8; PUSH_CONSTANTS_SIZE],
    ) -> Result<()> {
        let d = &self.ctx.device;
        let cb = self.command_buffer;
        let groups = (layout.width().div_ceil(8), layout.height().div_ceil(8));
        // SAFETY: recording into our one command buffer, which no pending
        // submission uses (the fence of the previous one was waited for);
        // every handle recorded lives until this conversion's fence signals.
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
                &acquire.buffers,
                &acquire.images,
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
            d.cmd_pipeline_barrier(
                cb,
                vk::PipelineStageFlags::COMPUTE_SHADER,
                vk::PipelineStageFlags::BOTTOM_OF_PIPE,
                vk::DependencyFlags::empty(),
                &[],
                &release.buffers,
                &release.images,
            );
            d.end_command_buffer(cb)
                .map_err(Error::vk("vkEndCommandBuffer"))?;
        }
        Ok(())
    }

    /// Submit the recorded command buffer with our fence; it waits for the
    /// wait semaphore when `gpu_waits` and signals the signal semaphore
    /// where there is one.
    fn submit(&self, gpu_waits: bool) -> Result<()> {
        let cbs = [self.command_buffer];
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
        // SAFETY: the command buffer was just recorded and is not pending;
        // the fence is unsignalled and unused (reset once the previous
        // submission's signalled); the wait semaphore holds the producer's
        // imported sync_file when `gpu_waits`.
        unsafe {
            self.ctx
                .device
                .queue_submit(self.ctx.queue, &[submit], self.resources.fence)
        }
        .map_err(Error::vk("vkQueueSubmit"))
    }
}
