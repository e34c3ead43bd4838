//! `DmaBuf`: an owned buffer fd with its size, one persistent mapping, and
//! bracketed CPU access.

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use crate::error::{Error, Result};
use crate::sys;

/// What kind of memory a buffer fd refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BufferKind {
    /// A real dma-buf; `exporter` is the kernel's `exp_name` (e.g. `system`,
    /// `udmabuf`, `drm`, `vb2_vmalloc`) where /proc tells it.
    DmaBuf { exporter: String },
    /// A memfd: shared memory but not a dma-buf. Devices cannot import it;
    /// it serves `wl_shm` and is the last-resort fallback. Brackets on it
    /// skip the ioctl (memfds are CPU-coherent) but are still counted.
    Memfd,
}

impl BufferKind {
    pub fn is_dma_buf(&self) -> bool {
        matches!(self, BufferKind::DmaBuf { .. })
    }

    fn label(&self) -> &'static str {
        match self {
            BufferKind::DmaBuf { .. } => "dma-buf",
            BufferKind::Memfd => "memfd",
        }
    }
}

/// The direction of a CPU access. The same direction is passed to the
/// bracket's start and end (`DMA_BUF_SYNC_READ` / `_WRITE` / both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
}

impl Access {
    pub(crate) fn sync_flags(self) -> u64 {
        match self {
            Access::Read => sys::DMA_BUF_SYNC_READ,
            Access::Write => sys::DMA_BUF_SYNC_WRITE,
            Access::ReadWrite => sys::DMA_BUF_SYNC_READ | sys::DMA_BUF_SYNC_WRITE,
        }
    }

    pub fn writes(self) -> bool {
        !matches!(self, Access::Read)
    }
}

/// Counts of CPU access brackets on one handle: `begun - ended` is the number
/// open right now, which is what tests and the thumbnail element check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BracketStats {
    pub begun: u64,
    pub ended: u64,
}

/// An owned buffer fd: a dma-buf, or (flagged as such) a memfd.
///
/// Share a `DmaBuf` with `Arc`, or give another party its own fd with
/// [`DmaBuf::try_clone`] (a `dup`); never copy the raw fd number. The kernel
/// keeps the memory alive while any fd to it is open, wherever that fd is.
pub struct DmaBuf {
    fd: OwnedFd,
    size: u64,
    kind: BufferKind,
    /// `O_RDONLY`, `O_WRONLY` or `O_RDWR`: what the fd allows us to map.
    access_mode: libc::c_int,
    /// Created on the first CPU access and kept until drop: mmap is expensive
    /// compared to a bracket, and a frame is accessed many times.
    mapping: OnceLock<sys::RawMapping>,
    /// Readers share, a writer is alone: this makes the `&[u8]`/`&mut [u8]`
    /// handed out by brackets on this handle sound within the process.
    access_lock: RwLock<()>,
    begun: AtomicU64,
    ended: AtomicU64,
}

impl fmt::Debug for DmaBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DmaBuf")
            .field("fd", &self.fd.as_raw_fd())
            .field("size", &self.size)
            .field("kind", &self.kind)
            .finish()
    }
}

impl DmaBuf {
    /// Take ownership of a foreign fd after checking that it is a dma-buf.
    /// Plain files, memfds, sockets and device nodes are refused with an
    /// error that says what the fd is.
    pub fn from_fd(fd: OwnedFd) -> Result<Self> {
        let exporter = dma_buf_exporter(fd.as_fd())?;
        Self::wrap(fd, BufferKind::DmaBuf { exporter })
    }

    /// Wrap an fd this crate just created (its kind is known).
    pub(crate) fn wrap(fd: OwnedFd, kind: BufferKind) -> Result<Self> {
        let size = sys::fd_size(fd.as_fd()).map_err(|source| Error::Buffer {
            what: "lseek(SEEK_END)",
            kind: kind.label(),
            source,
        })?;
        let flags = sys::fd_flags(fd.as_fd()).map_err(|source| Error::Buffer {
            what: "fcntl(F_GETFL)",
            kind: kind.label(),
            source,
        })?;
        Ok(Self {
            fd,
            size,
            kind,
            access_mode: flags & libc::O_ACCMODE,
            mapping: OnceLock::new(),
            access_lock: RwLock::new(()),
            begun: AtomicU64::new(0),
            ended: AtomicU64::new(0),
        })
    }

    /// Wrap a memfd (no dma-buf check: it is known not to be one).
    pub fn from_memfd(fd: OwnedFd) -> Result<Self> {
        Self::wrap(fd, BufferKind::Memfd)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn kind(&self) -> &BufferKind {
        &self.kind
    }

    pub fn is_dma_buf(&self) -> bool {
        self.kind.is_dma_buf()
    }

    /// A second, independent handle: a `dup` of the fd with its own mapping.
    /// This is how an fd is given to another party (a compositor, Vulkan).
    pub fn try_clone(&self) -> Result<Self> {
        let fd = self.fd.try_clone().map_err(|source| Error::Buffer {
            what: "dup",
            kind: self.kind.label(),
            source,
        })?;
        Self::wrap(fd, self.kind.clone())
    }

    /// Give up the handle and keep the fd (to hand it to GStreamer, say, which
    /// closes it itself). The mapping, if any, is unmapped.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Label the buffer for debugging (`/proc/<pid>/fdinfo`, debugfs). Names
    /// longer than the kernel's 31 bytes are cut. No-op on memfds.
    pub fn set_name(&self, name: &str) -> Result<()> {
        if !self.is_dma_buf() {
            return Ok(());
        }
        let mut bytes: Vec<u8> = name
            .bytes()
            .filter(|b| *b != 0)
            .take(sys::DMA_BUF_NAME_LEN - 1)
            .collect();
        // Never cut a UTF-8 sequence in half.
        while std::str::from_utf8(&bytes).is_err() {
            bytes.pop();
        }
        let name = CString::new(bytes).map_err(|_| Error::AccessConflict("name contains NUL"))?;
        sys::dma_buf_set_name(self.fd.as_fd(), &name).map_err(|source| Error::Buffer {
            what: "DMA_BUF_SET_NAME",
            kind: self.kind.label(),
            source,
        })
    }

    /// Counts of CPU access brackets begun and ended on this handle.
    pub fn bracket_stats(&self) -> BracketStats {
        BracketStats {
            begun: self.begun.load(Ordering::Acquire),
            ended: self.ended.load(Ordering::Acquire),
        }
    }

    fn mapping(&self) -> Result<&sys::RawMapping> {
        if let Some(mapping) = self.mapping.get() {
            return Ok(mapping);
        }
        let len = usize::try_from(self.size).map_err(|_| Error::Buffer {
            what: "mmap",
            kind: self.kind.label(),
            source: std::io::Error::from_raw_os_error(libc::EFBIG),
        })?;
        let writable = self.access_mode == libc::O_RDWR;
        let mapping = sys::RawMapping::new(self.fd.as_fd(), len, writable).map_err(|source| {
            Error::Buffer {
                what: "mmap",
                kind: self.kind.label(),
                source,
            }
        })?;
        // Two threads may race to map; the loser's mapping is simply unmapped.
        Ok(self.mapping.get_or_init(|| mapping))
    }

    /// Begin CPU access: `DMA_BUF_IOCTL_SYNC` START with `access`'s direction.
    /// The returned guard ends it (SYNC END, same direction) when dropped,
    /// whether by normal return, early return or panic.
    ///
    /// Within this handle, reads may overlap each other and a write excludes
    /// everything else; a conflicting request fails at once instead of
    /// deadlocking.
    pub fn begin_cpu_access(&self, access: Access) -> Result<CpuAccess<'_>> {
        match self.access_mode {
            libc::O_WRONLY => return Err(Error::WriteOnlyFd),
            libc::O_RDONLY if access.writes() => return Err(Error::ReadOnlyFd),
            _ => {}
        }
        let mapping = self.mapping()?;
        let lock = if access.writes() {
            match self.access_lock.try_write() {
                Ok(guard) => AccessLock::Write(guard),
                // Poisoning only says a panic happened inside an earlier
                // bracket; that bracket was still ended by its guard.
                Err(TryLockError::Poisoned(poisoned)) => AccessLock::Write(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::AccessConflict(
                        "another CPU access on this handle is open",
                    ));
                }
            }
        } else {
            match self.access_lock.try_read() {
                Ok(guard) => AccessLock::Read(guard),
                Err(TryLockError::Poisoned(poisoned)) => AccessLock::Read(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::AccessConflict(
                        "a CPU write access on this handle is open",
                    ));
                }
            }
        };
        if self.is_dma_buf() {
            sys::dma_buf_sync(
                self.fd.as_fd(),
                sys::DMA_BUF_SYNC_START | access.sync_flags(),
            )
            .map_err(|source| Error::Buffer {
                what: "DMA_BUF_IOCTL_SYNC(START)",
                kind: self.kind.label(),
                source,
            })?;
        }
        self.begun.fetch_add(1, Ordering::AcqRel);
        Ok(CpuAccess {
            buffer: self,
            mapping,
            access,
            _lock: lock,
            ended: false,
        })
    }
}

impl AsFd for DmaBuf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

enum AccessLock<'a> {
    Read(#[allow(dead_code)] RwLockReadGuard<'a, ()>),
    Write(#[allow(dead_code)] RwLockWriteGuard<'a, ()>),
}

/// An open CPU access bracket. The mapping may be touched only through this
/// guard; dropping it issues `DMA_BUF_SYNC_END` with the same direction.
pub struct CpuAccess<'a> {
    buffer: &'a DmaBuf,
    mapping: &'a sys::RawMapping,
    access: Access,
    _lock: AccessLock<'a>,
    ended: bool,
}

impl fmt::Debug for CpuAccess<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CpuAccess")
            .field("buffer", self.buffer)
            .field("access", &self.access)
            .finish()
    }
}

impl CpuAccess<'_> {
    pub fn access(&self) -> Access {
        self.access
    }

    /// The whole buffer, readable.
    pub fn data(&self) -> &[u8] {
        // SAFETY: the mapping is `len` bytes, lives as long as the buffer
        // (which outlives this guard), and while this guard holds the access
        // lock no `&mut` to it exists in this process.
        unsafe { std::slice::from_raw_parts(self.mapping.as_ptr(), self.mapping.len()) }
    }

    /// The whole buffer, writable; only for brackets opened with a write direction.
    pub fn data_mut(&mut self) -> Result<&mut [u8]> {
        if !self.access.writes() {
            return Err(Error::ReadBracket);
        }
        // SAFETY: as in `data`; a write bracket holds the access lock
        // exclusively, and `&mut self` makes this the only live slice of it.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.mapping.as_ptr(), self.mapping.len()) })
    }

    /// End the bracket now and report whether SYNC END succeeded (dropping the
    /// guard ends it too, but can only log a failure).
    pub fn end(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        // Counted before the ioctl: the bracket is over from our side even if
        // the kernel reports an error ending it.
        self.buffer.ended.fetch_add(1, Ordering::AcqRel);
        if self.buffer.is_dma_buf() {
            sys::dma_buf_sync(
                self.buffer.fd.as_fd(),
                sys::DMA_BUF_SYNC_END | self.access.sync_flags(),
            )
            .map_err(|source| Error::Buffer {
                what: "DMA_BUF_IOCTL_SYNC(END)",
                kind: self.buffer.kind.label(),
                source,
            })?;
        }
        Ok(())
    }
}

impl Drop for CpuAccess<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.finish() {
            log::error!("ending a CPU access bracket: {err}");
        }
    }
}

/// Begin a CPU access bracket on a dma-buf someone else owns, where the end
/// comes from a different callback than the begin (GstVideoMeta's map and
/// unmap), so no guard can span it. Every `sync_start` needs its `sync_end`
/// with the same `access`; everywhere else use [`DmaBuf::begin_cpu_access`].
pub fn sync_start(fd: BorrowedFd<'_>, access: Access) -> Result<()> {
    sys::dma_buf_sync(fd, sys::DMA_BUF_SYNC_START | access.sync_flags()).map_err(|source| {
        Error::Buffer {
            what: "DMA_BUF_IOCTL_SYNC(START)",
            kind: "dma-buf",
            source,
        }
    })
}

/// End a bracket begun with [`sync_start`].
pub fn sync_end(fd: BorrowedFd<'_>, access: Access) -> Result<()> {
    sys::dma_buf_sync(fd, sys::DMA_BUF_SYNC_END | access.sync_flags()).map_err(|source| {
        Error::Buffer {
            what: "DMA_BUF_IOCTL_SYNC(END)",
            kind: "dma-buf",
            source,
        }
    })
}

/// Counts of brackets begun and ended through [`FdBracket`]s that share it:
/// one per element or job, so "every begin has its end" can be checked from
/// outside ([`BracketCounter::stats`]).
#[derive(Debug, Default)]
pub struct BracketCounter {
    begun: AtomicU64,
    ended: AtomicU64,
}

impl BracketCounter {
    pub const fn new() -> Self {
        Self {
            begun: AtomicU64::new(0),
            ended: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> BracketStats {
        BracketStats {
            begun: self.begun.load(Ordering::Acquire),
            ended: self.ended.load(Ordering::Acquire),
        }
    }

    /// Start counting from zero again (only while no bracket is open).
    pub fn reset(&self) {
        self.begun.store(0, Ordering::Release);
        self.ended.store(0, Ordering::Release);
    }
}

/// An open CPU access bracket on an fd someone else owns (a GstMemory's, a
/// V4L2 driver's), for code that maps the memory through its owner but must
/// still bracket the access itself. Dropping the guard ends the bracket
/// (SYNC END with the same direction), so early returns and panics end it too.
///
/// `is_dma_buf == false` is for memfds and other CPU-coherent fds: like
/// [`DmaBuf::begin_cpu_access`] on a memfd, the ioctl is skipped (it would
/// fail with ENOTTY) but the bracket is still counted.
pub struct FdBracket<'a> {
    fd: BorrowedFd<'a>,
    access: Access,
    is_dma_buf: bool,
    counter: &'a BracketCounter,
    ended: bool,
}

impl fmt::Debug for FdBracket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdBracket")
            .field("fd", &self.fd.as_raw_fd())
            .field("access", &self.access)
            .field("is_dma_buf", &self.is_dma_buf)
            .finish()
    }
}

impl<'a> FdBracket<'a> {
    /// Begin: SYNC START with `access` on a dma-buf; counted in `counter`
    /// only if it succeeded (a failed begin needs no end).
    pub fn begin(
        fd: BorrowedFd<'a>,
        access: Access,
        is_dma_buf: bool,
        counter: &'a BracketCounter,
    ) -> Result<Self> {
        if is_dma_buf {
            sync_start(fd, access)?;
        }
        counter.begun.fetch_add(1, Ordering::AcqRel);
        Ok(Self {
            fd,
            access,
            is_dma_buf,
            counter,
            ended: false,
        })
    }

    /// End now and report whether SYNC END succeeded (drop only logs).
    pub fn end(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        // Over from our side even if the kernel reports an error ending it.
        self.counter.ended.fetch_add(1, Ordering::AcqRel);
        if self.is_dma_buf {
            sync_end(self.fd, self.access)
        } else {
            Ok(())
        }
    }
}

impl Drop for FdBracket<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.finish() {
            log::error!(
                "ending a CPU access bracket on fd {}: {err}",
                self.fd.as_raw_fd()
            );
        }
    }
}

/// The exporter name of a dma-buf fd, or an error saying what the fd is instead.
fn dma_buf_exporter(fd: BorrowedFd<'_>) -> Result<String> {
    let raw = fd.as_raw_fd();
    let not_a_dma_buf = |what: String| Error::NotADmaBuf { fd: raw, what };
    let stat = sys::fstat(fd).map_err(|source| Error::Buffer {
        what: "fstat",
        kind: "foreign",
        source,
    })?;
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{raw}")).unwrap_or_default();
    // The kernel's dma_buf_show_fdinfo() prints `exp_name:` for dma-buf files only.
    if let Some(exporter) = fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("exp_name:"))
    {
        return Ok(exporter.trim().to_owned());
    }
    let target = std::fs::read_link(format!("/proc/self/fd/{raw}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let what = match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG if target.starts_with("/memfd:") => format!("a memfd ({target})"),
        libc::S_IFREG => format!("a regular file ({target})"),
        libc::S_IFSOCK => "a socket".to_owned(),
        libc::S_IFIFO => "a pipe".to_owned(),
        libc::S_IFCHR => format!("a character device ({target})"),
        libc::S_IFDIR => format!("a directory ({target})"),
        _ if fdinfo.is_empty() => {
            "unknown (/proc is not mounted, so it cannot be checked)".to_owned()
        }
        _ => format!("an fd of another kind ({target})"),
    };
    Err(not_a_dma_buf(what))
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::alloc::{Allocator, FrameRequest, MemfdAllocator};
    use crate::layout::Fourcc;

    fn memfd_buffer(size: u64) -> DmaBuf {
        let fd = sys::memfd_create(c"zc-test", size).expect("memfd_create");
        DmaBuf::from_memfd(fd).expect("wrap memfd")
    }

    #[test]
    fn memfd_round_trip_through_a_second_mapping() {
        let frame = MemfdAllocator
            .allocate(&FrameRequest::new(Fourcc::NV12, 1920, 1080))
            .expect("allocate");
        let writer = &frame.buffers[0];
        assert_eq!(writer.kind(), &BufferKind::Memfd);
        assert_eq!(writer.size(), frame.layout.buffer_size());
        {
            let mut access = writer.begin_cpu_access(Access::Write).expect("begin write");
            for (i, byte) in access.data_mut().expect("writable").iter_mut().enumerate() {
                *byte = (i % 251) as u8;
            }
        }
        // A dup'd fd gets its own mapping: the bytes must come from the shared
        // pages, not from the first mapping.
        let reader = writer.try_clone().expect("dup");
        let access = reader.begin_cpu_access(Access::Read).expect("begin read");
        assert_ne!(
            access.data().as_ptr(),
            writer.mapping().expect("mapped").as_ptr() as *const u8
        );
        assert!(
            access
                .data()
                .iter()
                .enumerate()
                .all(|(i, b)| *b == (i % 251) as u8)
        );
    }

    #[test]
    fn mapping_is_created_once_and_reused() {
        let buffer = memfd_buffer(8192);
        let first = buffer
            .begin_cpu_access(Access::Read)
            .expect("begin")
            .data()
            .as_ptr();
        let second = buffer
            .begin_cpu_access(Access::Read)
            .expect("begin")
            .data()
            .as_ptr();
        assert_eq!(first, second);
    }

    fn fails_halfway(buffer: &DmaBuf) -> Result<()> {
        let _access = buffer.begin_cpu_access(Access::ReadWrite)?;
        Err(Error::AccessConflict("simulated failure after begin"))?;
        unreachable!("the early return above always happens")
    }

    #[test]
    fn guard_ends_access_on_early_return() {
        let buffer = memfd_buffer(4096);
        assert!(fails_halfway(&buffer).is_err());
        assert_eq!(buffer.bracket_stats(), BracketStats { begun: 1, ended: 1 });
        // The lock was released too: a new write bracket opens.
        assert!(buffer.begin_cpu_access(Access::Write).is_ok());
        assert_eq!(buffer.bracket_stats(), BracketStats { begun: 2, ended: 2 });
    }

    #[test]
    fn guard_ends_access_on_panic() {
        let buffer = memfd_buffer(4096);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut access = buffer.begin_cpu_access(Access::Write).expect("begin");
            access.data_mut().expect("writable")[0] = 1;
            panic!("decoder crashed mid-frame");
        }));
        assert!(result.is_err());
        assert_eq!(buffer.bracket_stats(), BracketStats { begun: 1, ended: 1 });
        let access = buffer
            .begin_cpu_access(Access::Read)
            .expect("usable after a panic");
        assert_eq!(access.data()[0], 1);
    }

    #[test]
    fn explicit_end_is_counted_once() {
        let buffer = memfd_buffer(4096);
        buffer
            .begin_cpu_access(Access::Read)
            .expect("begin")
            .end()
            .expect("end");
        assert_eq!(buffer.bracket_stats(), BracketStats { begun: 1, ended: 1 });
    }

    #[test]
    fn conflicting_accesses_fail_instead_of_aliasing() {
        let buffer = memfd_buffer(4096);
        let read_a = buffer.begin_cpu_access(Access::Read).expect("first reader");
        let read_b = buffer
            .begin_cpu_access(Access::Read)
            .expect("readers share");
        assert!(matches!(
            buffer.begin_cpu_access(Access::Write),
            Err(Error::AccessConflict(_))
        ));
        drop((read_a, read_b));
        let write = buffer
            .begin_cpu_access(Access::Write)
            .expect("writer once readers are gone");
        assert!(matches!(
            buffer.begin_cpu_access(Access::Read),
            Err(Error::AccessConflict(_))
        ));
        drop(write);
        let stats = buffer.bracket_stats();
        assert_eq!(stats.begun, stats.ended);
    }

    #[test]
    fn read_bracket_gives_no_mutable_data() {
        let buffer = memfd_buffer(4096);
        let mut access = buffer.begin_cpu_access(Access::Read).expect("begin");
        assert!(matches!(access.data_mut(), Err(Error::ReadBracket)));
    }

    #[test]
    fn read_only_fd_refuses_write_access() {
        let buffer = memfd_buffer(4096);
        let path = format!("/proc/self/fd/{}", buffer.as_fd().as_raw_fd());
        let read_only: OwnedFd = std::fs::File::open(path).expect("reopen read-only").into();
        let read_only = DmaBuf::from_memfd(read_only).expect("wrap");
        assert!(matches!(
            read_only.begin_cpu_access(Access::Write),
            Err(Error::ReadOnlyFd)
        ));
        assert!(read_only.begin_cpu_access(Access::Read).is_ok());
    }

    #[test]
    fn write_only_fd_refuses_any_access_with_a_reason() {
        let buffer = memfd_buffer(4096);
        let path = format!("/proc/self/fd/{}", buffer.as_fd().as_raw_fd());
        let write_only: OwnedFd = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("reopen write-only")
            .into();
        let write_only = DmaBuf::from_memfd(write_only).expect("wrap");
        let err = write_only
            .begin_cpu_access(Access::Read)
            .expect_err("no mapping of a write-only fd");
        assert!(matches!(err, Error::WriteOnlyFd), "{err:?}");
        assert!(err.to_string().contains("O_WRONLY"));
    }

    #[test]
    fn from_fd_rejects_what_is_not_a_dma_buf() {
        let check = |fd: OwnedFd, expected: &str| match DmaBuf::from_fd(fd) {
            Err(Error::NotADmaBuf { what, .. }) => {
                assert!(what.contains(expected), "`{what}` should say `{expected}`")
            }
            other => panic!("expected NotADmaBuf({expected}), got {other:?}"),
        };
        check(
            sys::memfd_create(c"not-a-dmabuf", 4096).expect("memfd"),
            "memfd",
        );
        check(
            std::fs::File::open("/proc/self/status")
                .expect("file")
                .into(),
            "regular file",
        );
        let (a, _b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        check(a.into(), "socket");
        check(
            std::fs::File::open("/dev/null").expect("/dev/null").into(),
            "character device",
        );
        let message = DmaBuf::from_fd(std::fs::File::open("/dev/null").expect("/dev/null").into())
            .expect_err("rejected")
            .to_string();
        assert!(message.contains("is not a dma-buf"), "{message}");
    }

    #[test]
    fn set_name_is_a_no_op_on_memfd() {
        memfd_buffer(4096)
            .set_name("zc NV12 1920x1080 with a very long name")
            .expect("no-op");
    }

    #[test]
    fn fd_bracket_counts_begin_and_end_also_on_early_return() {
        let buffer = memfd_buffer(4096);
        let counter = BracketCounter::new();
        let read = |fail: bool| -> Result<u8> {
            let _bracket = FdBracket::begin(buffer.as_fd(), Access::Read, false, &counter)?;
            if fail {
                return Err(Error::AccessConflict(
                    "simulated failure inside the bracket",
                ));
            }
            Ok(1)
        };
        assert!(read(false).is_ok());
        assert!(read(true).is_err());
        assert_eq!(counter.stats(), BracketStats { begun: 2, ended: 2 });
        FdBracket::begin(buffer.as_fd(), Access::Read, false, &counter)
            .expect("begin")
            .end()
            .expect("end");
        assert_eq!(counter.stats(), BracketStats { begun: 3, ended: 3 });
        counter.reset();
        assert_eq!(counter.stats(), BracketStats::default());
    }

    #[test]
    fn fd_bracket_on_a_non_dma_buf_fd_fails_to_begin_and_counts_nothing() {
        // A memfd claimed to be a dma-buf: SYNC START fails (ENOTTY), so there
        // is no bracket to end and none is counted.
        let buffer = memfd_buffer(4096);
        let counter = BracketCounter::new();
        let err =
            FdBracket::begin(buffer.as_fd(), Access::Read, true, &counter).expect_err("ENOTTY");
        assert!(
            err.to_string().contains("DMA_BUF_IOCTL_SYNC(START)"),
            "{err}"
        );
        assert_eq!(counter.stats(), BracketStats::default());
    }
}
