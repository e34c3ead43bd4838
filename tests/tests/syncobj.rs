//! DRM timeline syncobjs against the kernel (what `wp_linux_drm_syncobj_v1`
//! passes): create, export, import, points signalled from the CPU and from
//! a sync_file, release points as eventfds. On virtio-gpu, which the forky
//! VM has (vgem has no syncobjs), so this binary runs there only.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::OpenOptions;
use std::os::fd::AsFd;
use std::time::Duration;

use zc_dmabuf::syncobj::Timeline;
use zc_vm_tests::{fd_count, load_module, require_vm};

fn readable(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    zc_dmabuf::SyncFile::from_fd(fd.try_clone_to_owned().unwrap())
        .wait(Some(Duration::ZERO))
        .unwrap()
}

#[test]
fn timeline_points_signal_from_the_cpu_and_from_sync_files_and_wake_eventfds() {
    require_vm();
    load_module("virtio_gpu", &[], "/dev/dri/renderD128");
    let node = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/dri/renderD128")
        .expect("virtio-gpu render node");
    let fds_before = fd_count();
    {
        let timeline = Timeline::create(node.as_fd()).expect("a timeline syncobj");
        assert_eq!(timeline.signalled_point().unwrap(), 0);
        // A release point: its eventfd wakes once the point signalled.
        let release = timeline.eventfd(1).expect("DRM_IOCTL_SYNCOBJ_EVENTFD");
        assert!(!readable(release.as_fd()), "point 1 has not signalled");
        timeline.signal(1).unwrap();
        assert!(readable(release.as_fd()), "point 1 signalled");
        assert_eq!(timeline.signalled_point().unwrap(), 1);
        // Exported and imported again (as a compositor imports it): the
        // same kernel object.
        let exported = timeline.export().expect("syncobj fd");
        let imported = Timeline::import(node.as_fd(), exported.as_fd()).expect("import");
        imported.signal(2).unwrap();
        assert_eq!(timeline.signalled_point().unwrap(), 2);
        // A point's fence as a sync_file, and a sync_file as a new point
        // (the producer's fence as the acquire point).
        let fence = timeline.export_sync_file(2).expect("sync_file of point 2");
        assert!(fence.is_signaled().unwrap());
        let later = timeline.eventfd(3).unwrap();
        assert!(!readable(later.as_fd()));
        timeline
            .import_sync_file(3, fence.as_fd())
            .expect("sync_file as point 3");
        assert!(readable(later.as_fd()), "point 3 signalled with its fence");
        assert_eq!(timeline.signalled_point().unwrap(), 3);
        // A point without a fence yet has no sync_file to give.
        assert!(timeline.export_sync_file(9).is_err());
        println!(
            "virtio-gpu timeline: points 1-3 signalled (CPU, imported timeline, sync_file), eventfds woke"
        );
    }
    assert_eq!(fd_count(), fds_before, "no fd left behind");
}
