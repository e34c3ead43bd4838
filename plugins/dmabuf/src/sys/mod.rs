//! The syscall boundary: kernel UAPI structs, ioctl numbers, and thin wrappers.
//!
//! Every `unsafe` block of the crate that talks to the kernel lives here, each
//! with the reason it is sound. Callers get safe functions over `BorrowedFd`.
//! Plain system calls go through `rustix`, which checks their results; ioctls
//! too, with each UAPI struct naming its one opcode ([`IoctlArg`]), encoded by
//! `rustix::ioctl::opcode` (the `_IOW` / `_IOWR` of `asm-generic/ioctl.h`).

use std::ffi::{CStr, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{FileType, MemfdFlags, OFlags, SeekFrom};
pub use rustix::fs::{SealFlags, Stat};
use rustix::io::Errno;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode, opcode};

mod syncobj;
use rustix::mm::{MapFlags, ProtFlags};
pub use syncobj::*;

// ---- ioctls: one generic call over typed arguments ----

/// A kernel UAPI struct that is the pointer argument of exactly one ioctl.
///
/// # Safety
/// `OPCODE` must be an ioctl that reads and/or writes exactly one `Self`
/// through its pointer argument, as the UAPI header declares, and does
/// nothing else to this process's memory.
pub unsafe trait IoctlArg: Sized {
    const OPCODE: Opcode;
}

/// `T` passed by pointer to `T::OPCODE`; the ioctl's return value is the
/// output (UDMABUF_CREATE returns its new fd that way).
struct ByPointer<'a, T>(&'a mut T);

// SAFETY: `T: IoctlArg` vouches that `T::OPCODE` takes a pointer to one `T`;
// the pointer handed out is to a live, exclusive `T` (`IS_MUTATING`: the
// kernel may write it), and the output is the ioctl's return value, read
// from no pointer.
unsafe impl<T: IoctlArg> Ioctl for ByPointer<'_, T> {
    type Output = IoctlOutput;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        T::OPCODE
    }

    fn as_ptr(&mut self) -> *mut c_void {
        std::ptr::from_mut(self.0).cast()
    }

    unsafe fn output_from_ptr(
        out: IoctlOutput,
        _arg: *mut c_void,
    ) -> rustix::io::Result<IoctlOutput> {
        Ok(out)
    }
}

/// Issue `T`'s ioctl with a pointer to `arg`, retrying on EINTR and EAGAIN
/// (DMA_BUF_IOCTL_SYNC may be interrupted while it waits for fences).
pub fn ioctl_retry<T: IoctlArg>(fd: BorrowedFd<'_>, arg: &mut T) -> io::Result<libc::c_int> {
    loop {
        // SAFETY: `T: IoctlArg` pairs the opcode with its argument type, and
        // `arg` is a live, exclusive reference for the duration of the call.
        match unsafe { rustix::ioctl::ioctl(fd, ByPointer(&mut *arg)) } {
            Ok(ret) => return Ok(ret),
            Err(Errno::INTR | Errno::AGAIN) => continue,
            Err(err) => return Err(err.into()),
        }
    }
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

/// `struct dma_buf_export_sync_file`.
#[repr(C)]
pub struct DmaBufExportSyncFile {
    pub flags: u32,
    pub fd: i32,
}

/// `struct dma_buf_import_sync_file` (the same shape as the export's).
#[repr(C)]
pub struct DmaBufImportSyncFile {
    pub flags: u32,
    pub fd: i32,
}

// SAFETY: DMA_BUF_IOCTL_SYNC is `_IOW('b', 0, struct dma_buf_sync)`.
unsafe impl IoctlArg for DmaBufSync {
    const OPCODE: Opcode = opcode::write::<DmaBufSync>(b'b', 0);
}
/// `DMA_BUF_SET_NAME_B`: the 64-bit spelling of DMA_BUF_SET_NAME (its argument is a pointer).
const DMA_BUF_SET_NAME: Opcode = opcode::write::<u64>(b'b', 1);
// SAFETY: DMA_BUF_IOCTL_EXPORT_SYNC_FILE is
// `_IOWR('b', 2, struct dma_buf_export_sync_file)`.
unsafe impl IoctlArg for DmaBufExportSyncFile {
    const OPCODE: Opcode = opcode::read_write::<DmaBufExportSyncFile>(b'b', 2);
}
// SAFETY: DMA_BUF_IOCTL_IMPORT_SYNC_FILE is
// `_IOW('b', 3, struct dma_buf_import_sync_file)`.
unsafe impl IoctlArg for DmaBufImportSyncFile {
    const OPCODE: Opcode = opcode::write::<DmaBufImportSyncFile>(b'b', 3);
}
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
// SAFETY: DMA_HEAP_IOCTL_ALLOC is `_IOWR('H', 0, struct dma_heap_allocation_data)`.
unsafe impl IoctlArg for DmaHeapAllocationData {
    const OPCODE: Opcode = opcode::read_write::<DmaHeapAllocationData>(b'H', 0);
}

// ---- linux/udmabuf.h ----

#[repr(C)]
pub struct UdmabufCreate {
    pub memfd: u32,
    pub flags: u32,
    pub offset: u64,
    pub size: u64,
}
pub const UDMABUF_FLAGS_CLOEXEC: u32 = 0x01;
// SAFETY: UDMABUF_CREATE is `_IOW('u', 0x42, struct udmabuf_create)`; it
// returns the new fd and writes nothing back.
unsafe impl IoctlArg for UdmabufCreate {
    const OPCODE: Opcode = opcode::write::<UdmabufCreate>(b'u', 0x42);
}

// ---- drm/drm.h: PRIME export ----

#[repr(C)]
pub struct DrmPrimeHandle {
    pub handle: u32,
    pub flags: u32,
    pub fd: i32,
}
// SAFETY: DRM_IOCTL_PRIME_HANDLE_TO_FD is `_IOWR('d', 0x2d, struct drm_prime_handle)`.
unsafe impl IoctlArg for DrmPrimeHandle {
    const OPCODE: Opcode = opcode::read_write::<DrmPrimeHandle>(b'd', 0x2d);
}

/// `DMA_BUF_IOCTL_SYNC`: begin or end a CPU access bracket.
pub fn dma_buf_sync(fd: BorrowedFd<'_>, flags: u64) -> io::Result<()> {
    ioctl_retry(fd, &mut DmaBufSync { flags }).map(drop)
}

/// `DMA_BUF_SET_NAME`: label the buffer in /proc/*/fdinfo and debugfs.
pub fn dma_buf_set_name(fd: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: DMA_BUF_SET_NAME takes a pointer to a NUL-terminated string that
    // the kernel copies (strndup_user) before returning, and writes nothing
    // back; `name` outlives the call.
    unsafe {
        let set_name = rustix::ioctl::IntegerSetter::<DMA_BUF_SET_NAME>::new_pointer(
            name.as_ptr().cast_mut().cast(),
        );
        rustix::ioctl::ioctl(fd, set_name)
    }
    .map_err(io::Error::from)
}

pub fn dma_buf_export_sync_file(fd: BorrowedFd<'_>, flags: u32) -> io::Result<OwnedFd> {
    let mut arg = DmaBufExportSyncFile { flags, fd: -1 };
    ioctl_retry(fd, &mut arg)?;
    // SAFETY: on success the kernel installed a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

pub fn dma_buf_import_sync_file(
    fd: BorrowedFd<'_>,
    flags: u32,
    sync_file: BorrowedFd<'_>,
) -> io::Result<()> {
    // The sync_file fd is borrowed for the duration of the call.
    let mut arg = DmaBufImportSyncFile {
        flags,
        fd: sync_file.as_raw_fd(),
    };
    ioctl_retry(fd, &mut arg).map(drop)
}

pub fn dma_heap_alloc(heap: BorrowedFd<'_>, len: u64) -> io::Result<OwnedFd> {
    let mut data = DmaHeapAllocationData {
        len,
        fd: 0,
        fd_flags: (OFlags::RDWR | OFlags::CLOEXEC).bits(),
        heap_flags: 0,
    };
    ioctl_retry(heap, &mut data)?;
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
    let fd = ioctl_retry(device, &mut create)?;
    // SAFETY: the return value is a new fd owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Export a GEM handle as a read-write, close-on-exec dma-buf fd.
/// (libgbm's own export gives read-only fds, which cannot be CPU-written.)
pub fn drm_prime_handle_to_fd(drm: BorrowedFd<'_>, handle: u32) -> io::Result<OwnedFd> {
    let mut arg = DrmPrimeHandle {
        handle,
        flags: (OFlags::CLOEXEC | OFlags::RDWR).bits(),
        fd: -1,
    };
    ioctl_retry(drm, &mut arg)?;
    // SAFETY: on success the kernel installed a new fd owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

// ---- plain system calls ----

/// A sealable, close-on-exec memfd of `size` bytes.
pub fn memfd_create(name: &CStr, size: u64) -> io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    // Sizes past `off_t` are refused here, as ftruncate(2) would see them negative.
    if i64::try_from(size).is_err() {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    }
    rustix::fs::ftruncate(&fd, size)?;
    Ok(fd)
}

pub fn add_seals(fd: BorrowedFd<'_>, seals: SealFlags) -> io::Result<()> {
    Ok(rustix::fs::fcntl_add_seals(fd, seals)?)
}

/// The size of a dma-buf (or file): `lseek(SEEK_END)`, then back to the start.
/// dma-bufs support exactly these two seeks.
pub fn fd_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let end = rustix::fs::seek(fd, SeekFrom::End(0))?;
    // Back to the start; as before, a failure here is not the caller's concern.
    let _ = rustix::fs::seek(fd, SeekFrom::Start(0));
    Ok(end)
}

/// The real size of an fd's object, as importers see it: `st_size` for
/// regular files (memfds: no seek, so a producer's file position is left
/// alone), else `fd_size` (lseek): what dma-bufs are sure to answer, also on
/// kernels whose anonymous inodes carry no file type or size.
pub fn real_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let stat = fstat(fd)?;
    if file_type(&stat) == FileType::RegularFile && stat.st_size > 0 {
        return u64::try_from(stat.st_size)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData));
    }
    fd_size(fd)
}

/// Whether the fd's real size can no longer shrink: a regular file (memfd)
/// sealed with `F_SEAL_SHRINK` (zc's memfds and every udmabuf's are), or
/// anything else, a dma-buf, whose size is fixed when it is exported. A
/// frame checked against such an fd's size once stays valid.
pub fn size_is_fixed(fd: BorrowedFd<'_>) -> io::Result<bool> {
    if file_type(&fstat(fd)?) != FileType::RegularFile {
        return Ok(true);
    }
    match rustix::fs::fcntl_get_seals(fd) {
        Ok(seals) => Ok(seals.contains(SealFlags::SHRINK)),
        // A file system without seals: nothing stops a shrink.
        Err(Errno::INVAL) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    Ok(rustix::fs::fstat(fd)?)
}

/// The identity of the file behind an fd: (device, inode). Two fds with the
/// same identity are the same buffer (dups, or the same dma-buf passed twice).
pub fn fd_identity(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let stat = fstat(fd)?;
    Ok((stat.st_dev, stat.st_ino))
}

/// Whether the fd was opened read-only (`O_RDONLY`): such an fd cannot be
/// mapped writable, and some importers refuse it.
pub fn fd_is_read_only(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(fd_flags(fd)? & OFlags::ACCMODE == OFlags::RDONLY)
}

/// The kind of file a `stat` describes (regular file, socket, ...).
pub fn file_type(stat: &Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode)
}

/// `fcntl(F_GETFL)`: the fd's access mode and status flags.
pub fn fd_flags(fd: BorrowedFd<'_>) -> io::Result<OFlags> {
    Ok(rustix::fs::fcntl_getfl(fd)?)
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
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: a fresh shared mapping chosen by the kernel (addr NULL); it
        // aliases no Rust object. The fd only needs to live for the call.
        let ptr =
            unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0) }?;
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
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// `poll(POLLIN)` on one fd; `None` waits forever. True when readable.
pub fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    // A timeout too long for `Instant` waits forever.
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    loop {
        // Whole milliseconds, as poll(2) counts them.
        let remaining = deadline.map(|deadline| {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ms = i64::try_from(left.as_millis())
                .unwrap_or(i64::MAX)
                .min(i64::from(i32::MAX));
            Timespec {
                tv_sec: ms / 1000,
                tv_nsec: (ms % 1000) * 1_000_000,
            }
        });
        let mut pfd = [PollFd::new(&fd, PollFlags::IN)];
        let ready = match rustix::event::poll(&mut pfd, remaining.as_ref()) {
            Ok(ready) => ready,
            Err(Errno::INTR) => continue,
            Err(err) => return Err(err.into()),
        };
        let revents = pfd[0].revents();
        if revents.intersects(PollFlags::ERR | PollFlags::NVAL) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "poll reported an error on the fd",
            ));
        }
        return Ok(ready > 0 && revents.contains(PollFlags::IN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The opcodes as the kernel headers spell them (`_IOW('b', 0, ...)` and
    /// so on, worked out for 64-bit Linux): a wrong size or direction would
    /// fail every call with ENOTTY.
    #[test]
    fn opcodes_match_the_uapi_headers() {
        assert_eq!(DmaBufSync::OPCODE, 0x4008_6200);
        assert_eq!(DMA_BUF_SET_NAME, 0x4008_6201);
        assert_eq!(DmaBufExportSyncFile::OPCODE, 0xc008_6202);
        assert_eq!(DmaBufImportSyncFile::OPCODE, 0x4008_6203);
        assert_eq!(DmaHeapAllocationData::OPCODE, 0xc018_4800);
        assert_eq!(UdmabufCreate::OPCODE, 0x4018_7542);
        assert_eq!(DrmPrimeHandle::OPCODE, 0xc00c_642d);
    }

    #[test]
    fn identity_is_the_file_and_read_only_is_the_open_mode() {
        use std::os::fd::{AsFd, AsRawFd};
        let fd = memfd_create(c"zc-identity", 4096).unwrap();
        let dup = fd.try_clone().unwrap();
        let other = memfd_create(c"zc-identity", 4096).unwrap();
        let id = fd_identity(fd.as_fd()).unwrap();
        assert_eq!(fd_identity(dup.as_fd()).unwrap(), id);
        assert_ne!(fd_identity(other.as_fd()).unwrap(), id);
        assert!(!fd_is_read_only(fd.as_fd()).unwrap());
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let read_only: OwnedFd = std::fs::File::open(path).unwrap().into();
        assert!(fd_is_read_only(read_only.as_fd()).unwrap());
        assert_eq!(fd_identity(read_only.as_fd()).unwrap(), id);
    }

    #[test]
    fn real_size_of_a_memfd_is_its_length_not_a_claim() {
        let fd = crate::sys::memfd_create(c"zc-size", 4096).unwrap();
        assert_eq!(
            crate::fd_real_size(std::os::fd::AsFd::as_fd(&fd)).unwrap(),
            4096
        );
    }

    #[test]
    fn a_size_is_fixed_only_once_shrinking_is_sealed() {
        use std::os::fd::AsFd;
        let fd = memfd_create(c"zc-fixed", 4096).unwrap();
        assert!(
            !size_is_fixed(fd.as_fd()).unwrap(),
            "an unsealed memfd can shrink"
        );
        add_seals(fd.as_fd(), SealFlags::GROW).unwrap();
        assert!(
            !size_is_fixed(fd.as_fd()).unwrap(),
            "GROW does not stop a shrink"
        );
        add_seals(fd.as_fd(), SealFlags::SHRINK).unwrap();
        assert!(size_is_fixed(fd.as_fd()).unwrap());
        // And the seal holds: the kernel refuses the shrink.
        assert!(rustix::fs::ftruncate(fd.as_fd(), 1024).is_err());
        let file = tempfile_in_tmp();
        assert!(
            !size_is_fixed(file.as_fd()).unwrap(),
            "a plain file can shrink"
        );
    }

    /// A regular file on /tmp's file system (which may have no seals).
    fn tempfile_in_tmp() -> OwnedFd {
        let path = std::env::temp_dir().join(format!("zc-fixed-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file.into()
    }
}
