//! sync_file export, wait and import on real dma-bufs, with a real
//! unsignalled fence: vgem attaches one to a heap buffer's reservation object
//! (through a PRIME import) and signals it when the test says so.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use zc_dmabuf::alloc::open_backend;
use zc_dmabuf::{Access, Allocator, Backend, DmaBuf, Fourcc, Frame, FrameRequest};
use zc_vm_tests::vgem::Vgem;
use zc_vm_tests::{fd_count, load_vgem, require_vm};

const SHORT: Duration = Duration::from_millis(200);
const LONG: Duration = Duration::from_secs(5);

fn heap() -> Box<dyn Allocator> {
    open_backend(Backend::Heap, &Default::default()).expect("opening /dev/dma_heap/system")
}

fn allocate(allocator: &dyn Allocator) -> Frame {
    let frame = allocator
        .allocate(&FrameRequest::new(Fourcc::XRGB8888, 256, 64))
        .expect("allocating a frame");
    assert_eq!(frame.buffers.len(), 1);
    frame
}

fn signaled(buffer: &DmaBuf, access: Access) -> bool {
    buffer
        .export_sync_file(access)
        .expect("DMA_BUF_IOCTL_EXPORT_SYNC_FILE")
        .is_signaled()
        .expect("poll")
}

#[test]
fn idle_buffer_exports_a_signalled_sync_file_that_imports_back() {
    require_vm();
    let fds_at_start = fd_count();
    {
        let allocator = heap();
        let frame = allocate(allocator.as_ref());
        let buffer = &frame.buffers[0];
        let sync_file = buffer
            .export_sync_file(Access::Write)
            .expect("export_sync_file(Write)");
        assert!(
            sync_file.wait(Some(Duration::from_secs(1))).expect("wait"),
            "no pending work, yet not signalled"
        );
        buffer
            .import_sync_file(&sync_file, Access::Write)
            .expect("import_sync_file(Write)");
        buffer
            .import_sync_file(&sync_file, Access::Read)
            .expect("import_sync_file(Read)");
        assert!(
            signaled(buffer, Access::Write),
            "importing a signalled fence made the buffer busy"
        );
        assert!(
            buffer
                .wait_idle(Access::Write, Some(Duration::ZERO))
                .expect("wait_idle")
        );
    }
    assert_eq!(fd_count(), fds_at_start, "fds leaked");
}

#[test]
fn vgem_write_fence_blocks_readers_until_signalled() {
    let card = load_vgem();
    let fds_at_start = fd_count();
    {
        let vgem = Vgem::open(card).expect("opening vgem");
        let allocator = heap();
        let frame = allocate(allocator.as_ref());
        let buffer = &frame.buffers[0];
        assert!(signaled(buffer, Access::Write), "a fresh buffer is busy");

        let handle = vgem
            .handle_for(buffer)
            .expect("importing the heap dma-buf into vgem");
        let fence = vgem
            .attach_fence(&handle, true)
            .expect("attaching a vgem write fence");

        let read_fence = buffer
            .export_sync_file(Access::Read)
            .expect("export_sync_file(Read)");
        assert!(
            !read_fence.is_signaled().expect("poll"),
            "the vgem write fence is not in the read sync_file"
        );
        assert!(
            !read_fence.wait(Some(SHORT)).expect("wait"),
            "wait returned before the fence was signalled"
        );
        assert!(
            !buffer
                .wait_idle(Access::Write, Some(SHORT))
                .expect("wait_idle"),
            "idle with a pending write"
        );
        assert!(
            !buffer
                .wait_idle(Access::Read, Some(Duration::ZERO))
                .expect("wait_idle"),
            "readable with a pending write"
        );

        vgem.signal_fence(fence)
            .expect("signalling the vgem fence (within its 10 s expiry)");
        assert!(
            read_fence.wait(Some(LONG)).expect("wait"),
            "the sync_file did not signal after the fence did"
        );
        assert!(
            buffer
                .wait_idle(Access::Write, Some(LONG))
                .expect("wait_idle"),
            "still busy after signalling"
        );
        assert!(signaled(buffer, Access::Read));
    }
    assert_eq!(fd_count(), fds_at_start, "fds leaked");
}

#[test]
fn vgem_read_fence_blocks_writers_only() {
    let card = load_vgem();
    let fds_at_start = fd_count();
    {
        let vgem = Vgem::open(card).expect("opening vgem");
        let allocator = heap();
        let frame = allocate(allocator.as_ref());
        let buffer = &frame.buffers[0];
        let handle = vgem
            .handle_for(buffer)
            .expect("importing the heap dma-buf into vgem");
        let fence = vgem
            .attach_fence(&handle, false)
            .expect("attaching a vgem read fence");

        // A pending reader: other readers go ahead, a writer must wait.
        assert!(
            signaled(buffer, Access::Read),
            "a read fence blocked a reader"
        );
        let write_fence = buffer
            .export_sync_file(Access::Write)
            .expect("export_sync_file(Write)");
        assert!(
            !write_fence.wait(Some(SHORT)).expect("wait"),
            "a writer was not held back by a pending read"
        );

        vgem.signal_fence(fence).expect("signalling the vgem fence");
        assert!(write_fence.wait(Some(LONG)).expect("wait"));
    }
    assert_eq!(fd_count(), fds_at_start, "fds leaked");
}

#[test]
fn imported_sync_file_carries_the_vgem_fence_to_another_buffer() {
    let card = load_vgem();
    let fds_at_start = fd_count();
    {
        let vgem = Vgem::open(card).expect("opening vgem");
        let allocator = heap();
        let fenced_frame = allocate(allocator.as_ref());
        let other_frame = allocate(allocator.as_ref());
        let (fenced, other) = (&fenced_frame.buffers[0], &other_frame.buffers[0]);

        let handle = vgem
            .handle_for(fenced)
            .expect("importing the heap dma-buf into vgem");
        let fence = vgem
            .attach_fence(&handle, true)
            .expect("attaching a vgem write fence");
        let pending = fenced
            .export_sync_file(Access::Read)
            .expect("export_sync_file(Read)");
        assert!(!pending.is_signaled().expect("poll"));

        assert!(
            signaled(other, Access::Read),
            "the second buffer is busy before the import"
        );
        other
            .import_sync_file(&pending, Access::Write)
            .expect("import_sync_file(Write) into the second buffer");
        drop(pending);
        let other_read = other
            .export_sync_file(Access::Read)
            .expect("export_sync_file(Read) of the second buffer");
        assert!(
            !other_read.wait(Some(SHORT)).expect("wait"),
            "the imported write fence does not hold readers back"
        );
        assert!(
            !other
                .wait_idle(Access::Write, Some(Duration::ZERO))
                .expect("wait_idle")
        );

        vgem.signal_fence(fence).expect("signalling the vgem fence");
        assert!(
            other_read.wait(Some(LONG)).expect("wait"),
            "the imported fence did not signal with vgem's"
        );
        assert!(signaled(other, Access::Read));
        assert!(signaled(other, Access::Write));
    }
    assert_eq!(fd_count(), fds_at_start, "fds leaked");
}
