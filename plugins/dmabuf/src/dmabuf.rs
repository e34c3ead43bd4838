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
    /// Readers share, a writer is alone, among brackets on this handle. It
    /// says nothing about other handles to the same memory (a `try_clone`
    /// maps it again), other processes or devices: see [`CpuAccess`].
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
///
/// # What it hands out, and why
///
/// A dma-buf is shared memory: another handle to it in this process (each
/// [`DmaBuf::try_clone`] maps it again, under its own lock), another process
/// (a compositor, a decoder) or a device may write it while this bracket is
/// open. The bracket orders caches, not other writers. A `&[u8]` over such
/// memory promises the compiler that nothing changes it while the slice
/// lives, and a `&mut [u8]` that nothing else reads or writes it; zc cannot
/// keep either promise for memory it does not exclusively hold. So the safe
/// accessors are raw:
///
/// - [`CpuAccess::read_into`] / [`CpuAccess::write_from`] (and
///   [`CpuAccess::to_vec`]) copy with volatile accesses, so a concurrent
///   writer can at worst produce torn bytes, never undefined behaviour;
/// - [`CpuAccess::as_ptr`] / [`CpuAccess::as_mut_ptr`] and
///   [`CpuAccess::len`] for code that does its own raw access.
///
/// The slice accessors [`CpuAccess::data`] and [`CpuAccess::data_mut`] are
/// `unsafe`: their caller vouches for exclusivity, which holds for a frame
/// zc allocated and has not shared (no `try_clone`, no fd handed out or
/// imported, no other mapping) for as long as the slice lives.
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

    /// The mapping's length in bytes (the whole buffer).
    pub fn len(&self) -> usize {
        self.mapping.len()
    }

    /// Always false: a zero-sized buffer is never mapped.
    pub fn is_empty(&self) -> bool {
        self.mapping.len() == 0
    }

    /// The start of the mapping, valid for [`CpuAccess::len`] bytes while
    /// this guard lives. Others may write the memory at any time (see
    /// [`CpuAccess`]): read it only through raw pointers, never as a slice.
    pub fn as_ptr(&self) -> *const u8 {
        self.mapping.as_ptr()
    }

    /// As [`CpuAccess::as_ptr`], writable; only for brackets opened with a
    /// write direction.
    pub fn as_mut_ptr(&mut self) -> Result<*mut u8> {
        if !self.access.writes() {
            return Err(Error::ReadBracket);
        }
        Ok(self.mapping.as_ptr())
    }

    /// Copy `dst.len()` bytes starting at `offset` out of the buffer. Sound
    /// whoever else writes the memory meanwhile (the bytes may then be torn).
    pub fn read_into(&self, offset: usize, dst: &mut [u8]) -> Result<()> {
        self.check_range(offset, dst.len())?;
        // SAFETY: `offset..offset + dst.len()` lies inside the mapping
        // (checked above), which stays mapped while `self` borrows it.
        unsafe { copy_from_shared(self.mapping.as_ptr().add(offset), dst) };
        Ok(())
    }

    /// The whole buffer, copied (see [`CpuAccess::read_into`]).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.mapping.len()];
        // SAFETY: the whole mapping, which stays mapped while `self` borrows it.
        unsafe { copy_from_shared(self.mapping.as_ptr(), &mut out) };
        out
    }

    /// Copy `src` into the buffer at `offset`; only for brackets opened with
    /// a write direction. Sound whoever else touches the memory meanwhile.
    pub fn write_from(&mut self, offset: usize, src: &[u8]) -> Result<()> {
        if !self.access.writes() {
            return Err(Error::ReadBracket);
        }
        self.check_range(offset, src.len())?;
        // SAFETY: the range lies inside the mapping (checked above), which is
        // writable (a write bracket needs an O_RDWR fd, mapped PROT_WRITE) and
        // stays mapped while `self` borrows it.
        unsafe { copy_to_shared(src, self.mapping.as_ptr().add(offset)) };
        Ok(())
    }

    fn check_range(&self, offset: usize, len: usize) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.mapping.len() => Ok(()),
            _ => Err(Error::OutOfRange {
                offset,
                len,
                size: self.mapping.len(),
            }),
        }
    }

    /// The whole buffer as a slice.
    ///
    /// # Safety
    /// Nothing may write the buffer while the slice lives: no other handle
    /// or mapping of it in this process, no other process, no device. zc can
    /// promise that only for a frame it allocated and has not shared (see
    /// [`CpuAccess`]); otherwise use [`CpuAccess::read_into`].
    pub unsafe fn data(&self) -> &[u8] {
        // SAFETY: the mapping is `len` bytes and lives as long as the buffer
        // (which outlives this guard); this guard's access lock keeps `&mut`
        // slices of this handle away, and the caller vouches for the rest.
        unsafe { std::slice::from_raw_parts(self.mapping.as_ptr(), self.mapping.len()) }
    }

    /// The whole buffer as a mutable slice; only for brackets opened with a
    /// write direction.
    ///
    /// # Safety
    /// Nothing else may read or write the buffer while the slice lives (as
    /// for [`CpuAccess::data`]); otherwise use [`CpuAccess::write_from`].
    pub unsafe fn data_mut(&mut self) -> Result<&mut [u8]> {
        if !self.access.writes() {
            return Err(Error::ReadBracket);
        }
        // SAFETY: as in `data`; a write bracket holds this handle's access
        // lock exclusively, `&mut self` makes this the only live slice of
        // it, and the caller vouches for everyone else.
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

const WORD: usize = std::mem::size_of::<u64>();

/// Copy `dst.len()` bytes from shared memory at `src` with volatile reads
/// (aligned words in the middle), so a concurrent writer in another process
/// or a device cannot make the copy undefined behaviour; bytes may be torn.
///
/// # Safety
/// `src` must be valid for reads of `dst.len()` bytes for the whole call,
/// and must not overlap `dst`.
pub unsafe fn copy_from_shared(src: *const u8, dst: &mut [u8]) {
    let len = dst.len();
    let mut i = 0;
    while i < len && !(src as usize).wrapping_add(i).is_multiple_of(WORD) {
        // SAFETY: `i < len`, inside the caller's range.
        dst[i] = unsafe { src.add(i).read_volatile() };
        i += 1;
    }
    while len - i >= WORD {
        // SAFETY: `i + WORD <= len`, and `src + i` is word-aligned (above).
        let word = unsafe { src.add(i).cast::<u64>().read_volatile() };
        dst[i..i + WORD].copy_from_slice(&word.to_ne_bytes());
        i += WORD;
    }
    while i < len {
        // SAFETY: `i < len`.
        dst[i] = unsafe { src.add(i).read_volatile() };
        i += 1;
    }
}

/// Copy `src` into shared memory at `dst` with volatile writes (the mirror
/// of [`copy_from_shared`]).
///
/// # Safety
/// `dst` must be valid for writes of `src.len()` bytes for the whole call,
/// and must not overlap `src`.
pub unsafe fn copy_to_shared(src: &[u8], dst: *mut u8) {
    let len = src.len();
    let mut i = 0;
    while i < len && !(dst as usize).wrapping_add(i).is_multiple_of(WORD) {
        // SAFETY: `i < len`, inside the caller's range.
        unsafe { dst.add(i).write_volatile(src[i]) };
        i += 1;
    }
    while len - i >= WORD {
        let mut word = [0u8; WORD];
        word.copy_from_slice(&src[i..i + WORD]);
        // SAFETY: `i + WORD <= len`, and `dst + i` is word-aligned (above).
        unsafe {
            dst.add(i)
                .cast::<u64>()
                .write_volatile(u64::from_ne_bytes(word))
        };
        i += WORD;
    }
    while i < len {
        // SAFETY: `i < len`.
        unsafe { dst.add(i).write_volatile(src[i]) };
        i += 1;
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
            let pattern: Vec<u8> = (0..access.len()).map(|i| (i % 251) as u8).collect();
            access.write_from(0, &pattern).expect("write");
        }
        // A dup'd fd gets its own mapping: the bytes must come from the shared
        // pages, not from the first mapping.
        let reader = writer.try_clone().expect("dup");
        let access = reader.begin_cpu_access(Access::Read).expect("begin read");
        assert_ne!(
            access.as_ptr(),
            writer.mapping().expect("mapped").as_ptr() as *const u8
        );
        assert!(
            access
                .to_vec()
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
            .as_ptr();
        let second = buffer
            .begin_cpu_access(Access::Read)
            .expect("begin")
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
            access.write_from(0, &[1]).expect("write");
            panic!("decoder crashed mid-frame");
        }));
        assert!(result.is_err());
        assert_eq!(buffer.bracket_stats(), BracketStats { begun: 1, ended: 1 });
        let access = buffer
            .begin_cpu_access(Access::Read)
            .expect("usable after a panic");
        let mut first = [0u8; 1];
        access.read_into(0, &mut first).expect("read");
        assert_eq!(first, [1]);
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
        assert!(matches!(access.as_mut_ptr(), Err(Error::ReadBracket)));
        assert!(matches!(
            access.write_from(0, &[1]),
            Err(Error::ReadBracket)
        ));
    }

    #[test]
    fn copies_are_bounds_checked_and_exact_at_any_alignment() {
        let buffer = memfd_buffer(4096);
        let mut access = buffer.begin_cpu_access(Access::ReadWrite).expect("begin");
        let src: Vec<u8> = (0..100u8).collect();
        for offset in [0, 1, 3, 7, 8, 13, 4096 - 100] {
            access.write_from(offset, &src).expect("write");
            let mut back = vec![0u8; src.len()];
            access.read_into(offset, &mut back).expect("read");
            assert_eq!(back, src, "offset {offset}");
        }
        let mut one = [0u8; 1];
        assert!(matches!(
            access.read_into(4096, &mut one),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(
            access.write_from(usize::MAX, &[1]),
            Err(Error::OutOfRange { .. })
        ));
        assert_eq!(access.to_vec().len(), 4096);
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
