use std::ffi::CString;
use std::os::fd::AsFd;

use super::{Allocator, Backend, Frame, FrameRequest, allocate_linear, page_round};
use crate::dmabuf::DmaBuf;
use crate::error::{Error, Result};
use crate::sys;

/// Shared memory that is not a dma-buf: what `wl_shm` takes, and the last
/// fallback when the kernel offers no dma-buf exporter. Buffers are flagged
/// (`BufferKind::Memfd`) so nobody mistakes them for importable dma-bufs.
#[derive(Debug, Default)]
pub struct MemfdAllocator;

impl MemfdAllocator {
    fn allocate_raw(name: &str, size: u64) -> Result<DmaBuf> {
        let syscall_error = |syscall, source| Error::Syscall {
            backend: Backend::Memfd,
            node: "memfd".to_owned(),
            syscall,
            source,
            hint: None,
        };
        let name = CString::new(name.replace('\0', "")).unwrap_or_default();
        let fd = sys::memfd_create(&name, size).map_err(|e| syscall_error("memfd_create", e))?;
        // Sealed like compositors like it: the size can never change under them.
        sys::add_seals(
            fd.as_fd(),
            sys::SealFlags::SHRINK | sys::SealFlags::GROW | sys::SealFlags::SEAL,
        )
        .map_err(|e| syscall_error("fcntl(F_ADD_SEALS)", e))?;
        DmaBuf::from_memfd(fd)
    }
}

impl Allocator for MemfdAllocator {
    fn backend(&self) -> Backend {
        Backend::Memfd
    }

    fn device(&self) -> String {
        "memfd_create".to_owned()
    }

    fn allocate(&self, request: &FrameRequest) -> Result<Frame> {
        allocate_linear(request, |size| {
            Self::allocate_raw(&request.buffer_name(), size)
        })
    }

    fn allocate_bytes(&self, size: u64, name: &str) -> Result<DmaBuf> {
        Self::allocate_raw(name, page_round(size)?)
    }
}
