//! DRM timeline syncobjs: a fence per point of a 64-bit counter, on a DRM
//! device. What `wp_linux_drm_syncobj_v1` passes instead of sync_files: the
//! producer's fence becomes the acquire point, the compositor signals the
//! release point when it is done with the buffer.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::{EventfdFlags, eventfd};

use crate::error::{Error, Result};
use crate::sync_file::SyncFile;
use crate::sys;

/// A timeline syncobj on a DRM device (a render node with
/// `DRM_CAP_SYNCOBJ_TIMELINE`). Destroyed with it; an exported fd keeps the
/// kernel object alive for whoever imported it.
#[derive(Debug)]
pub struct Timeline {
    device: OwnedFd,
    handle: u32,
}

fn failed(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Buffer {
        what,
        kind: "DRM syncobj",
        source,
    }
}

impl Timeline {
    /// A new timeline on `device` (kept as a duplicate), at point 0.
    pub fn create(device: BorrowedFd<'_>) -> Result<Timeline> {
        let device = device
            .try_clone_to_owned()
            .map_err(failed("dup(DRM device)"))?;
        let handle =
            sys::drm_syncobj_create(device.as_fd()).map_err(failed("DRM_IOCTL_SYNCOBJ_CREATE"))?;
        Ok(Timeline { device, handle })
    }

    /// A timeline someone exported as an fd, imported on `device`.
    pub fn import(device: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<Timeline> {
        let device = device
            .try_clone_to_owned()
            .map_err(failed("dup(DRM device)"))?;
        let handle = sys::drm_syncobj_fd_to_handle(device.as_fd(), fd, 0, 0)
            .map_err(failed("DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE"))?;
        Ok(Timeline { device, handle })
    }

    /// The timeline as an fd, for another process (a compositor's
    /// `import_timeline`) or device.
    pub fn export(&self) -> Result<OwnedFd> {
        sys::drm_syncobj_handle_to_fd(self.device.as_fd(), self.handle, 0)
            .map_err(failed("DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD"))
    }

    /// Make `point` signal when `fence` does (the producer's sync_file as
    /// an acquire point): through a binary syncobj, transferred.
    pub fn import_sync_file(&self, point: u64, fence: BorrowedFd<'_>) -> Result<()> {
        let device = self.device.as_fd();
        let binary = sys::drm_syncobj_create(device).map_err(failed("DRM_IOCTL_SYNCOBJ_CREATE"))?;
        let result = sys::drm_syncobj_fd_to_handle(
            device,
            fence,
            binary,
            sys::DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
        )
        .map_err(failed("DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE (sync_file)"))
        .and_then(|_| {
            sys::drm_syncobj_transfer(device, (binary, 0), (self.handle, point), 0)
                .map_err(failed("DRM_IOCTL_SYNCOBJ_TRANSFER"))
        });
        let destroyed =
            sys::drm_syncobj_destroy(device, binary).map_err(failed("DRM_IOCTL_SYNCOBJ_DESTROY"));
        result.and(destroyed)
    }

    /// The fence of `point` as a sync_file (the point must have a fence:
    /// signalled, or imported).
    pub fn export_sync_file(&self, point: u64) -> Result<SyncFile> {
        let device = self.device.as_fd();
        let binary = sys::drm_syncobj_create(device).map_err(failed("DRM_IOCTL_SYNCOBJ_CREATE"))?;
        let result = sys::drm_syncobj_transfer(device, (self.handle, point), (binary, 0), 0)
            .map_err(failed("DRM_IOCTL_SYNCOBJ_TRANSFER"))
            .and_then(|()| {
                sys::drm_syncobj_handle_to_fd(
                    device,
                    binary,
                    sys::DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
                )
                .map_err(failed("DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD (sync_file)"))
            });
        let destroyed =
            sys::drm_syncobj_destroy(device, binary).map_err(failed("DRM_IOCTL_SYNCOBJ_DESTROY"));
        let fd = result?;
        destroyed?;
        Ok(SyncFile::from_fd(fd))
    }

    /// Signal `point` now, from the CPU (an acquire point for a frame
    /// without a fence).
    pub fn signal(&self, point: u64) -> Result<()> {
        sys::drm_syncobj_timeline_signal(self.device.as_fd(), self.handle, point)
            .map_err(failed("DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL"))
    }

    /// The latest point that signalled.
    pub fn signalled_point(&self) -> Result<u64> {
        sys::drm_syncobj_query(self.device.as_fd(), self.handle)
            .map_err(failed("DRM_IOCTL_SYNCOBJ_QUERY"))
    }

    /// An eventfd that becomes readable once `point` signalled (a release
    /// point, polled with the connection instead of waited on).
    pub fn eventfd(&self, point: u64) -> Result<OwnedFd> {
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
            .map_err(|e| failed("eventfd")(e.into()))?;
        sys::drm_syncobj_eventfd(self.device.as_fd(), self.handle, point, fd.as_fd())
            .map_err(failed("DRM_IOCTL_SYNCOBJ_EVENTFD"))?;
        Ok(fd)
    }
}

impl Drop for Timeline {
    fn drop(&mut self) {
        if let Err(e) = sys::drm_syncobj_destroy(self.device.as_fd(), self.handle) {
            log::warn!("destroying a DRM syncobj: {e}");
        }
    }
}
