//! vgem's test fences: attach an unsignalled fence to a buffer's reservation
//! object and signal it when the test says so (drm/vgem_drm.h). A fence that
//! is not signalled expires by itself after 10 s, and closing the vgem fd
//! signals every fence it still holds, so a failing test cannot wedge a buffer.

use std::ffi::c_ulong;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::ioctl::opcode;

use zc_dmabuf::DmaBuf;

// ---- drm/drm.h, drm/vgem_drm.h ----

#[repr(C)]
struct DrmGemClose {
    handle: u32,
    pad: u32,
}

#[repr(C)]
struct DrmPrimeHandle {
    handle: u32,
    flags: u32,
    fd: i32,
}

#[repr(C)]
struct DrmVgemFenceAttach {
    handle: u32,
    flags: u32,
    out_fence: u32,
    pad: u32,
}

#[repr(C)]
struct DrmVgemFenceSignal {
    fence: u32,
    flags: u32,
}

const _: () = assert!(size_of::<DrmGemClose>() == 8);
const _: () = assert!(size_of::<DrmPrimeHandle>() == 12);
const _: () = assert!(size_of::<DrmVgemFenceAttach>() == 16);
const _: () = assert!(size_of::<DrmVgemFenceSignal>() == 8);

const VGEM_FENCE_WRITE: u32 = 0x1;
const DRM_COMMAND_BASE: u8 = 0x40;

// asm-generic/ioctl.h's encoding, by rustix.
const DRM_IOCTL_GEM_CLOSE: c_ulong = opcode::write::<DrmGemClose>(b'd', 0x09) as c_ulong;
const DRM_IOCTL_PRIME_FD_TO_HANDLE: c_ulong =
    opcode::read_write::<DrmPrimeHandle>(b'd', 0x2e) as c_ulong;
const DRM_IOCTL_VGEM_FENCE_ATTACH: c_ulong =
    opcode::read_write::<DrmVgemFenceAttach>(b'd', DRM_COMMAND_BASE + 0x01) as c_ulong;
const DRM_IOCTL_VGEM_FENCE_SIGNAL: c_ulong =
    opcode::write::<DrmVgemFenceSignal>(b'd', DRM_COMMAND_BASE + 0x02) as c_ulong;

// The values libdrm and the kernel headers expand to.
const _: () = assert!(DRM_IOCTL_GEM_CLOSE == 0x4008_6409);
const _: () = assert!(DRM_IOCTL_PRIME_FD_TO_HANDLE == 0xc00c_642e);

/// `ioctl(fd, request, arg)`, retried on EINTR and EAGAIN (as libdrm's drmIoctl).
///
/// # Safety
/// `request` must read and/or write exactly one `T` through its argument.
unsafe fn ioctl<T>(
    fd: BorrowedFd<'_>,
    request: c_ulong,
    arg: &mut T,
    what: &str,
) -> io::Result<()> {
    loop {
        // SAFETY: the caller guarantees `request` takes a `*mut T`; `arg` is
        // live and exclusively borrowed for the call.
        if unsafe { libc::ioctl(fd.as_raw_fd(), request, arg as *mut T) } >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if !matches!(err.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) {
            return Err(io::Error::new(err.kind(), format!("{what}: {err}")));
        }
    }
}

/// An open vgem DRM node. Fence ids belong to this open file.
pub struct Vgem {
    fd: OwnedFd,
}

/// A GEM handle on a [`Vgem`] file; closed (`DRM_IOCTL_GEM_CLOSE`) on drop.
pub struct GemHandle<'a> {
    vgem: &'a Vgem,
    handle: u32,
}

impl GemHandle<'_> {
    pub fn raw(&self) -> u32 {
        self.handle
    }
}

impl Drop for GemHandle<'_> {
    fn drop(&mut self) {
        let mut close = DrmGemClose {
            handle: self.handle,
            pad: 0,
        };
        // SAFETY: DRM_IOCTL_GEM_CLOSE reads one drm_gem_close.
        if let Err(err) = unsafe {
            ioctl(
                self.vgem.fd.as_fd(),
                DRM_IOCTL_GEM_CLOSE,
                &mut close,
                "DRM_IOCTL_GEM_CLOSE",
            )
        } {
            eprintln!("closing GEM handle {}: {err}", self.handle);
        }
    }
}

impl Vgem {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", path.display())))?;
        Ok(Self { fd: file.into() })
    }

    /// Import a dma-buf into vgem (`DRM_IOCTL_PRIME_FD_TO_HANDLE`). The GEM
    /// object shares the dma-buf's reservation object, so fences attached to
    /// the handle are the dma-buf's fences.
    pub fn handle_for(&self, buffer: &DmaBuf) -> io::Result<GemHandle<'_>> {
        let mut prime = DrmPrimeHandle {
            handle: 0,
            flags: 0,
            fd: buffer.as_fd().as_raw_fd(),
        };
        // SAFETY: DRM_IOCTL_PRIME_FD_TO_HANDLE reads and writes one drm_prime_handle;
        // the dma-buf fd is borrowed for the call.
        unsafe {
            ioctl(
                self.fd.as_fd(),
                DRM_IOCTL_PRIME_FD_TO_HANDLE,
                &mut prime,
                "DRM_IOCTL_PRIME_FD_TO_HANDLE",
            )
        }?;
        Ok(GemHandle {
            vgem: self,
            handle: prime.handle,
        })
    }

    /// Attach a new unsignalled fence to the object (`DRM_IOCTL_VGEM_FENCE_ATTACH`),
    /// as a write fence or a read fence; returns its id for [`Vgem::signal_fence`].
    pub fn attach_fence(&self, handle: &GemHandle<'_>, write: bool) -> io::Result<u32> {
        let mut attach = DrmVgemFenceAttach {
            handle: handle.handle,
            flags: if write { VGEM_FENCE_WRITE } else { 0 },
            out_fence: 0,
            pad: 0,
        };
        // SAFETY: DRM_IOCTL_VGEM_FENCE_ATTACH reads and writes one drm_vgem_fence_attach.
        unsafe {
            ioctl(
                self.fd.as_fd(),
                DRM_IOCTL_VGEM_FENCE_ATTACH,
                &mut attach,
                "DRM_IOCTL_VGEM_FENCE_ATTACH",
            )
        }?;
        Ok(attach.out_fence)
    }

    /// Signal a fence from [`Vgem::attach_fence`] (`DRM_IOCTL_VGEM_FENCE_SIGNAL`).
    /// The kernel answers ETIMEDOUT if it had already expired (and signals it anyway).
    pub fn signal_fence(&self, fence: u32) -> io::Result<()> {
        let mut signal = DrmVgemFenceSignal { fence, flags: 0 };
        // SAFETY: DRM_IOCTL_VGEM_FENCE_SIGNAL reads one drm_vgem_fence_signal.
        unsafe {
            ioctl(
                self.fd.as_fd(),
                DRM_IOCTL_VGEM_FENCE_SIGNAL,
                &mut signal,
                "DRM_IOCTL_VGEM_FENCE_SIGNAL",
            )
        }
    }
}

impl AsFd for Vgem {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
