//! [`FrameImport`]: a frame imported once and converted as often as it comes
//! back, held by the caller with the frame's buffers.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use zc_dmabuf::{DmaBuf, FrameLayout};

use super::{Converter, ImportPath};
use crate::error::{Error, Result};
use crate::import::Imported;

/// A frame imported into Vulkan, to convert again and again while its
/// dma-bufs live. It holds dups of the frame's fds (the converter waits on
/// their fences) and the Vulkan objects bound to them; dropping it frees
/// both. Keep it with the frame's buffers, e.g. on their GstMemory, and let
/// it go with them: an import must never outlive the storage's owner's wish
/// to free it.
pub struct FrameImport {
    // Vulkan objects first: they are destroyed before the fds close. Shared
    // with the converter while a timed-out conversion of it may still run.
    pub(super) imported: Arc<Imported>,
    pub(super) buffers: Vec<DmaBuf>,
    pub(super) layout: FrameLayout,
    pub(super) identity: Vec<(u64, u64)>,
    pub(super) converter_id: usize,
    pub(super) live: Arc<AtomicUsize>,
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

/// Identity of a frame's buffers: (device, inode) of each fd. An import
/// holds these files open, so the inodes cannot be reused while it exists.
pub(super) fn file_identities(buffers: &[DmaBuf]) -> Result<Vec<(u64, u64)>> {
    buffers
        .iter()
        .map(|b| {
            zc_dmabuf::fd_identity(b.as_fd()).map_err(|source| {
                Error::DmaBuf(zc_dmabuf::Error::Buffer {
                    what: "fstat",
                    kind: "dma-buf",
                    source,
                })
            })
        })
        .collect()
}
