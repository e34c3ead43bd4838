//! The copy fallback: the pool copies go into (a memfd for wl_shm where it
//! takes the format, else a dma-buf) and the copy itself, counted in
//! `frames-copied` and `bytes-copied`.

use std::sync::OnceLock;

use gst::prelude::*;
use gst_video::prelude::*;
use zc_dmabuf::Fourcc;
use zc_wayland::Presenter;

use super::imp::ZcWaylandSink;
use super::settings::PathPreference;
use crate::allocator::{BackendSetting, ZcDmaBufAllocator};
use crate::pool::ZcBufferPool;

/// Whether a copy can land in a dma-buf here (a dma-heap or udmabuf works,
/// the upload pool's `auto` backend is not memfd). Only then can frames in
/// system memory be shown in a format the compositor imports as a dma-buf
/// but wl_shm does not take (Weston's linux-dmabuf lists AR30, its wl_shm
/// AB30 only). Probed once per process: the devices do not come and go.
pub(super) fn dmabuf_copies_possible() -> bool {
    static POSSIBLE: OnceLock<bool> = OnceLock::new();
    *POSSIBLE.get_or_init(|| {
        ZcDmaBufAllocator::new(BackendSetting::Auto)
            .backend()
            .is_ok_and(|b| b != zc_dmabuf::Backend::Memfd)
    })
}

/// Where copies go: a memfd for wl_shm when it takes the format (or the
/// preference is shm), else a dma-buf (always, for dmabuf).
pub(super) fn make_upload_pool(
    presenter: &Presenter,
    fourcc: Fourcc,
    info: &gst_video::VideoInfo,
    preference: PathPreference,
) -> Result<ZcBufferPool, String> {
    let shm_takes_it = presenter.capabilities().shm_formats.contains(&fourcc);
    let allocator = match preference {
        PathPreference::DmaBuf => {
            let allocator = ZcDmaBufAllocator::new(BackendSetting::Auto);
            match allocator.backend() {
                Ok(zc_dmabuf::Backend::Memfd) => {
                    return Err(
                        "path-preference=dmabuf, but the only allocator that works here is \
                         memfd (no /dev/dma_heap, /dev/udmabuf or GBM device); use auto or shm"
                            .to_owned(),
                    );
                }
                Ok(_) => allocator,
                Err(e) => return Err(format!("path-preference=dmabuf: {e}")),
            }
        }
        PathPreference::Shm => ZcDmaBufAllocator::new(BackendSetting::Memfd),
        PathPreference::Auto | PathPreference::Copy if shm_takes_it => {
            ZcDmaBufAllocator::new(BackendSetting::Memfd)
        }
        PathPreference::Auto | PathPreference::Copy => ZcDmaBufAllocator::new(BackendSetting::Auto),
    };
    let for_shm = allocator
        .backend()
        .is_ok_and(|b| b == zc_dmabuf::Backend::Memfd);
    let pool = ZcBufferPool::new(&allocator);
    let mut config = pool.config();
    config.set_params(
        Some(&info.to_caps().map_err(|e| e.to_string())?),
        info.size() as u32,
        2,
        0,
    );
    config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
    if for_shm {
        // wl_shm takes one stride, with the chroma planes' derived from
        // it and the planes back to back: no stride padding (zc's
        // default 256-byte alignment would pad I420's chroma rows and
        // make every copy unshowable).
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT.as_ref());
        config.set_video_alignment(&gst_video::VideoAlignment::new(0, 0, 0, 0, &[0; 4]));
    }
    pool.set_config(config).map_err(|_| {
        "the upload pool refused the caps (see the zcpool debug category)".to_owned()
    })?;
    pool.set_active(true)
        .map_err(|e| format!("activating the upload pool: {e}"))?;
    Ok(pool)
}

impl ZcWaylandSink {
    /// `input`'s picture copied into a buffer of `pool`.
    pub(super) fn copy_frame(
        &self,
        input: &gst::Buffer,
        info: &gst_video::VideoInfo,
        pool: &ZcBufferPool,
    ) -> Result<gst::Buffer, String> {
        let mut out = pool
            .acquire_buffer(None)
            .map_err(|e| format!("no buffer to copy into: {e:?}"))?;
        {
            let out_mut = out.get_mut().ok_or("a fresh pool buffer is not writable")?;
            let src = gst_video::VideoFrameRef::from_buffer_ref_readable(input.as_ref(), info)
                .map_err(|_| "cannot map the frame for reading")?;
            let mut dst = gst_video::VideoFrameRef::from_buffer_ref_writable(out_mut, info)
                .map_err(|_| "cannot map a pooled buffer for writing")?;
            src.copy(&mut dst)
                .map_err(|e| format!("copying the frame: {e}"))?;
        }
        self.counters.copies.add(info.size() as u64);
        Ok(out)
    }
}
