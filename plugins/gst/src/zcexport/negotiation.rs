//! zcexport's negotiation: the caps it offers both ways (the formats zc
//! lays out, dma-buf memory first, DMA_DRM first on 1.24+, then what the
//! other side takes or makes as it is, for formats zc does not lay out;
//! downstream also any raw video, so a refusal can name why), the caps
//! event (output caps, the copy pool, or passing tiled frames and unknown
//! formats on untouched), and the pool proposed upstream.

use gst::prelude::*;
use gst::subclass::prelude::*;
use zc_dmabuf::{Backend, FrameLayout, Modifier};

use super::imp::{CAT, State, ZcExport};
use crate::dialect::{self, Dialect};
use crate::pool::ZcBufferPool;
use crate::pool_proposal::offer_pool;
use crate::{caps, lock};

const DMABUF_FEATURE: &str = "memory:DMABuf";

/// The same caps once with the dma-buf feature (when wanted) and once in
/// system memory, in that order of preference.
fn with_memory_features(caps: &gst::Caps, dmabuf_first: bool) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    let out_mut = out.make_mut(); // just created, refcount 1: never copies
    let features: &[Option<&str>] = if dmabuf_first {
        &[Some(DMABUF_FEATURE), None]
    } else {
        &[None]
    };
    for feature in features {
        for structure in caps.iter() {
            let features = match feature {
                Some(f) => gst::CapsFeatures::new([*f]),
                None => gst::CapsFeatures::new_empty(),
            };
            out_mut.append_structure_full(structure.to_owned(), Some(features));
        }
    }
    out
}

/// `first`, then whatever of `second` it lacks.
fn merged(mut first: gst::Caps, second: gst::Caps) -> gst::Caps {
    first.merge(second);
    first
}

/// `caps` as a caps query's filter leaves them, in the filter's order.
fn filtered(caps: gst::Caps, filter: Option<&gst::CapsRef>) -> gst::Caps {
    match filter {
        Some(filter) => filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
        None => caps,
    }
}

/// The `video/x-raw` structures of `caps`, with their features.
fn raw_part(caps: &gst::Caps) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    let out_mut = out.make_mut(); // just created, refcount 1: never copies
    for (s, f) in caps.iter_with_features() {
        if s.name() == "video/x-raw" {
            out_mut.append_structure_full(s.to_owned(), Some(f.to_owned()));
        }
    }
    out
}

/// The video info of `caps` when they are plain raw video (not DMA_DRM) of
/// a format zc does not lay out.
fn format_zc_does_not_lay_out(caps: &gst::CapsRef) -> Option<gst_video::VideoInfo> {
    if dialect::is_dma_drm(caps) {
        return None;
    }
    gst_video::VideoInfo::from_caps(caps)
        .ok()
        .filter(|info| caps::fourcc_for(info.format()).is_none())
}

/// The pad templates' caps, sink and src: any raw video in; out, the
/// formats zc lays out (as dma-bufs), then any raw video (formats zc does
/// not lay out, passed on unchanged).
pub(super) fn template_caps() -> (gst::Caps, gst::Caps) {
    let any_raw = gst::Caps::builder("video/x-raw").build();
    let sink_caps = merged(
        with_memory_features(&any_raw, false),
        with_memory_features(&any_raw, true),
    );
    let src_caps = merged(
        with_memory_features(&caps::raw_caps(None), true),
        sink_caps.clone(),
    );
    (sink_caps, src_caps)
}

impl ZcExport {
    /// The caps event: the output caps for `caps`, and a new [`State`].
    pub(super) fn set_caps(&self, caps: &gst::CapsRef) -> Result<gst::Caps, String> {
        if let Some(info) = format_zc_does_not_lay_out(caps) {
            return self.set_pass_on_caps(caps, info);
        }
        // Either dialect (1.22's format=NV12, 1.24's DMA_DRM) in one place.
        let (info, drm) = dialect::video_info(caps).map_err(|e| e.to_string())?;
        if drm.modifier != Modifier::LINEAR {
            return self.set_passthrough_caps(caps, info, drm.modifier);
        }
        FrameLayout::compute(
            drm.fourcc,
            info.width(),
            info.height(),
            zc_dmabuf::StrideAlign::DEFAULT,
        )
        .map_err(|err| {
            format!(
                "zc cannot lay out {}x{} {}: {err}",
                info.width(),
                info.height(),
                info.format().to_str()
            )
        })?;
        let allocator = self.allocator();
        let backend = allocator.backend().map_err(|err| err.to_string())?;

        // Output: the same video, in dma-buf memory where downstream takes
        // it: on GStreamer 1.24+ as DMA_DRM first (what stock elements look
        // for), then 1.22's form, then system memory.
        let plain = if dialect::is_dma_drm(caps) {
            info.to_caps()
                .map_err(|_| format!("no caps for {}", info.format().to_str()))?
        } else {
            let mut plain = caps.to_owned();
            plain.make_mut().set_features_simple(None);
            plain
        };
        let dma_bufs = backend != Backend::Memfd;
        let mut candidates = gst::Caps::new_empty();
        if dma_bufs
            && Dialect::runtime() == Dialect::DmaDrm
            && let Some(modern) = plain.structure(0).and_then(dialect::to_dma_drm)
        {
            candidates.merge(modern);
        }
        candidates.merge(with_memory_features(&plain, dma_bufs));
        let peer = self.srcpad.peer_query_caps(Some(&candidates));
        let out_caps = candidates
            .iter_with_features()
            .map(|(s, f)| {
                gst::Caps::builder_full_with_features(f.to_owned())
                    .structure(s.to_owned())
                    .build()
            })
            .find(|candidate| candidate.can_intersect(&peer))
            .ok_or_else(|| self.no_output_caps(drm.fourcc, &candidates))?;

        let copy_pool = ZcBufferPool::new(&allocator);
        let mut config = copy_pool.config();
        config.set_params(Some(&plain), info.size() as u32, 2, 0);
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
        copy_pool.set_config(config).map_err(|_| {
            format!("the copy pool refused {plain} (see the zcpool debug category)")
        })?;
        copy_pool
            .set_active(true)
            .map_err(|err| format!("activating the copy pool: {err}"))?;

        if let Some(old) = lock(&self.state).take()
            && let Some(pool) = old.copy_pool
        {
            // Frames from it still downstream keep their memory; the pool frees the rest.
            let _ = pool.set_active(false);
        }
        gst::info!(
            CAT,
            imp = self,
            "input {caps}, output {out_caps}, backend {backend}"
        );
        let dma_drm_out = dialect::is_dma_drm(&out_caps);
        *lock(&self.state) = Some(State {
            info,
            modifier: Modifier::LINEAR,
            dma_drm_out,
            copy_pool: Some(copy_pool),
            pass_on: false,
            warned_copy: false,
            warned_rows: false,
        });
        Ok(out_caps)
    }

    /// Why downstream takes none of `candidates`: by name, the modifiers
    /// it asks for that zc's allocators cannot make.
    fn no_output_caps(&self, fourcc: zc_dmabuf::Fourcc, candidates: &gst::Caps) -> String {
        let wants = self.srcpad.peer_query_caps(None);
        let tiled: Vec<String> = dialect::drm_formats(&wants)
            .into_iter()
            .filter(|f| f.fourcc == fourcc && f.modifier != Modifier::LINEAR)
            .map(|f| format!("{f} (modifier {})", f.modifier))
            .collect();
        if !tiled.is_empty() {
            format!(
                "downstream takes {fourcc} only as {}: zc's allocators make LINEAR buffers and \
                 cannot make that layout; such frames must come from a producer that makes them \
                 (a hardware decoder), which zcexport then passes on untouched",
                tiled.join(", ")
            )
        } else if wants.is_empty() {
            format!("downstream accepts no caps at all; zcexport offered {candidates}")
        } else {
            format!("downstream accepts neither {candidates}; it takes {wants}")
        }
    }

    /// DMA_DRM input with a modifier zc cannot lay out or copy (a hardware
    /// decoder's tiled frames): handed on untouched, same caps, if
    /// downstream takes them.
    fn set_passthrough_caps(
        &self,
        caps: &gst::CapsRef,
        info: gst_video::VideoInfo,
        modifier: Modifier,
    ) -> Result<gst::Caps, String> {
        let out_caps = caps.to_owned();
        if !self.srcpad.peer_query_accept_caps(&out_caps) {
            return Err(format!(
                "downstream does not take {caps}: frames with modifier {modifier} can only be \
                 passed on as they are (zc neither lays out nor copies them)"
            ));
        }
        gst::info!(CAT, imp = self, "passing {caps} on untouched");
        if let Some(old) = lock(&self.state).take()
            && let Some(pool) = old.copy_pool
        {
            let _ = pool.set_active(false);
        }
        *lock(&self.state) = Some(State {
            info,
            modifier,
            dma_drm_out: true,
            copy_pool: None,
            pass_on: false,
            warned_copy: false,
            warned_rows: false,
        });
        Ok(out_caps)
    }

    /// Raw video of a format zc does not lay out: passed on unchanged (one
    /// warning naming it), if downstream takes it as it is.
    fn set_pass_on_caps(
        &self,
        caps: &gst::CapsRef,
        info: gst_video::VideoInfo,
    ) -> Result<gst::Caps, String> {
        let format = info.format().to_str();
        let out_caps = caps.to_owned();
        if !self.srcpad.peer_query_accept_caps(&out_caps) {
            return Err(format!(
                "downstream does not take {caps}: zc does not lay out {format} (it lays out {}), so \
                 zcexport can only pass such frames on as they are; put a converter (zcvulkanconvert \
                 or videoconvert) where a format downstream takes is needed",
                caps::supported_list()
            ));
        }
        gst::element_imp_warning!(
            self,
            gst::StreamError::Format,
            ("passing {format} frames on unchanged"),
            [
                "zc does not lay out {format} (it lays out {}): frames keep the memory {} put them in and are counted in frames-passed-on",
                caps::supported_list(),
                self.upstream_name()
            ]
        );
        if let Some(old) = lock(&self.state).take()
            && let Some(pool) = old.copy_pool
        {
            let _ = pool.set_active(false);
        }
        *lock(&self.state) = Some(State {
            info,
            modifier: Modifier::LINEAR,
            dma_drm_out: false,
            copy_pool: None,
            pass_on: true,
            warned_copy: false,
            warned_rows: false,
        });
        Ok(out_caps)
    }

    /// Upstream's ALLOCATION query: zc's pool, for linear frames.
    fn propose_allocation(&self, query: &mut gst::query::Allocation) -> bool {
        let (Some(caps), _need_pool) = query.get_owned() else {
            return false;
        };
        // Either dialect; zc's pool makes linear frames only.
        let Ok((info, drm)) = dialect::video_info(&caps) else {
            return false;
        };
        if drm.modifier != Modifier::LINEAR {
            return false;
        }
        // The pool reads 1.22's dialect.
        let caps = if dialect::is_dma_drm(&caps) {
            match info.to_caps() {
                Ok(classic) => classic,
                Err(_) => return false,
            }
        } else {
            caps
        };
        let allocator = self.allocator();
        if let Err(err) = allocator.backend() {
            gst::element_imp_error!(
                self,
                gst::ResourceError::OpenReadWrite,
                ("no dma-buf backend: {err}")
            );
            return false;
        }
        if offer_pool(query, &allocator, &caps, &info).is_err() {
            return false;
        }
        gst::debug!(CAT, imp = self, "proposed a zc pool for {caps}");
        true
    }

    pub(super) fn sink_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Allocation(q) => self.propose_allocation(q),
            gst::QueryViewMut::Caps(q) => {
                // Upstream writes into our pool: it produces system-memory caps
                // for whatever downstream takes (in any memory).
                let downstream = self.srcpad.peer_query_caps(None);
                let mut plain = gst::Caps::new_empty();
                let plain_mut = plain.make_mut();
                for structure in downstream.iter().filter(|s| s.name() == "video/x-raw") {
                    plain_mut.append_structure(structure.to_owned());
                }
                let mut result = plain.intersect(&caps::raw_caps(None));
                if downstream.is_any() {
                    result = caps::raw_caps(None);
                }
                let mut result = merged(
                    with_memory_features(&result, false),
                    with_memory_features(&result, true),
                );
                if Dialect::runtime() == Dialect::DmaDrm {
                    // A producer of DMA_DRM (v4l2src, a VA or V4L2 decoder)
                    // hands its frames on untouched: whatever downstream
                    // takes in that dialect, first.
                    let mut modern = dialect::dma_drm_part(&downstream);
                    modern.merge(result);
                    result = modern;
                }
                // Then what downstream takes as it is, which zcexport passes
                // on unchanged when zc does not lay the format out (a
                // converter upstream sees the truth and converts to one of
                // these when its input is neither).
                let result = merged(result, raw_part(&downstream));
                // Any raw video last, where downstream is ANY, or takes
                // nothing a linear producer makes (only DMA_DRM with
                // modifiers zc cannot lay out): so the stream still reaches
                // the caps event, which says why it is refused.
                let linear_producible = result
                    .iter()
                    .any(|s| s.get::<&str>("format").ok() != Some(dialect::DMA_DRM_FORMAT));
                let result = if downstream.is_any() || !linear_producible {
                    let any_raw = gst::Caps::builder("video/x-raw").build();
                    merged(
                        result,
                        merged(
                            with_memory_features(&any_raw, false),
                            with_memory_features(&any_raw, true),
                        ),
                    )
                } else {
                    result
                };
                q.set_result(&filtered(result, q.filter()));
                true
            }
            gst::QueryViewMut::AcceptCaps(q) => {
                // Any raw video is accepted here, so caps downstream refuses
                // fail in the caps event with a message saying why.
                let accepted = q.caps().iter().all(|s| s.name() == "video/x-raw");
                q.set_result(accepted);
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    pub(super) fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let upstream = self.sinkpad.peer_query_caps(None);
                let base = if upstream.is_any() {
                    caps::raw_caps(None)
                } else {
                    upstream
                };
                let mut plain = base.clone();
                plain.make_mut().set_features_simple(None);
                let dmabuf = self.outputs_dma_bufs();
                let supported = plain.intersect(&caps::raw_caps(None));
                let mut result = gst::Caps::new_empty();
                if Dialect::runtime() == Dialect::DmaDrm {
                    // DMA_DRM first: upstream's own (passed on untouched),
                    // then the formats zc lays out, as dma-bufs.
                    result.merge(dialect::dma_drm_part(&base));
                    if dmabuf {
                        for structure in supported.iter() {
                            for format in caps::strings_of(structure, "format") {
                                let mut one = structure.to_owned();
                                one.set("format", format.as_str());
                                if let Some(modern) = dialect::to_dma_drm(&one) {
                                    result.merge(modern);
                                }
                            }
                        }
                    }
                }
                result.merge(with_memory_features(&supported, dmabuf));
                // Then what upstream makes as it is (formats zc does not lay
                // out are passed on unchanged), then any raw video: so that
                // a downstream that takes only what zc cannot make (a tiled
                // modifier) links, and negotiation refuses it by name.
                let any_raw = gst::Caps::builder("video/x-raw").build();
                let result = merged(
                    merged(result, raw_part(&base)),
                    with_memory_features(&any_raw, dmabuf),
                );
                q.set_result(&filtered(result, q.filter()));
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }
}
