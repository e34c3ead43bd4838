//! Synchronisation around a conversion: the producer's and the output's
//! implicit fences (waited for by the CPU, or the producer's by the GPU
//! through a SYNC_FD semaphore), our own fence and its timeout, and the
//! conversion's fence attached to the output.

use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use ash::vk;
use zc_dmabuf::{Access, DmaBuf};

use super::Converter;
use super::output::OutputVk;
use crate::error::{Error, Result};
use crate::import::Imported;

/// How long the producer's implicit fence and our own fence may take.
pub(super) const FENCE_TIMEOUT: Duration = Duration::from_secs(20);

/// What a submission uses, kept until its fence signalled.
pub(super) struct InFlight {
    pub(super) _imported: Arc<Imported>,
    pub(super) _output: Arc<OutputVk>,
}

impl Converter {
    /// Wait for a submission left running by a timed-out conversion, so its
    /// command buffer and descriptor sets can be used again. An error (and
    /// nothing touched) while it still runs.
    pub(super) fn finish_in_flight(&mut self) -> Result<()> {
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

    /// Wait for what must be done before the GPU touches `inputs` and
    /// `output`; true when the GPU itself waits for the producer (its fence
    /// imported into the wait semaphore).
    pub(super) fn wait_for_producer_and_readers(
        &self,
        inputs: &[DmaBuf],
        output: &DmaBuf,
    ) -> Result<bool> {
        // The output's readers (all its fences) are waited for on the CPU.
        // The producer (its write fence): with one dma-buf and SYNC_FD
        // semaphores by the GPU, otherwise (several fds, no semaphores, a
        // failed import) on the CPU too.
        let gpu_waits =
            inputs.len() == 1 && inputs[0].is_dma_buf() && self.import_producer_fence(&inputs[0]);
        let waits = inputs
            .iter()
            .filter(|_| !gpu_waits)
            .map(|b| (b, Access::Read))
            .chain(std::iter::once((output, Access::Write)));
        for (b, access) in waits.filter(|(b, _)| b.is_dma_buf()) {
            if !b.wait_idle(access, Some(FENCE_TIMEOUT))? {
                return Err(Error::ProducerTimeout(FENCE_TIMEOUT));
            }
        }
        Ok(gpu_waits)
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
    pub(super) fn attach_output_fence(&self, output: &DmaBuf) {
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
}
