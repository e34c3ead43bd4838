//! fd accounting for the allocator, in a process of its own so no other
//! test opens fds while this one counts.

use gstzerocopy::allocator::{BackendSetting, ZcDmaBufAllocator};

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

#[test]
fn freed_memory_closes_its_fd() {
    gst::init().expect("gst::init");
    let allocator = ZcDmaBufAllocator::new(BackendSetting::Memfd);
    // The first allocation opens the backend; count from after it.
    drop(gst::prelude::AllocatorExt::alloc(&allocator, 4096, None).expect("alloc"));
    let before = fd_count();
    let memories: Vec<gst::Memory> =
        (0..200).map(|_| gst::prelude::AllocatorExt::alloc(&allocator, 4096, None).expect("alloc")).collect();
    assert_eq!(fd_count(), before + 200, "each memory holds its own fd");
    drop(memories);
    assert_eq!(fd_count(), before, "freeing the memories closed their fds");
}
