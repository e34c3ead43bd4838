//! A failed import closes nothing but its own fd: no leak, and no other fd
//! of the same file (which shares its device and inode) is touched. On
//! lavapipe, which closes the fd of a failed import itself, this checks that
//! zc does not close it a second time; the race that made the old (device,
//! inode) check close another thread's fd cannot be provoked on purpose.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

use zc_dmabuf::{Allocator, DmaBuf, Fourcc, FrameRequest, MemfdAllocator};
use zc_vulkan::{Context, Converter, ConverterOptions, DeviceChoice};

use zc_dmabuf::fds::count as fd_count;

fn is_open(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())).is_ok()
}

#[test]
fn a_refused_read_only_import_leaks_and_closes_nothing() {
    let ctx: Arc<Context> =
        Context::new(&DeviceChoice::Auto).expect("a Vulkan device (lavapipe: mesa-vulkan-drivers)");
    let conv = Converter::new(ctx, ConverterOptions::default()).expect("converter");
    let frame = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::NV12, 64, 32))
        .expect("memfd frame");
    // The same file, read-only: lavapipe maps imports read-write and
    // refuses it.
    let read_only: OwnedFd = std::fs::File::open(format!(
        "/proc/self/fd/{}",
        frame.buffers[0].as_fd().as_raw_fd()
    ))
    .expect("reopen read-only")
    .into();
    let read_only = DmaBuf::from_memfd(read_only).expect("a buffer");
    let buffers = [read_only];
    let before = fd_count();
    for _ in 0..3 {
        let error = conv
            .import(&frame.layout, &buffers)
            .expect_err("a read-only fd is refused");
        eprintln!("refused: {error}");
    }
    assert!(is_open(buffers[0].as_fd()), "the caller's fd was closed");
    assert!(
        is_open(frame.buffers[0].as_fd()),
        "another fd of the file was closed"
    );
    assert_eq!(fd_count(), before, "failed imports changed the fd count");
}
