//! `DmaBuf`: an owned buffer fd with its size and kind (checked when a
//! foreign fd comes in), and its one persistent mapping.
//!
//! - [`bracket`]: CPU access brackets on any fd ([`Access`], [`FdBracket`],
//!   [`sync_start`] / [`sync_end`], their counts);
//! - [`cpu_access`]: [`DmaBuf::begin_cpu_access`] and its guard [`CpuAccess`];
//! - [`shared_copy`]: copying in and out of memory others may write.

mod bracket;
mod cpu_access;
mod shared_copy;

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{OnceLock, RwLock};

use rustix::fs::{FileType, OFlags};

pub use bracket::{Access, BracketCounter, BracketStats, FdBracket, sync_end, sync_start};
pub use cpu_access::CpuAccess;
pub use shared_copy::{copy_from_shared, copy_to_shared};

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
    access_mode: OFlags,
    /// Created on the first CPU access and kept until drop: mmap is expensive
    /// compared to a bracket, and a frame is accessed many times.
    mapping: OnceLock<sys::RawMapping>,
    /// Readers share, a writer is alone, among brackets on this handle. It
    /// says nothing about other handles to the same memory (a `try_clone`
    /// maps it again), other processes or devices: see [`CpuAccess`].
    access_lock: RwLock<()>,
    /// Brackets begun and ended on this handle.
    brackets: BracketCounter,
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
            access_mode: flags & OFlags::ACCMODE,
            mapping: OnceLock::new(),
            access_lock: RwLock::new(()),
            brackets: BracketCounter::new(),
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
        self.brackets.stats()
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
        let writable = self.access_mode == OFlags::RDWR;
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
}

impl AsFd for DmaBuf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
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
    let what = match sys::file_type(&stat) {
        FileType::RegularFile if target.starts_with("/memfd:") => format!("a memfd ({target})"),
        FileType::RegularFile => format!("a regular file ({target})"),
        FileType::Socket => "a socket".to_owned(),
        FileType::Fifo => "a pipe".to_owned(),
        FileType::CharacterDevice => format!("a character device ({target})"),
        FileType::Directory => format!("a directory ({target})"),
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

    use super::*;
    use crate::alloc::{Allocator, FrameRequest, MemfdAllocator};
    use crate::layout::Fourcc;

    pub(super) fn memfd_buffer(size: u64) -> DmaBuf {
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
}
