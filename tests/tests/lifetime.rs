//! The lifetime rule the dma-buf designers settled on: the exporter's buffer
//! lives while any importer holds a reference. Here the allocator, its
//! device fd and the exporter-side handle all go away while an "importer"
//! still holds its dup'd fd; the importer must still read the right bytes,
//! and when it closes, the process is back to the fds it started with.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use zc_dmabuf::alloc::open_backend;
use zc_dmabuf::{Access, AllocatorOptions, Backend, DmaBuf, Fourcc, FrameRequest};
use zc_vm_tests::{check_pattern, fd_count, fill_pattern, load_vgem, require_vm};

fn importer_outlives_exporter(backend: Backend, options: AllocatorOptions, fourcc: Fourcc) {
    let start = fd_count();
    let importer: DmaBuf = {
        let allocator =
            open_backend(backend, &options).unwrap_or_else(|e| panic!("{backend}: {e}"));
        let frame = allocator
            .allocate(&FrameRequest::new(fourcc, 640, 480))
            .expect("allocate");
        let exporter_side = &frame.buffers[0];
        {
            let mut access = exporter_side
                .begin_cpu_access(Access::Write)
                .expect("begin write");
            let mut bytes = vec![0; access.len()];
            fill_pattern(&mut bytes, 42);
            access.write_from(0, &bytes).expect("write");
        }
        // The importer gets its own fd, as a compositor or a GPU driver would.
        exporter_side.try_clone().expect("dup for the importer")
        // frame (exporter handle + its mapping) and the allocator (heap fd,
        // udmabuf device, GBM device + DRM fd) are dropped here.
    };
    assert_eq!(
        fd_count(),
        start + 1,
        "{backend}: only the importer's fd is left open"
    );
    {
        let access = importer
            .begin_cpu_access(Access::Read)
            .expect("importer reads");
        assert_eq!(
            check_pattern(&access.to_vec(), 42),
            None,
            "{backend}: importer saw different bytes"
        );
    }
    drop(importer);
    assert_eq!(
        fd_count(),
        start,
        "{backend}: the last holder closed, nothing is left open"
    );
}

#[test]
fn heap_buffer_outlives_its_allocator() {
    require_vm();
    importer_outlives_exporter(Backend::Heap, AllocatorOptions::default(), Fourcc::NV12);
}

#[test]
fn udmabuf_outlives_its_memfd_and_device() {
    require_vm();
    importer_outlives_exporter(Backend::Udmabuf, AllocatorOptions::default(), Fourcc::NV12);
}

#[test]
fn gbm_buffer_outlives_its_bo_and_device() {
    let node = PathBuf::from(load_vgem());
    importer_outlives_exporter(
        Backend::Gbm,
        AllocatorOptions {
            drm_node: Some(node),
            ..Default::default()
        },
        Fourcc::XRGB8888,
    );
}
