//! zc's pool offered upstream in an ALLOCATION query, as zcexport and
//! zcwaylandsink propose it.

use gst::glib;
use gst::prelude::*;

use crate::allocator::ZcDmaBufAllocator;
use crate::pool::ZcBufferPool;

/// Offer a zc pool on `allocator` for `caps` (1.22's dialect, which the
/// pool reads) with VideoMeta; an error when the pool refuses the caps.
pub(crate) fn offer_pool(
    query: &mut gst::query::Allocation,
    allocator: &ZcDmaBufAllocator,
    caps: &gst::Caps,
    info: &gst_video::VideoInfo,
) -> Result<(), glib::BoolError> {
    let pool = ZcBufferPool::new(allocator);
    let mut config = pool.config();
    config.set_params(Some(caps), info.size() as u32, 2, 0);
    config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
    pool.set_config(config)?;
    let size = pool
        .config()
        .params()
        .map(|(_, size, _, _)| size)
        .unwrap_or(info.size() as u32);
    // max 0: a compositor holds frames for a while, and libav drops a pool
    // that caps its buffers below 32.
    query.add_allocation_pool(Some(&pool), size, 2, 0);
    query.add_allocation_param(Some(allocator), gst::AllocationParams::default());
    query.add_allocation_meta::<gst_video::VideoMeta>(None);
    Ok(())
}
