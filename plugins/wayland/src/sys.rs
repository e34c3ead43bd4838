//! The system calls the Wayland layer makes itself (clock, memfd, eventfd,
//! poll, pread), through `rustix`, except the clock (libc, see [`clock_ns`]). The pointers handed
//! over by embedding applications are turned into proxies where they are
//! used (`presenter/connection.rs`, `presenter/window.rs`).

use std::ffi::CStr;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{EventfdFlags, PollFd, PollFlags};
use rustix::fs::MemfdFlags;
use smallvec::SmallVec;

/// The time on `clock` in nanoseconds; 0 for a clock the kernel does not know.
///
/// Through libc, not rustix: rustix reads the vDSO itself, and under
/// valgrind (zc-bench's instruction counts) that read faults
/// (bytecodealliance/rustix#1559); libc's `clock_gettime` works in both.
pub(crate) fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the
    // call; an unknown clock id makes the call fail with EINVAL, nothing else.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A close-on-exec memfd of `size` zero bytes.
pub(crate) fn memfd_with_zeros(name: &CStr, size: u64) -> io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC)?;
    rustix::fs::ftruncate(&fd, size)?;
    Ok(fd)
}

/// A non-blocking, close-on-exec eventfd, for waking a poll.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    Ok(rustix::event::eventfd(
        0,
        EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK,
    )?)
}

/// Make an eventfd readable (add 1 to its counter).
pub(crate) fn eventfd_signal(fd: BorrowedFd<'_>) {
    // Only fails when the counter is at its maximum: readable already.
    let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
}

/// Reset an eventfd's counter (it is non-blocking: nothing to read is fine).
pub(crate) fn eventfd_drain(fd: BorrowedFd<'_>) {
    let mut counter = [0u8; 8];
    let _ = rustix::io::read(fd, &mut counter);
}

/// Wait up to `timeout` for any of `fds` to be readable (or hung up, or in
/// error): for each fd, whether it has an event.
pub(crate) fn poll_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> io::Result<Readiness> {
    let mut poll_fds: SmallVec<[PollFd<'_>; POLLED_ON_STACK]> = fds
        .iter()
        .map(|fd| PollFd::from_borrowed_fd(*fd, PollFlags::IN))
        .collect();
    let timeout = rustix::time::Timespec::try_from(timeout)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    rustix::event::poll(&mut poll_fds, Some(&timeout))?;
    Ok(poll_fds.iter().map(|p| !p.revents().is_empty()).collect())
}

/// How many fds [`poll_readable`] takes without allocating (the dispatch
/// thread's three and a few release fences): it runs for every frame.
pub(crate) const POLLED_ON_STACK: usize = 8;

/// Which of the polled fds are readable, in their order.
pub(crate) type Readiness = SmallVec<[bool; POLLED_ON_STACK]>;

/// `pread(2)`: up to `buf.len()` bytes of `fd` from `offset`.
pub(crate) fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    Ok(rustix::io::pread(fd, buf, offset)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn clocks_the_kernel_knows_tick_and_others_read_zero() {
        assert!(clock_ns(libc::CLOCK_MONOTONIC) > 0);
        assert!(clock_ns(libc::CLOCK_TAI) > 0, "CLOCK_TAI is read too");
        assert_eq!(clock_ns(12345), 0);
    }

    #[test]
    fn memfd_holds_zeros_of_its_size() {
        let fd = memfd_with_zeros(c"zc-test", 4).expect("memfd");
        let mut bytes = [0xffu8; 8];
        assert_eq!(pread(fd.as_fd(), &mut bytes, 0).expect("pread"), 4);
        assert_eq!(bytes[..4], [0, 0, 0, 0]);
    }

    #[test]
    fn a_signalled_eventfd_wakes_the_poll() {
        let fd = eventfd().expect("eventfd");
        let quiet = poll_readable(&[fd.as_fd()], Duration::from_millis(10)).expect("poll");
        assert_eq!(quiet.as_slice(), [false]);
        eventfd_signal(fd.as_fd());
        let woken = poll_readable(&[fd.as_fd()], Duration::from_secs(5)).expect("poll");
        assert_eq!(woken.as_slice(), [true]);
    }
}
