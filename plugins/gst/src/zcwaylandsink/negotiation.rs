//! Negotiation: the caps the compositor takes (linux-dmabuf formats and
//! modifiers, wl_shm formats, under the path preference), set_caps and why
//! caps are refused, the pool proposed upstream, and the main device told
//! to an upstream converter.

use std::collections::{BTreeSet, HashSet};

use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use zc_dmabuf::{Fourcc, FrameRequest, Modifier};
use zc_wayland::{FormatModifier, Presenter};

use super::composition;
use super::copy::dmabuf_copies_possible;
use super::imp::{CAT, Stream, ZcWaylandSink};
use super::settings::PathPreference;
use crate::allocator::{BackendSetting, ZcDmaBufAllocator};
use crate::dialect::{self, Dialect, DrmFormat};
use crate::pool_proposal::offer_pool;
use crate::{caps, lock, main_device};

const DMABUF_FEATURE: &str = "memory:DMABuf";

/// The sink pad template's caps: DMA_DRM (GStreamer 1.24+) with any
/// drm-format, and the classic formats in dma-buf and system memory; the
/// real list comes from the compositor once connected.
pub(super) fn template_caps() -> gst::Caps {
    let mut caps = dialect::dma_drm_template();
    caps.merge(caps::raw_caps(Some(DMABUF_FEATURE)));
    caps.merge(caps::raw_caps(None));
    composition::with_overlay_feature(caps)
}

/// The DMA_DRM formats the compositor imports, best first (with v4+
/// feedback: the main device's tranches, scanout before composited, in the
/// compositor's order): its explicit modifiers (INVALID cannot be said in
/// DMA_DRM caps) of formats zc lays out.
fn compositor_drm_formats(presenter: &Presenter, refused: &HashSet<Fourcc>) -> Vec<DrmFormat> {
    let offered = presenter.capabilities();
    let pairs = match &offered.feedback {
        Some(feedback) => feedback.preferred_formats(),
        None => offered.dmabuf_formats.iter().copied().collect(),
    };
    pairs
        .iter()
        .filter(|f| {
            f.modifier != Modifier::INVALID
                && caps::format_for(f.fourcc).is_some()
                && !refused.contains(&f.fourcc)
        })
        .map(|f| DrmFormat {
            fourcc: f.fourcc,
            modifier: f.modifier,
        })
        .collect()
}

fn describe_formats(formats: &BTreeSet<FormatModifier>) -> String {
    if formats.is_empty() {
        return "nothing (no linux-dmabuf)".to_owned();
    }
    formats
        .iter()
        .map(|f| format!("{}:{}", f.fourcc, f.modifier))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ZcWaylandSink {
    /// BaseSink::caps: what the compositor takes under the preference.
    pub(super) fn sink_caps(&self, filter: Option<&gst::Caps>) -> gst::Caps {
        let intersect = |caps: gst::Caps| match filter {
            Some(filter) => filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
            None => caps,
        };
        let Some(presenter) = self.presenter() else {
            return intersect(self.obj().sink_pad().pad_template_caps());
        };
        let preference = lock(&self.settings).path_preference;
        let preferred = intersect(self.compositor_caps(&presenter, preference));
        if !preferred.is_empty() || preference == PathPreference::Auto {
            return preferred;
        }
        // Nothing upstream can send fits the preference: offer what the
        // compositor takes at all, so that set_caps can say why it refuses
        // instead of a bare not-negotiated.
        intersect(self.compositor_caps(&presenter, PathPreference::Auto))
    }

    /// Caps for what the compositor takes: dma-buf formats (LINEAR, or
    /// implicit when allowed) in dma-buf memory; wl_shm's in system memory
    /// (shown from memfds, or copied), and the dma-buf ones there too where
    /// copies can be dma-bufs.
    fn compositor_caps(&self, presenter: &Presenter, preference: PathPreference) -> gst::Caps {
        let offered = presenter.capabilities();
        let allow_implicit = lock(&self.settings).allow_implicit_modifier;
        let refused = lock(&self.refused_formats).clone();
        let dmabuf: Vec<gst_video::VideoFormat> = caps::formats()
            .iter()
            .filter(|(_, fourcc)| {
                !refused.contains(fourcc)
                    && offered.dmabuf_formats.iter().any(|f| {
                        f.fourcc == *fourcc
                            && (f.modifier == Modifier::LINEAR
                                || allow_implicit && f.modifier == Modifier::INVALID)
                    })
            })
            .map(|(format, _)| *format)
            .collect();
        let system: Vec<gst_video::VideoFormat> = caps::formats()
            .iter()
            .filter(|(format, fourcc)| match preference {
                // System memory is copied into dma-bufs, or written into the
                // proposed dma-buf pool.
                PathPreference::DmaBuf => dmabuf.contains(format),
                PathPreference::Shm => offered.shm_formats.contains(fourcc),
                // A format wl_shm does not take only where a copy can be a
                // dma-buf: a memfd of it could not be shown at all.
                PathPreference::Auto | PathPreference::Copy => {
                    offered.shm_formats.contains(fourcc)
                        || dmabuf.contains(format) && dmabuf_copies_possible()
                }
            })
            .map(|(format, _)| *format)
            .collect();
        // wl_shm only: dma-buf frames would all be copied, so none are asked
        // for (those that come anyway are copied).
        let dmabuf = if preference == PathPreference::Shm {
            Vec::new()
        } else {
            dmabuf
        };
        let mut out = gst::Caps::new_empty();
        // GStreamer 1.24+: DMA_DRM first, with every modifier the compositor
        // imports (a VA or V4L2 decoder's tiled frames go straight in).
        if preference != PathPreference::Shm && Dialect::runtime() == Dialect::DmaDrm {
            out.merge(dialect::dma_drm_caps(&compositor_drm_formats(
                presenter, &refused,
            )));
        }
        let max = zc_dmabuf::layout::MAX_DIMENSION as i32;
        if !dmabuf.is_empty() {
            out.merge(
                gst_video::VideoCapsBuilder::new()
                    .features([DMABUF_FEATURE])
                    .format_list(dmabuf)
                    .width_range(1..=max)
                    .height_range(1..=max)
                    .build(),
            );
        }
        if !system.is_empty() {
            out.merge(
                gst_video::VideoCapsBuilder::new()
                    .format_list(system)
                    .width_range(1..=max)
                    .height_range(1..=max)
                    .build(),
            );
        }
        if presenter.supports_overlays() {
            composition::with_overlay_feature(out)
        } else {
            out
        }
    }

    /// BaseSink::set_caps: check the caps against the compositor and the
    /// preference, resize the window, start a new [`Stream`]. An error is
    /// posted naming the reason.
    pub(super) fn set_stream_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let fail = |reason: String| {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("cannot show {caps}: {reason}")
            );
            gst::loggable_error!(CAT, "{reason}")
        };
        let structure = caps
            .structure(0)
            .ok_or_else(|| fail("empty caps".to_owned()))?;
        let (width, height) = (
            structure.get::<i32>("width").unwrap_or(0),
            structure.get::<i32>("height").unwrap_or(0),
        );
        if width <= 0 || height <= 0 {
            return Err(fail(format!(
                "the frame size {width}x{height} is empty; width and height must be at least 1"
            )));
        }
        let max = zc_dmabuf::layout::MAX_DIMENSION as i32;
        if width > max || height > max {
            return Err(fail(format!(
                "{width}x{height} is larger than the {max}x{max} a compositor texture can be"
            )));
        }
        // Either dialect (1.22's format=NV12, 1.24's DMA_DRM) in one place.
        let (info, drm) = dialect::video_info(caps).map_err(|e| fail(e.to_string()))?;
        let presenter = self
            .presenter()
            .ok_or_else(|| fail("no compositor connection".to_owned()))?;
        let preference = lock(&self.settings).path_preference;
        if !self
            .compositor_caps(&presenter, preference)
            .can_intersect(caps)
        {
            return Err(fail(
                self.why_not_shown(&presenter, preference, drm.fourcc, &info),
            ));
        }
        // The old stream ends before the compositor is told the new size:
        // no lock is held while it is.
        let old = lock(&self.stream).take();
        if let Some(pool) = old.and_then(|s| s.upload_pool) {
            let _ = pool.set_active(false);
        }
        if let Err(e) = presenter.set_video_size(width, height) {
            return Err(fail(format!("resizing the window: {e}")));
        }
        self.state_color_representation(&presenter, caps, &info)
            .map_err(fail)?;
        self.state_image_description(&presenter, caps, &info);
        gst::info!(CAT, imp = self, "showing {caps}");
        *lock(&self.stream) = Some(Stream {
            info,
            fourcc: drm.fourcc,
            modifier: drm.modifier,
            path_preference: lock(&self.settings).path_preference,
            upload_pool: None,
            feedback_serial: 0,
            last_path: None,
            warned_copyable: false,
        });
        Ok(())
    }

    /// Why caps in `fourcc` are not shown under `preference`: what the
    /// compositor offers instead.
    fn why_not_shown(
        &self,
        presenter: &Presenter,
        preference: PathPreference,
        fourcc: Fourcc,
        info: &gst_video::VideoInfo,
    ) -> String {
        let offered = presenter.capabilities();
        match preference {
            PathPreference::DmaBuf => format!(
                "path-preference=dmabuf, but the compositor does not import {fourcc} as a \
                 dma-buf{}; linux-dmabuf v{} offers {}",
                if lock(&self.settings).allow_implicit_modifier {
                    ""
                } else {
                    " with the LINEAR modifier"
                },
                offered.dmabuf_version,
                describe_formats(&offered.dmabuf_formats)
            ),
            PathPreference::Shm => format!(
                "path-preference=shm, but wl_shm does not take {fourcc}; it takes {}",
                offered
                    .shm_formats
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ if offered.dmabuf_formats.iter().any(|f| f.fourcc == fourcc)
                && !offered.shm_formats.contains(&fourcc)
                && !dmabuf_copies_possible() =>
            {
                format!(
                    "the compositor imports {fourcc} only as a dma-buf, wl_shm does not take \
                     it, and no dma-buf allocator works here to copy frames in system memory \
                     into (no usable /dev/dma_heap or /dev/udmabuf): upstream must send \
                     dma-bufs (memory:DMABuf caps) or convert to one of {}",
                    self.compositor_caps(presenter, preference)
                )
            }
            _ => format!(
                "the compositor does not offer {}; it takes {}",
                info.format().to_str(),
                self.compositor_caps(presenter, preference)
            ),
        }
    }

    /// Say once per caps why fixed DMA_DRM caps were refused (a modifier
    /// or format the compositor does not import): upstream only sees
    /// not-negotiated, which names neither.
    pub(super) fn explain_refusal(&self, caps: &gst::CapsRef) {
        let Some(presenter) = self.presenter() else {
            return;
        };
        let refused = lock(&self.refused_formats).clone();
        let Some(why) = dialect::refusal(caps, &compositor_drm_formats(&presenter, &refused))
        else {
            return;
        };
        if !lock(&self.refused_caps).insert(caps.to_string()) {
            return;
        }
        gst::element_imp_warning!(
            self,
            gst::CoreError::Negotiation,
            ("refused {caps}"),
            ["the compositor's linux-dmabuf table: {why}"]
        );
    }

    /// An upstream converter picking its GPU asks for the display's: its
    /// DRM nodes, render nodes first. False when `query` is not that.
    pub(super) fn answer_main_device_query(&self, query: &mut gst::QueryRef) -> bool {
        let Some(presenter) = self.presenter() else {
            return false;
        };
        let main_device = presenter
            .capabilities()
            .feedback
            .and_then(|f| f.main_device);
        let mut nodes = main_device
            .map(zc_wayland::drm_nodes_for)
            .unwrap_or_default();
        // Render nodes first: a GPU user opens those, not the card.
        nodes.sort_by_key(|n| !n.to_string_lossy().contains("renderD"));
        if main_device::answer(query, &nodes) {
            gst::debug!(CAT, imp = self, "told upstream the main device: {nodes:?}");
            return true;
        }
        false
    }

    /// BaseSink::propose_allocation: zc's pool, on the compositor's main
    /// device where it can, for linear frames under the preference.
    pub(super) fn propose_pool(
        &self,
        query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
        let (Some(caps), _need_pool) = query.get_owned() else {
            return Err(gst::loggable_error!(CAT, "allocation query without caps"));
        };
        let (info, drm) = dialect::video_info(&caps)
            .map_err(|e| gst::loggable_error!(CAT, "no zc layout for {caps}: {e}"))?;
        if drm.modifier != Modifier::LINEAR {
            // zc allocates linear frames only: the producer keeps its own.
            query.add_allocation_meta::<gst_video::VideoMeta>(None);
            gst::debug!(
                CAT,
                imp = self,
                "no pool for {caps}: zc allocates linear frames only"
            );
            return Ok(());
        }
        let presenter = self
            .presenter()
            .ok_or_else(|| gst::loggable_error!(CAT, "no compositor connection"))?;
        let Some(allocator) = self.proposal_allocator(&presenter, drm.fourcc, &info) else {
            // path-preference=copy (or dmabuf without a dma-buf allocator):
            // no pool, so upstream allocates its own memory.
            query.add_allocation_meta::<gst_video::VideoMeta>(None);
            gst::debug!(CAT, imp = self, "proposing no pool for {caps}");
            return Ok(());
        };
        // Classic caps from the VideoInfo: the pool reads 1.22's dialect.
        let plain = info
            .to_caps()
            .map_err(|_| gst::loggable_error!(CAT, "no caps for {caps}"))?;
        offer_pool(query, &allocator, &plain, &info)
            .map_err(|_| gst::loggable_error!(CAT, "zc pool refused {caps} (see zcpool)"))?;
        gst::debug!(
            CAT,
            imp = self,
            "proposed a zc pool ({:?}) for {caps}",
            allocator.backend().ok()
        );
        Ok(())
    }

    /// The allocator to propose: on the compositor's main device when the
    /// feedback names one and GBM can allocate this frame there, else the
    /// first working backend (heap, udmabuf, then memfd for wl_shm).
    fn proposal_allocator(
        &self,
        presenter: &Presenter,
        fourcc: Fourcc,
        info: &gst_video::VideoInfo,
    ) -> Option<ZcDmaBufAllocator> {
        let preference = lock(&self.settings).path_preference;
        match preference {
            PathPreference::Copy => return None,
            PathPreference::Shm => return Some(ZcDmaBufAllocator::new(BackendSetting::Memfd)),
            PathPreference::Auto | PathPreference::DmaBuf => {}
        }
        let offered = presenter.capabilities();
        let main_device = offered.feedback.as_ref().and_then(|f| f.main_device);
        for node in main_device
            .map(zc_wayland::drm_nodes_for)
            .unwrap_or_default()
        {
            let allocator = ZcDmaBufAllocator::new(BackendSetting::Gbm);
            allocator.set_property("drm-node", node.display().to_string());
            match allocator.allocate_frame(&FrameRequest::new(fourcc, info.width(), info.height()))
            {
                Ok(_) => {
                    gst::info!(
                        CAT,
                        imp = self,
                        "allocating on the compositor's main device ({})",
                        node.display()
                    );
                    return Some(allocator);
                }
                Err(e) => gst::info!(
                    CAT,
                    imp = self,
                    "GBM cannot allocate {fourcc} on {}: {e}",
                    node.display()
                ),
            }
        }
        let allocator = ZcDmaBufAllocator::new(BackendSetting::Auto);
        let backend = allocator.backend().ok();
        if preference == PathPreference::DmaBuf {
            // dma-bufs or nothing: without a dma-buf backend, upstream's own
            // dma-bufs still work; anything else fails when copied.
            if backend.is_none_or(|b| b == zc_dmabuf::Backend::Memfd) {
                gst::warning!(
                    CAT,
                    imp = self,
                    "path-preference=dmabuf but no dma-buf allocator works here: proposing no pool"
                );
                return None;
            }
            return Some(allocator);
        }
        let takes_dmabuf = offered
            .dmabuf_formats
            .iter()
            .any(|f| f.fourcc == fourcc && f.modifier == Modifier::LINEAR);
        if backend.is_some_and(|b| b != zc_dmabuf::Backend::Memfd) && !takes_dmabuf {
            // Dma-bufs the compositor cannot import would all be copied:
            // memfds go to wl_shm as they are.
            return Some(ZcDmaBufAllocator::new(BackendSetting::Memfd));
        }
        Some(allocator)
    }
}
