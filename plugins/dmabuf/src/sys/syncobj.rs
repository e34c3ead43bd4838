//! drm.h's syncobj ioctls (timeline points): UAPI structs and thin
//! wrappers, for `crate::syncobj`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::ioctl::{Opcode, opcode};

use super::{IoctlArg, ioctl_retry};

/// `struct drm_syncobj_create`.
#[repr(C)]
pub struct DrmSyncobjCreate {
    pub handle: u32,
    pub flags: u32,
}
/// `struct drm_syncobj_destroy`.
#[repr(C)]
pub struct DrmSyncobjDestroy {
    pub handle: u32,
    pub pad: u32,
}
/// `struct drm_syncobj_handle` as of Linux 5.x (kernels that added a
/// trailing `point` zero-extend this shorter form).
#[repr(C)]
pub struct DrmSyncobjHandle {
    pub handle: u32,
    pub flags: u32,
    pub fd: i32,
    pub pad: u32,
}
/// `struct drm_syncobj_handle` passed to FD_TO_HANDLE (same shape).
#[repr(C)]
pub struct DrmSyncobjFdToHandle(pub DrmSyncobjHandle);
/// `struct drm_syncobj_transfer`.
#[repr(C)]
pub struct DrmSyncobjTransfer {
    pub src_handle: u32,
    pub dst_handle: u32,
    pub src_point: u64,
    pub dst_point: u64,
    pub flags: u32,
    pub pad: u32,
}
/// `struct drm_syncobj_timeline_array` for TIMELINE_SIGNAL.
#[repr(C)]
pub struct DrmSyncobjTimelineSignal {
    pub handles: u64,
    pub points: u64,
    pub count_handles: u32,
    pub flags: u32,
}
/// `struct drm_syncobj_timeline_array` for QUERY (the kernel writes points).
#[repr(C)]
pub struct DrmSyncobjQuery(pub DrmSyncobjTimelineSignal);
/// `struct drm_syncobj_eventfd`.
#[repr(C)]
pub struct DrmSyncobjEventfd {
    pub handle: u32,
    pub flags: u32,
    pub point: u64,
    pub fd: i32,
    pub pad: u32,
}
pub const DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE: u32 = 1;
pub const DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE: u32 = 1;

// The opcodes are drm.h's `DRM_IOWR(nr, struct ...)` for exactly these
// structs: SYNCOBJ_CREATE 0xBF, DESTROY 0xC0, HANDLE_TO_FD 0xC1,
// FD_TO_HANDLE 0xC2, QUERY 0xCB, TRANSFER 0xCC, TIMELINE_SIGNAL 0xCD,
// EVENTFD 0xCF.
// SAFETY: DRM_IOCTL_SYNCOBJ_CREATE is `DRM_IOWR(0xBF, struct drm_syncobj_create)`.
unsafe impl IoctlArg for DrmSyncobjCreate {
    const OPCODE: Opcode = opcode::read_write::<DrmSyncobjCreate>(b'd', 0xBF);
}
// SAFETY: DRM_IOCTL_SYNCOBJ_DESTROY is `DRM_IOWR(0xC0, struct drm_syncobj_destroy)`.
unsafe impl IoctlArg for DrmSyncobjDestroy {
    const OPCODE: Opcode = opcode::read_write::<DrmSyncobjDestroy>(b'd', 0xC0);
}
// SAFETY: DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD is `DRM_IOWR(0xC1, struct drm_syncobj_handle)`.
unsafe impl IoctlArg for DrmSyncobjHandle {
    const OPCODE: Opcode = opcode::read_write::<DrmSyncobjHandle>(b'd', 0xC1);
}
// SAFETY: DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE is `DRM_IOWR(0xC2, struct
// drm_syncobj_handle)`; this is a `repr(C)` newtype of that struct.
unsafe impl IoctlArg for DrmSyncobjFdToHandle {
    const OPCODE: Opcode = opcode::read_write::<DrmSyncobjHandle>(b'd', 0xC2);
}
// SAFETY: DRM_IOCTL_SYNCOBJ_QUERY is `DRM_IOWR(0xCB, struct
// drm_syncobj_timeline_array)`; a `repr(C)` newtype of that struct.
unsafe impl IoctlArg for DrmSyncobjQuery {
    const OPCODE: Opcode = opcode::read_write::<DrmSyncobjTimelineSignal>(b'd', 0xCB);
}
// SAFETY: DRM_IOCTL_SYNCOBJ_TRANSFER is `DRM_IOWR(0xCC, struct drm_syncobj_transfer)`.
unsafe impl IoctlArg for DrmSyncobjTransfer {
    const OPCODE: Opcode = opcode::read_write::<DrmSyncobjTransfer>(b'd', 0xCC);
}
// SAFETY: DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL is `DRM_IOWR(0xCD, struct
// drm_syncobj_timeline_array)`.
unsafe impl IoctlArg for DrmSyncobjTimelineSignal {
    const OPCODE: Opcode = opcode::read_write::<DrmSyncobjTimelineSignal>(b'd', 0xCD);
}
// SAFETY: DRM_IOCTL_SYNCOBJ_EVENTFD is `DRM_IOWR(0xCF, struct drm_syncobj_eventfd)`.
unsafe impl IoctlArg for DrmSyncobjEventfd {
    const OPCODE: Opcode = opcode::read_write::<DrmSyncobjEventfd>(b'd', 0xCF);
}

/// A new syncobj on `drm`: its handle.
pub fn drm_syncobj_create(drm: BorrowedFd<'_>) -> io::Result<u32> {
    let mut arg = DrmSyncobjCreate {
        handle: 0,
        flags: 0,
    };
    ioctl_retry(drm, &mut arg)?;
    Ok(arg.handle)
}

pub fn drm_syncobj_destroy(drm: BorrowedFd<'_>, handle: u32) -> io::Result<()> {
    ioctl_retry(drm, &mut DrmSyncobjDestroy { handle, pad: 0 }).map(drop)
}

/// The syncobj as an fd (`flags` 0), or its fence as a sync_file
/// (`EXPORT_SYNC_FILE`).
pub fn drm_syncobj_handle_to_fd(
    drm: BorrowedFd<'_>,
    handle: u32,
    flags: u32,
) -> io::Result<OwnedFd> {
    let mut arg = DrmSyncobjHandle {
        handle,
        flags,
        fd: -1,
        pad: 0,
    };
    ioctl_retry(drm, &mut arg)?;
    // SAFETY: on success the kernel installed a new fd owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

/// A syncobj fd as a handle (`flags` 0; `handle` ignored), or a sync_file
/// as the fence of the binary syncobj `handle` (`IMPORT_SYNC_FILE`).
pub fn drm_syncobj_fd_to_handle(
    drm: BorrowedFd<'_>,
    fd: BorrowedFd<'_>,
    handle: u32,
    flags: u32,
) -> io::Result<u32> {
    let mut arg = DrmSyncobjFdToHandle(DrmSyncobjHandle {
        handle,
        flags,
        fd: fd.as_raw_fd(),
        pad: 0,
    });
    ioctl_retry(drm, &mut arg)?;
    Ok(arg.0.handle)
}

pub fn drm_syncobj_transfer(
    drm: BorrowedFd<'_>,
    (src_handle, src_point): (u32, u64),
    (dst_handle, dst_point): (u32, u64),
    flags: u32,
) -> io::Result<()> {
    let mut arg = DrmSyncobjTransfer {
        src_handle,
        dst_handle,
        src_point,
        dst_point,
        flags,
        pad: 0,
    };
    ioctl_retry(drm, &mut arg).map(drop)
}

/// Signal `point` of the timeline `handle` from the CPU.
pub fn drm_syncobj_timeline_signal(drm: BorrowedFd<'_>, handle: u32, point: u64) -> io::Result<()> {
    let (handles, points) = ([handle], [point]);
    // The arrays outlive the call; the kernel reads one of each.
    let mut arg = DrmSyncobjTimelineSignal {
        handles: handles.as_ptr() as u64,
        points: points.as_ptr() as u64,
        count_handles: 1,
        flags: 0,
    };
    ioctl_retry(drm, &mut arg).map(drop)
}

/// The latest signalled point of the timeline `handle`.
pub fn drm_syncobj_query(drm: BorrowedFd<'_>, handle: u32) -> io::Result<u64> {
    let handles = [handle];
    let mut points = [0u64];
    // The arrays outlive the call; the kernel writes one point.
    let mut arg = DrmSyncobjQuery(DrmSyncobjTimelineSignal {
        handles: handles.as_ptr() as u64,
        points: points.as_mut_ptr() as u64,
        count_handles: 1,
        flags: 0,
    });
    ioctl_retry(drm, &mut arg)?;
    Ok(points[0])
}

/// Have `eventfd` signalled once `point` of the timeline `handle` has
/// signalled (Linux 6.6+).
pub fn drm_syncobj_eventfd(
    drm: BorrowedFd<'_>,
    handle: u32,
    point: u64,
    eventfd: BorrowedFd<'_>,
) -> io::Result<()> {
    let mut arg = DrmSyncobjEventfd {
        handle,
        flags: 0,
        point,
        fd: eventfd.as_raw_fd(),
        pad: 0,
    };
    ioctl_retry(drm, &mut arg).map(drop)
}
