use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use super::{
    Allocator, Backend, Frame, FrameRequest, allocate_linear, name_buffer, open_device, page_round,
};
use crate::dmabuf::{BufferKind, DmaBuf};
use crate::error::{Error, Result};
use crate::sys;

/// Allocates from a DMA heap (`/dev/dma_heap/<name>`): the kernel's generic
/// dma-buf exporter, and what embedded boards use for contiguous memory.
#[derive(Debug)]
pub struct HeapAllocator {
    heap: OwnedFd,
    node: PathBuf,
    name: String,
}

impl HeapAllocator {
    pub fn open(name: &str) -> Result<Self> {
        let node = PathBuf::from("/dev/dma_heap").join(name);
        let missing_hint = if name == "system" {
            "the kernel lacks CONFIG_DMABUF_HEAPS_SYSTEM".to_owned()
        } else {
            format!("the kernel has no heap named `{name}`; see `ls /dev/dma_heap`")
        };
        let heap = open_device(Backend::Heap, &node, false, missing_hint)?;
        Ok(Self {
            heap,
            node,
            name: name.to_owned(),
        })
    }

    pub fn heap_name(&self) -> &str {
        &self.name
    }

    fn allocate_raw(&self, size: u64) -> Result<DmaBuf> {
        let fd = sys::dma_heap_alloc(self.heap.as_fd(), size).map_err(|source| Error::Syscall {
            backend: Backend::Heap,
            node: self.node.display().to_string(),
            syscall: "DMA_HEAP_IOCTL_ALLOC",
            hint: (source.raw_os_error() == Some(libc::ENOMEM))
                .then(|| format!("{size} bytes could not be allocated from this heap")),
            source,
        })?;
        DmaBuf::wrap(
            fd,
            BufferKind::DmaBuf {
                exporter: self.name.clone(),
            },
        )
    }
}

impl Allocator for HeapAllocator {
    fn backend(&self) -> Backend {
        Backend::Heap
    }

    fn device(&self) -> String {
        self.node.display().to_string()
    }

    fn allocate(&self, request: &FrameRequest) -> Result<Frame> {
        allocate_linear(request, |size| self.allocate_raw(size))
    }

    fn allocate_bytes(&self, size: u64, name: &str) -> Result<DmaBuf> {
        let buffer = self.allocate_raw(page_round(size)?)?;
        name_buffer(&buffer, name);
        Ok(buffer)
    }
}
