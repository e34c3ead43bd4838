//! CPU access brackets on any fd: the direction ([`Access`]), the
//! `DMA_BUF_IOCTL_SYNC` START/END pair ([`sync_start`], [`sync_end`]), the
//! guard for fds someone else owns ([`FdBracket`]) and the counts
//! ([`BracketStats`], [`BracketCounter`]).

use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::sys;

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

/// Begin a CPU access bracket on a dma-buf someone else owns, where the end
/// comes from a different callback than the begin (GstVideoMeta's map and
/// unmap), so no guard can span it. Every `sync_start` needs its `sync_end`
/// with the same `access`; everywhere else use [`super::DmaBuf::begin_cpu_access`].
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
/// [`super::CpuAccess`] ends its brackets with one of these as well.
///
/// `is_dma_buf == false` is for memfds and other CPU-coherent fds: as with
/// [`super::DmaBuf::begin_cpu_access`] on a memfd, the ioctl is skipped (it
/// would fail with ENOTTY) but the bracket is still counted.
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

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::super::tests::memfd_buffer;
    use super::*;

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
