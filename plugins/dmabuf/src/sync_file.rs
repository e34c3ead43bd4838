//! sync_file: a fence as an fd. Exported from a dma-buf it says when the
//! buffer's current users are done; imported into one it makes later users wait.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::dmabuf::{Access, DmaBuf};
use crate::error::{Error, Result};
use crate::sys;

/// A sync_file fd. It signals once every fence in it has signalled.
#[derive(Debug)]
pub struct SyncFile(OwnedFd);

impl SyncFile {
    /// Take ownership of a sync_file fd received from elsewhere (a compositor's
    /// release fence, a Vulkan semaphore export).
    pub fn from_fd(fd: OwnedFd) -> Self {
        Self(fd)
    }

    /// Wait until the fence signals; `None` waits forever. Returns false on timeout.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        sys::poll_readable(self.0.as_fd(), timeout).map_err(|source| Error::Buffer {
            what: "poll(sync_file)",
            kind: "sync_file",
            source,
        })
    }

    /// Whether the fence has signalled, without waiting.
    pub fn is_signaled(&self) -> Result<bool> {
        self.wait(Some(Duration::ZERO))
    }

    pub fn into_fd(self) -> OwnedFd {
        self.0
    }

    /// Export the fences of a dma-buf someone else owns (a GstMemory's fd,
    /// say), without wrapping it: one ioctl, fit for a per-frame path.
    pub fn export(dma_buf: BorrowedFd<'_>, access: Access) -> Result<SyncFile> {
        sys::dma_buf_export_sync_file(dma_buf, sync_file_flags(access))
            .map(SyncFile)
            .map_err(|source| Error::Buffer {
                what: "DMA_BUF_IOCTL_EXPORT_SYNC_FILE",
                kind: "dma-buf",
                source,
            })
    }
}

impl AsFd for SyncFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

fn sync_file_flags(access: Access) -> u32 {
    // The kernel takes the same READ/WRITE bits as DMA_BUF_IOCTL_SYNC.
    access.sync_flags() as u32
}

impl DmaBuf {
    /// Export the buffer's current fences as a sync_file
    /// (`DMA_BUF_IOCTL_EXPORT_SYNC_FILE`, Linux 6.0+).
    ///
    /// `Access::Read`: the fences a reader must wait for (pending writes).
    /// `Access::Write` / `ReadWrite`: every fence, readers included: what a
    /// pool waits for before it lets anyone write the buffer again.
    pub fn export_sync_file(&self, access: Access) -> Result<SyncFile> {
        self.require_dma_buf("DMA_BUF_IOCTL_EXPORT_SYNC_FILE")?;
        SyncFile::export(self.as_fd(), access)
    }

    /// Attach a fence to the buffer (`DMA_BUF_IOCTL_IMPORT_SYNC_FILE`): later
    /// implicit-sync users wait for it. `Access::Write` makes it a write fence.
    pub fn import_sync_file(&self, sync_file: &SyncFile, access: Access) -> Result<()> {
        self.require_dma_buf("DMA_BUF_IOCTL_IMPORT_SYNC_FILE")?;
        sys::dma_buf_import_sync_file(self.as_fd(), sync_file_flags(access), sync_file.as_fd())
            .map_err(|source| Error::Buffer {
                what: "DMA_BUF_IOCTL_IMPORT_SYNC_FILE",
                kind: "dma-buf",
                source,
            })
    }

    /// Wait until nobody uses the buffer in a way that conflicts with `access`.
    pub fn wait_idle(&self, access: Access, timeout: Option<Duration>) -> Result<bool> {
        if !self.is_dma_buf() {
            return Ok(true);
        }
        self.export_sync_file(access)?.wait(timeout)
    }

    fn require_dma_buf(&self, what: &'static str) -> Result<()> {
        if self.is_dma_buf() {
            Ok(())
        } else {
            Err(Error::Buffer {
                what,
                kind: "memfd",
                source: std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "a memfd carries no fences",
                ),
            })
        }
    }
}
