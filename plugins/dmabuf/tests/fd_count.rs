//! fd accounting needs a process of its own: in the unit-test binary, other
//! tests open and close fds on parallel threads while this one counts.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zc_dmabuf::{Access, Allocator, Fourcc, FrameRequest, MemfdAllocator};

use zc_dmabuf::fds::count as fd_count;

#[test]
fn memfd_frames_leave_no_fd_behind() {
    let before = fd_count();
    for _ in 0..1000 {
        let frame = MemfdAllocator
            .allocate(&FrameRequest::new(Fourcc::YUYV, 64, 48))
            .expect("allocate");
        let clone = frame.buffers[0].try_clone().expect("dup");
        let _access = clone.begin_cpu_access(Access::Read).expect("begin");
    }
    assert_eq!(fd_count(), before);
}
