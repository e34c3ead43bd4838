//! Explicit sync with DRM timeline syncobjs (`wp_linux_drm_syncobj_v1`),
//! preferred over `zwp_linux_explicit_synchronization_v1` where both exist
//! (Mutter, KWin, wlroots; NVIDIA's only correct way). Written against the
//! protocol's documentation: no compositor available here offers it, so
//! only the kernel side ([`zc_dmabuf::syncobj::Timeline`]) ran, on
//! virtio-gpu in the VM.
//!
//! One timeline per video surface, made on the compositor's main device
//! (its dma-buf feedback names it) and imported by the compositor. Each
//! dma-buf commit takes two points: the acquire point (the producer's
//! fence, or signalled at once without one) and the release point, which
//! the compositor signals when it is done with the buffer; its eventfd is
//! polled by the dispatch thread, and the frame goes back once it fired.
//! With this protocol `wl_buffer.release` is undefined, so it is not
//! waited for. A wl_shm buffer cannot be committed on such a surface
//! (`unsupported_buffer`): the first one ends explicit sync for the window.

use std::fs::OpenOptions;
use std::os::fd::{AsFd, OwnedFd};

use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{QueueHandle, delegate_noop};
use wayland_protocols::wp::linux_drm_syncobj::v1::client::{
    wp_linux_drm_syncobj_manager_v1::WpLinuxDrmSyncobjManagerV1,
    wp_linux_drm_syncobj_surface_v1::WpLinuxDrmSyncobjSurfaceV1,
    wp_linux_drm_syncobj_timeline_v1::WpLinuxDrmSyncobjTimelineV1,
};
use zc_dmabuf::SyncFile;
use zc_dmabuf::syncobj::Timeline;

use super::State;
use super::window::Window;
use crate::feedback::drm_nodes_for;

/// A video surface's syncobj objects and its timeline.
pub(super) struct SyncobjSurface {
    surface: WpLinuxDrmSyncobjSurfaceV1,
    timeline_object: WpLinuxDrmSyncobjTimelineV1,
    timeline: Timeline,
    /// The next point to use (0 is the timeline's initial, signalled one).
    next_point: u64,
}

impl SyncobjSurface {
    /// The objects for `surface`, with a timeline on `main_device` (the
    /// compositor's, from its dma-buf feedback). Err: why not (the caller
    /// falls back to the older protocol or implicit sync).
    pub(super) fn new(
        manager: &WpLinuxDrmSyncobjManagerV1,
        surface: &WlSurface,
        main_device: Option<libc::dev_t>,
        qh: &QueueHandle<State>,
    ) -> Result<SyncobjSurface, String> {
        let device = main_device.ok_or(
            "the compositor names no main device (linux-dmabuf v4+ feedback) to make a timeline on",
        )?;
        let node = drm_nodes_for(device)
            .into_iter()
            .next()
            .ok_or_else(|| format!("no /dev/dri node for the main device {device:#x}"))?;
        let device = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&node)
            .map_err(|e| format!("{}: {e}", node.display()))?;
        let timeline = Timeline::create(device.as_fd()).map_err(|e| e.to_string())?;
        let exported = timeline.export().map_err(|e| e.to_string())?;
        let timeline_object = manager.import_timeline(exported.as_fd(), qh, ());
        log::info!(
            "explicit sync: wp_linux_drm_syncobj_v1, a timeline on {}",
            node.display()
        );
        Ok(SyncobjSurface {
            surface: manager.get_surface(surface, qh, ()),
            timeline_object,
            timeline,
            next_point: 1,
        })
    }

    /// Before a dma-buf commit: its acquire point (signalled when
    /// `acquire_fence` is, or at once) and release point; the eventfd that
    /// fires once the compositor signalled the release point.
    pub(super) fn points(&mut self, acquire_fence: Option<&OwnedFd>) -> Result<OwnedFd, String> {
        let (acquire, release) = (self.next_point, self.next_point + 1);
        self.next_point += 2;
        match acquire_fence {
            Some(fence) => self.acquire_when(acquire, fence)?,
            None => self.timeline.signal(acquire).map_err(|e| e.to_string())?,
        }
        let released = self.timeline.eventfd(release).map_err(|e| e.to_string())?;
        let split = |point: u64| ((point >> 32) as u32, point as u32);
        let (hi, lo) = split(acquire);
        self.surface
            .set_acquire_point(&self.timeline_object, hi, lo);
        let (hi, lo) = split(release);
        self.surface
            .set_release_point(&self.timeline_object, hi, lo);
        Ok(released)
    }

    /// Make `point` signal with `fence`; where the kernel refuses the
    /// fence as a point, wait for it here instead and signal it, so the
    /// compositor never reads early.
    fn acquire_when(&self, point: u64, fence: &OwnedFd) -> Result<(), String> {
        let Err(e) = self.timeline.import_sync_file(point, fence.as_fd()) else {
            return Ok(());
        };
        log::warn!("importing an acquire fence into the timeline: {e}; waiting for it");
        let fence = fence.try_clone().map_err(|e| e.to_string())?;
        SyncFile::from_fd(fence)
            .wait(None)
            .map_err(|e| e.to_string())?;
        self.timeline.signal(point).map_err(|e| e.to_string())
    }

    /// Destroy the protocol objects (before the surface); the timeline
    /// goes with this value.
    pub(super) fn destroy(self) {
        self.surface.destroy();
        self.timeline_object.destroy();
    }
}

delegate_noop!(State: ignore WpLinuxDrmSyncobjManagerV1);
delegate_noop!(State: ignore WpLinuxDrmSyncobjSurfaceV1);
delegate_noop!(State: ignore WpLinuxDrmSyncobjTimelineV1);

/// Before a commit on a window with DRM syncobj explicit sync: a dma-buf
/// frame's points (the release point's eventfd returned, to be polled); a
/// wl_shm frame, or a failure, ends explicit sync for the window (the
/// compositor would raise `unsupported_buffer`, or `no_acquire_point`).
pub(super) fn before_commit(
    window: &mut Window,
    dma_buf: bool,
    acquire_fence: Option<&OwnedFd>,
) -> Option<OwnedFd> {
    let syncobj = window.video_syncobj.as_mut()?;
    let points = if dma_buf {
        syncobj.points(acquire_fence)
    } else {
        Err("a wl_shm frame cannot be committed with syncobj points".to_owned())
    };
    match points {
        Ok(released) => Some(released),
        Err(why) => {
            log::warn!("{why}: explicit sync ends for this window (implicit fences from now on)");
            if let Some(syncobj) = window.video_syncobj.take() {
                syncobj.destroy();
            }
            None
        }
    }
}
