//! [`DmaBuf::begin_cpu_access`] and its guard [`CpuAccess`]: a bracket on a
//! buffer this crate holds, with the mapping and a per-handle access lock.

use std::fmt;
use std::os::fd::AsFd;
use std::sync::{RwLockReadGuard, RwLockWriteGuard, TryLockError};

use rustix::fs::OFlags;

use super::{Access, DmaBuf, FdBracket, copy_from_shared, copy_to_shared};
use crate::error::{Error, Result};
use crate::sys;

impl DmaBuf {
    /// Begin CPU access: `DMA_BUF_IOCTL_SYNC` START with `access`'s direction.
    /// The returned guard ends it (SYNC END, same direction) when dropped,
    /// whether by normal return, early return or panic.
    ///
    /// Within this handle, reads may overlap each other and a write excludes
    /// everything else; a conflicting request fails at once instead of
    /// deadlocking.
    pub fn begin_cpu_access(&self, access: Access) -> Result<CpuAccess<'_>> {
        if self.access_mode == OFlags::WRONLY {
            return Err(Error::WriteOnlyFd);
        }
        if self.access_mode == OFlags::RDONLY && access.writes() {
            return Err(Error::ReadOnlyFd);
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
        let bracket = FdBracket::begin(self.fd.as_fd(), access, self.is_dma_buf(), &self.brackets)?;
        Ok(CpuAccess {
            buffer: self,
            mapping,
            access,
            bracket,
            _lock: lock,
        })
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
    /// Ends the bracket on drop, before the lock below is released.
    bracket: FdBracket<'a>,
    _lock: AccessLock<'a>,
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
    pub fn end(self) -> Result<()> {
        self.bracket.end()
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::super::tests::memfd_buffer;
    use super::*;
    use crate::BracketStats;

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
}
