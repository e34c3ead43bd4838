use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use super::{
    Allocator, Backend, Frame, FrameRequest, allocate_linear, name_buffer, open_device, page_round,
};
use crate::dmabuf::{BufferKind, DmaBuf};
use crate::error::{Error, Result};
use crate::sys;

const NODE: &str = "/dev/udmabuf";
const SIZE_LIMIT_PARAM: &str = "/sys/module/udmabuf/parameters/size_limit_mb";

/// Turns sealed memfds into dma-bufs through `/dev/udmabuf`: ordinary pages,
/// importable by any device that can import a scatter-gather dma-buf.
#[derive(Debug)]
pub struct UdmabufAllocator {
    device: OwnedFd,
    /// The module's per-buffer limit, read once (it is a module parameter).
    size_limit: Option<u64>,
}

impl UdmabufAllocator {
    pub fn open() -> Result<Self> {
        let device = open_device(
            Backend::Udmabuf,
            Path::new(NODE),
            true,
            "the kernel lacks CONFIG_UDMABUF (or the udmabuf module is not loaded)".to_owned(),
        )?;
        let size_limit = std::fs::read_to_string(Path::new(SIZE_LIMIT_PARAM))
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .map(|mib| mib.saturating_mul(1024 * 1024));
        Ok(Self { device, size_limit })
    }

    /// The largest buffer the module hands out, when the kernel says.
    pub fn size_limit(&self) -> Option<u64> {
        self.size_limit
    }

    fn allocate_raw(&self, name: &str, size: u64) -> Result<DmaBuf> {
        let too_large = || Error::UdmabufTooLarge {
            size,
            limit_mib: self.size_limit.unwrap_or(0) / (1024 * 1024),
        };
        if self.size_limit.is_some_and(|limit| size > limit) {
            return Err(too_large());
        }
        let syscall_error = |syscall, source| Error::Syscall {
            backend: Backend::Udmabuf,
            node: NODE.to_owned(),
            syscall,
            source,
            hint: None,
        };
        let name = CString::new(name.replace('\0', "")).unwrap_or_default();
        let memfd = sys::memfd_create(&name, size).map_err(|e| syscall_error("memfd_create", e))?;
        // udmabuf requires F_SEAL_SHRINK (pages must not vanish) and refuses F_SEAL_WRITE.
        sys::add_seals(memfd.as_fd(), sys::SealFlags::SHRINK)
            .map_err(|e| syscall_error("fcntl(F_ADD_SEALS)", e))?;
        let fd =
            sys::udmabuf_create(self.device.as_fd(), memfd.as_fd(), size).map_err(|source| {
                if source.raw_os_error() == Some(libc::EINVAL)
                    && self.size_limit.is_some_and(|l| size > l)
                {
                    too_large()
                } else {
                    syscall_error("UDMABUF_CREATE", source)
                }
            })?;
        // The udmabuf holds its own reference to the memfd's pages; our memfd
        // handle closes here, and the memory lives on with the dma-buf.
        drop(memfd);
        DmaBuf::wrap(
            fd,
            BufferKind::DmaBuf {
                exporter: "udmabuf".to_owned(),
            },
        )
    }
}

impl Allocator for UdmabufAllocator {
    fn backend(&self) -> Backend {
        Backend::Udmabuf
    }

    fn device(&self) -> String {
        NODE.to_owned()
    }

    fn allocate(&self, request: &FrameRequest) -> Result<Frame> {
        allocate_linear(request, |size| {
            self.allocate_raw(&request.buffer_name(), size)
        })
    }

    fn allocate_bytes(&self, size: u64, name: &str) -> Result<DmaBuf> {
        let buffer = self.allocate_raw(name, page_round(size)?)?;
        name_buffer(&buffer, name);
        Ok(buffer)
    }
}
