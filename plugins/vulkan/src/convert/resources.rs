//! The converter's per-device objects: command pool and its one command
//! buffer, descriptor pool and sets, the fence and the SYNC_FD semaphores.

use std::sync::Arc;

use ash::vk;

use crate::device::Context;
use crate::error::{Error, Result};

/// Command pool, descriptor pool and fence; destroyed on drop.
pub(super) struct Resources {
    ctx: Arc<Context>,
    command_pool: vk::CommandPool,
    descriptor_pool: vk::DescriptorPool,
    pub(super) fence: vk::Fence,
    /// Waited on by each submission when the producer's sync_file was
    /// imported into it (temporarily); null without SYNC_FD semaphores.
    pub(super) wait_semaphore: vk::Semaphore,
    /// Signalled by each submission and exported as a sync_file into the
    /// output dma-buf; null without SYNC_FD semaphores.
    pub(super) signal_semaphore: vk::Semaphore,
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

impl Resources {
    /// The pools, the fence and (with SYNC_FD semaphores) the wait and
    /// signal semaphores; whatever was made is destroyed if a later step fails.
    pub(super) fn new(ctx: &Arc<Context>) -> Result<Self> {
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
        Ok(resources)
    }

    /// The one primary command buffer every conversion records into.
    pub(super) fn allocate_command_buffer(&self) -> Result<vk::CommandBuffer> {
        let d = &self.ctx.device;
        // SAFETY: our pool (made in `new`); the buffer is freed with it.
        let command_buffers = unsafe {
            d.allocate_command_buffers(
                &vk::CommandBufferAllocateInfo::default()
                    .command_pool(self.command_pool)
                    .level(vk::CommandBufferLevel::PRIMARY)
                    .command_buffer_count(1),
            )
        }
        .map_err(Error::vk("vkAllocateCommandBuffers"))?;
        Ok(command_buffers[0])
    }

    /// One descriptor set per layout, freed with the pool.
    pub(super) fn allocate_descriptor_sets(
        &self,
        set_layouts: &[vk::DescriptorSetLayout],
    ) -> Result<Vec<vk::DescriptorSet>> {
        let d = &self.ctx.device;
        // SAFETY: layouts and pool of this device; the sets are freed with the pool.
        unsafe {
            d.allocate_descriptor_sets(
                &vk::DescriptorSetAllocateInfo::default()
                    .descriptor_pool(self.descriptor_pool)
                    .set_layouts(set_layouts),
            )
        }
        .map_err(Error::vk("vkAllocateDescriptorSets"))
    }
}
