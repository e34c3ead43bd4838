//! The syscall boundary: kernel UAPI structs, ioctl numbers, and thin wrappers.
//!
//! Every `unsafe` block of the crate that talks to the kernel lives here, each
//! with the reason it is sound. Callers get safe functions over `BorrowedFd`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::time::Duration;

// ---- ioctl number encoding (asm-generic/ioctl.h) ----

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> libc::c_ulong {
    ((dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr as u32) as libc::c_ulong
}
const fn iow<T>(ty: u8, nr: u8) -> libc::c_ulong {
    ioc(IOC_WRITE, ty, nr, size_of::<T>())
}
const fn iowr<T>(ty: u8, nr: u8) -> libc::c_ulong {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size_of::<T>())
}

// ---- linux/dma-buf.h ----

#[repr(C)]
pub struct DmaBufSync {
    pub flags: u64,
}
pub const DMA_BUF_SYNC_READ: u64 = 1;
pub const DMA_BUF_SYNC_WRITE: u64 = 2;
pub const DMA_BUF_SYNC_START: u64 = 0;
pub const DMA_BUF_SYNC_END: u64 = 1 << 2;

#[repr(C)]
pub struct DmaBufSyncFile {
    pub flags: u32,
    pub fd: i32,
}

pub const DMA_BUF_IOCTL_SYNC: libc::c_ulong = iow::<DmaBufSync>(b'b', 0);
/// `DMA_BUF_SET_NAME_B`: the 64-bit spelling of DMA_BUF_SET_NAME (its argument is a pointer).
pub const DMA_BUF_SET_NAME: libc::c_ulong = iow::<u64>(b'b', 1);
pub const DMA_BUF_IOCTL_EXPORT_SYNC_FILE: libc::c_ulong = iowr::<DmaBufSyncFile>(b'b', 2);
pub const DMA_BUF_IOCTL_IMPORT_SYNC_FILE: libc::c_ulong = iow::<DmaBufSyncFile>(b'b', 3);
/// The kernel's DMA_BUF_NAME_LEN, terminating NUL included.
pub const DMA_BUF_NAME_LEN: usize = 32;

// ---- linux/dma-heap.h ----

#[repr(C)]
pub struct DmaHeapAllocationData {
    pub len: u64,
    pub fd: u32,
    pub fd_flags: u32,
    pub heap_flags: u64,
}
pub const DMA_HEAP_IOCTL_ALLOC: libc::c_ulong = iowr::<DmaHeapAllocationData>(b'H', 0);

// ---- linux/udmabuf.h ----

#[repr(C)]
pub struct UdmabufCreate {
    pub memfd: u32,
    pub flags: u32,
    pub offset: u64,
    pub size: u64,
}
pub const UDMABUF_FLAGS_CLOEXEC: u32 = 0x01;
pub const UDMABUF_CREATE: libc::c_ulong = iow::<UdmabufCreate>(b'u', 0x42);

/// Issue an ioctl whose argument is a pointer to `arg`, retrying on EINTR and
/// EAGAIN (DMA_BUF_IOCTL_SYNC may be interrupted while it waits for fences).
///
/// # Safety
/// `request` must be an ioctl that reads and/or writes exactly one `T` through
/// its pointer argument, as the UAPI headers above declare.
pub unsafe fn ioctl_retry<T>(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    arg: &mut T,
) -> io::Result<libc::c_int> {
    loop {
        // SAFETY: the caller guarantees `request` takes a `*mut T`; `arg` is a
        // live, exclusive reference for the duration of the call.
        let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request, arg as *mut T) };
        if ret >= 0 {
            return Ok(ret);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR | libc::EAGAIN) => continue,
            _ => return Err(err),
        }
    }
}

/// `DMA_BUF_IOCTL_SYNC`: begin or end a CPU access bracket.
pub fn dma_buf_sync(fd: BorrowedFd<'_>, flags: u64) -> io::Result<()> {
    let mut sync = DmaBufSync { flags };
    // SAFETY: DMA_BUF_IOCTL_SYNC reads one `struct dma_buf_sync`.
    unsafe { ioctl_retry(fd, DMA_BUF_IOCTL_SYNC, &mut sync) }.map(drop)
}

/// `DMA_BUF_SET_NAME`: label the buffer in /proc/*/fdinfo and debugfs.
pub fn dma_buf_set_name(fd: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: DMA_BUF_SET_NAME takes a pointer to a NUL-terminated string that
    // the kernel copies (strndup_user) before returning; `name` outlives the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), DMA_BUF_SET_NAME, name.as_ptr()) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn dma_buf_export_sync_file(fd: BorrowedFd<'_>, flags: u32) -> io::Result<OwnedFd> {
    let mut arg = DmaBufSyncFile { flags, fd: -1 };
    // SAFETY: EXPORT_SYNC_FILE reads and writes one `struct dma_buf_export_sync_file`.
    unsafe { ioctl_retry(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &mut arg) }?;
    // SAFETY: on success the kernel installed a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

pub fn dma_buf_import_sync_file(
    fd: BorrowedFd<'_>,
    flags: u32,
    sync_file: BorrowedFd<'_>,
) -> io::Result<()> {
    let mut arg = DmaBufSyncFile {
        flags,
        fd: sync_file.as_raw_fd(),
    };
    // SAFETY: IMPORT_SYNC_FILE reads one `struct dma_buf_import_sync_file`;
    // the sync_file fd is borrowed for the duration of the call.
    unsafe { ioctl_retry(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &mut arg) }.map(drop)
}

pub fn dma_heap_alloc(heap: BorrowedFd<'_>, len: u64) -> io::Result<OwnedFd> {
    let mut data = DmaHeapAllocationData {
        len,
        fd: 0,
        fd_flags: (libc::O_RDWR | libc::O_CLOEXEC) as u32,
        heap_flags: 0,
    };
    // SAFETY: DMA_HEAP_IOCTL_ALLOC reads and writes one `struct dma_heap_allocation_data`.
    unsafe { ioctl_retry(heap, DMA_HEAP_IOCTL_ALLOC, &mut data) }?;
    // SAFETY: on success `data.fd` is a new fd owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(data.fd as RawFd) })
}

pub fn udmabuf_create(
    device: BorrowedFd<'_>,
    memfd: BorrowedFd<'_>,
    size: u64,
) -> io::Result<OwnedFd> {
    let mut create = UdmabufCreate {
        memfd: memfd.as_raw_fd() as u32,
        flags: UDMABUF_FLAGS_CLOEXEC,
        offset: 0,
        size,
    };
    // SAFETY: UDMABUF_CREATE reads one `struct udmabuf_create`; it returns the new fd.
    let fd = unsafe { ioctl_retry(device, UDMABUF_CREATE, &mut create) }?;
    // SAFETY: the return value is a new fd owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A sealable, close-on-exec memfd of `size` bytes.
pub fn memfd_create(name: &CStr, size: u64) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a new fd owned by us alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = libc::off_t::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: plain syscall on an fd we own.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

pub fn add_seals(fd: BorrowedFd<'_>, seals: libc::c_int) -> io::Result<()> {
    // SAFETY: plain fcntl on a borrowed fd; no memory is passed.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The size of a dma-buf (or file): `lseek(SEEK_END)`, then back to the start.
/// dma-bufs support exactly these two seeks.
pub fn fd_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: lseek on a borrowed fd; no memory is passed.
    let end = unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_END) };
    if end < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_SET) };
    Ok(end as u64)
}

/// The real size of an fd's object, as importers see it: `st_size` for
/// regular files (memfds: no seek, so a producer's file position is left
/// alone), else [`fd_size`]: what dma-bufs are sure to answer, also on
/// kernels whose anonymous inodes carry no file type or size.
pub fn real_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let stat = fstat(fd)?;
    if stat.st_mode & libc::S_IFMT == libc::S_IFREG && stat.st_size > 0 {
        return u64::try_from(stat.st_size)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData));
    }
    fd_size(fd)
}

pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes one `struct stat` into the pointer on success.
    if unsafe { libc::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so the struct is initialised.
    Ok(unsafe { stat.assume_init() })
}

/// `fcntl(F_GETFL)`: the fd's access mode and status flags.
pub fn fd_flags(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    // SAFETY: plain fcntl on a borrowed fd.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(flags)
    }
}

/// A shared mapping of a whole fd. Unmapped on drop.
pub struct RawMapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; who may touch it when is decided
// by the CPU-access brackets and their lock, not by the thread that made it.
unsafe impl Send for RawMapping {}
// SAFETY: as above; `RawMapping` itself only hands out its pointer and length.
unsafe impl Sync for RawMapping {}

impl RawMapping {
    pub fn new(fd: BorrowedFd<'_>, len: usize, writable: bool) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh shared mapping chosen by the kernel (addr NULL); it
        // aliases no Rust object. The fd only needs to live for the call.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Self { ptr, len })
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for RawMapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned, and every slice
        // handed out borrows from the owner of this mapping, so none outlives it.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// `poll(POLLIN)` on one fd; `None` waits forever. True when readable.
pub fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    // A timeout too long for `Instant` waits forever.
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    loop {
        let remaining_ms = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                i32::try_from(left.as_millis()).unwrap_or(i32::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let ret = unsafe { libc::poll(&mut pfd, 1, remaining_ms) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(err);
        }
        if pfd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "poll reported an error on the fd",
            ));
        }
        return Ok(ret > 0 && pfd.revents & libc::POLLIN != 0);
    }
}

// ---- drm/drm.h: PRIME export ----

#[repr(C)]
pub struct DrmPrimeHandle {
    pub handle: u32,
    pub flags: u32,
    pub fd: i32,
}
pub const DRM_IOCTL_PRIME_HANDLE_TO_FD: libc::c_ulong = iowr::<DrmPrimeHandle>(b'd', 0x2d);

/// Export a GEM handle as a read-write, close-on-exec dma-buf fd.
/// (libgbm's own export gives read-only fds, which cannot be CPU-written.)
pub fn drm_prime_handle_to_fd(drm: BorrowedFd<'_>, handle: u32) -> io::Result<OwnedFd> {
    let mut arg = DrmPrimeHandle {
        handle,
        flags: (libc::O_CLOEXEC | libc::O_RDWR) as u32,
        fd: -1,
    };
    // SAFETY: PRIME_HANDLE_TO_FD reads and writes one `struct drm_prime_handle`.
    unsafe { ioctl_retry(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &mut arg) }?;
    // SAFETY: on success the kernel installed a new fd owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn real_size_of_a_memfd_is_its_length_not_a_claim() {
        let fd = crate::sys::memfd_create(c"zc-size", 4096).unwrap();
        assert_eq!(
            crate::fd_real_size(std::os::fd::AsFd::as_fd(&fd)).unwrap(),
            4096
        );
    }
}
