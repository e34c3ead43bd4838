use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use zc_dmabuf::{Backend, FrameLayout, Modifier};

use crate::allocator::{BackendSetting, ZcDmaBufAllocator, is_zc_memory};
use crate::dialect::{self, Dialect};
use crate::frame::{Frame, FrameError};
use crate::pool::ZcBufferPool;
use crate::{caps, lock};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcexport",
        gst::DebugColorFlags::empty(),
        Some("zc dma-buf export"),
    )
});

const DMABUF_FEATURE: &str = "memory:DMABuf";

/// What to do with a frame that arrives in system memory.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcExportCopyMode")]
pub enum CopyMode {
    #[default]
    #[enum_value(name = "Allow: copy it into a pooled dma-buf", nick = "allow")]
    Allow,
    #[enum_value(
        name = "Warn: copy it, and post a warning naming the upstream element (once)",
        nick = "warn"
    )]
    Warn,
    #[enum_value(
        name = "Forbid: fail with an error naming the upstream element that ignored the pool",
        nick = "forbid"
    )]
    Forbid,
}

#[derive(Debug, Clone, Default)]
struct Settings {
    copy_mode: CopyMode,
    backend: BackendSetting,
}

/// Negotiated per-stream state.
struct State {
    info: gst_video::VideoInfo,
    /// From DMA_DRM input caps; LINEAR otherwise. Frames with another
    /// modifier are only passed on, never copied.
    modifier: Modifier,
    /// Whether the output caps are DMA_DRM, whose readers need a VideoMeta
    /// on every buffer.
    dma_drm_out: bool,
    /// Where copied frames go; made for the current caps.
    copy_pool: Option<ZcBufferPool>,
    warned_copy: bool,
    /// Whether frames lacking full rows were warned about (once).
    warned_rows: bool,
}

#[derive(Default)]
struct Counters {
    frames_in: AtomicU64,
    frames_zero_copy: AtomicU64,
    frames_copied: AtomicU64,
    bytes_copied: AtomicU64,
}

pub struct ZcExport {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    allocator: Mutex<Option<ZcDmaBufAllocator>>,
    counters: Counters,
}

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

/// The formats a caps structure allows: one, or each of a list.
fn formats_of(structure: &gst::StructureRef) -> Vec<String> {
    if let Ok(format) = structure.get::<String>("format") {
        return vec![format];
    }
    structure
        .get::<gst::List>("format")
        .map(|list| list.iter().filter_map(|v| v.get::<String>().ok()).collect())
        .unwrap_or_default()
}

/// `buffer` with a VideoMeta (the layout `info` describes) if it has none:
/// readers of DMA_DRM caps take plane offsets and strides only from it.
fn with_video_meta(
    mut buffer: gst::Buffer,
    info: &gst_video::VideoInfo,
) -> Result<gst::Buffer, gst::FlowError> {
    if buffer.meta::<gst_video::VideoMeta>().is_some() {
        return Ok(buffer);
    }
    gst_video::VideoMeta::add_full(
        buffer.make_mut(),
        gst_video::VideoFrameFlags::empty(),
        info.format(),
        info.width(),
        info.height(),
        info.offset(),
        info.stride(),
    )
    .map_err(|_| gst::FlowError::Error)?;
    Ok(buffer)
}

impl ZcExport {
    fn allocator(&self) -> ZcDmaBufAllocator {
        let mut allocator = lock(&self.allocator);
        allocator
            .get_or_insert_with(|| ZcDmaBufAllocator::new(lock(&self.settings).backend))
            .clone()
    }

    fn outputs_dma_bufs(&self) -> bool {
        self.allocator()
            .backend()
            .map(|b| b != Backend::Memfd)
            .unwrap_or(false)
    }

    fn upstream_name(&self) -> String {
        self.sinkpad
            .peer()
            .and_then(|peer| peer.parent_element())
            .map(|element| element.name().to_string())
            .unwrap_or_else(|| "the upstream element".to_owned())
    }

    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.counters.frames_in.fetch_add(1, Ordering::Relaxed);
        let (info, copy_pool, modifier, dma_drm_out) = {
            let state = lock(&self.state);
            let Some(state) = state.as_ref() else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("received a buffer before caps")
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            (
                state.info.clone(),
                state.copy_pool.clone(),
                state.modifier,
                state.dma_drm_out,
            )
        };
        let full_rows = self.validate_layout(&buffer, &info, modifier)?;

        let zero_copy = full_rows
            && buffer.n_memory() > 0
            && buffer
                .iter_memories()
                .all(|m| m.is_memory_type::<gst_allocators::DmaBufMemory>() || is_zc_memory(m));
        if zero_copy {
            self.counters
                .frames_zero_copy
                .fetch_add(1, Ordering::Relaxed);
            gst::trace!(
                CAT,
                imp = self,
                "passing {:?} through untouched",
                buffer.pts()
            );
            let buffer = if dma_drm_out {
                with_video_meta(buffer, &info)?
            } else {
                buffer
            };
            return self.srcpad.push(buffer);
        }
        if modifier != Modifier::LINEAR {
            // Tiled or compressed pixels: the CPU cannot copy them as rows.
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("a frame with modifier {modifier} is not a dma-buf zcexport can pass on"),
                [
                    "{} produced it in memory that is neither a dma-buf nor zc's, and such frames cannot be copied by the CPU",
                    self.upstream_name()
                ]
            );
            return Err(gst::FlowError::Error);
        }

        let mode = lock(&self.settings).copy_mode;
        let upstream = self.upstream_name();
        match mode {
            // Frames lacking full rows: warned about once already.
            CopyMode::Forbid if !full_rows => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("a frame lacks full rows and copy-mode=forbid"),
                    [
                        "{upstream} produced planes whose last row is short; set copy-mode=allow (or warn) to copy them"
                    ]
                );
                return Err(gst::FlowError::Error);
            }
            _ if !full_rows => {}
            CopyMode::Forbid => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("a frame arrived in system memory and copy-mode=forbid"),
                    [
                        "{upstream} ignored the dma-buf pool zcexport proposed and produced system memory; \
                      let it allocate from the pool, or set copy-mode=allow (or warn) to copy"
                    ]
                );
                return Err(gst::FlowError::Error);
            }
            CopyMode::Warn => {
                let first = {
                    let mut state = lock(&self.state);
                    state
                        .as_mut()
                        .map(|s| !std::mem::replace(&mut s.warned_copy, true))
                        .unwrap_or(false)
                };
                if first {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Format,
                        ("copying frames from system memory into dma-bufs"),
                        [
                            "{upstream} ignored the dma-buf pool zcexport proposed; every frame costs a CPU copy"
                        ]
                    );
                }
            }
            CopyMode::Allow => {}
        }
        let Some(pool) = copy_pool else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("no pool for copies: caps were not set up")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let out = self.copy_into_pool(&buffer, &info, &pool)?;
        let out = if dma_drm_out {
            with_video_meta(out, &info)?
        } else {
            out
        };
        self.counters.frames_copied.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_copied
            .fetch_add(info.size() as u64, Ordering::Relaxed);
        self.srcpad.push(out)
    }

    /// Check the frame under the plugin's frame model ([`Frame`]): refuse
    /// one whose planes or memories reach past the real end of its memory
    /// or fds (nobody may read past a buffer, least of all a GPU, and a
    /// memfd shorter than its memory claims crashes whoever maps it, so not
    /// even a copy is safe). `Ok(false)`: its bytes are all there but its
    /// planes lack full rows, so it is copied (one warning), not passed on.
    fn validate_layout(
        &self,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        modifier: Modifier,
    ) -> Result<bool, gst::FlowError> {
        match Frame::from_buffer_with_modifier(buffer, info, modifier) {
            Ok(_) | Err(FrameError::UnsupportedFormat(_)) => Ok(true),
            Err(err) if err.is_copyable() => {
                let first = lock(&self.state)
                    .as_mut()
                    .map(|s| !std::mem::replace(&mut s.warned_rows, true))
                    .unwrap_or(false);
                if first {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Format,
                        ("copying frames whose planes lack full rows"),
                        ["{err}; the frames came from {}", self.upstream_name()]
                    );
                }
                Ok(false)
            }
            Err(err) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    (
                        "a {}-byte buffer does not hold the frame its layout describes",
                        buffer.size()
                    ),
                    ["{err}; the frame came from {}", self.upstream_name()]
                );
                Err(gst::FlowError::Error)
            }
        }
    }

    fn copy_into_pool(
        &self,
        input: &gst::Buffer,
        info: &gst_video::VideoInfo,
        pool: &ZcBufferPool,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let mut out = pool.acquire_buffer(None).inspect_err(|err| {
            gst::element_imp_error!(
                self,
                gst::ResourceError::NoSpaceLeft,
                ("no dma-buf for a copy: {err:?}")
            );
        })?;
        {
            let out_mut = out.get_mut().ok_or(gst::FlowError::Error)?;
            let src = gst_video::VideoFrameRef::from_buffer_ref_readable(input.as_ref(), info)
                .map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        ("cannot map an input frame for reading")
                    );
                    gst::FlowError::Error
                })?;
            let mut dst = gst_video::VideoFrameRef::from_buffer_ref_writable(out_mut, info)
                .map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Write,
                        ("cannot map a pooled dma-buf for writing")
                    );
                    gst::FlowError::Error
                })?;
            src.copy(&mut dst).map_err(|err| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ("copying a frame: {err}"));
                gst::FlowError::Error
            })?;
        }
        let out_mut = out.get_mut().ok_or(gst::FlowError::Error)?;
        out_mut.set_pts(input.pts());
        out_mut.set_dts(input.dts());
        out_mut.set_duration(input.duration());
        out_mut.set_offset(input.offset());
        out_mut.set_offset_end(input.offset_end());
        out_mut.set_flags(input.flags() & !gst::BufferFlags::TAG_MEMORY);
        Ok(out)
    }

    fn set_caps(&self, caps: &gst::CapsRef) -> Result<gst::Caps, String> {
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
            warned_copy: false,
            warned_rows: false,
        });
        Ok(out_caps)
    }

    fn post_stats(&self) {
        let c = &self.counters;
        let s = gst::Structure::builder("zc-export-stats")
            .field("frames-in", c.frames_in.load(Ordering::Relaxed))
            .field(
                "frames-zero-copy",
                c.frames_zero_copy.load(Ordering::Relaxed),
            )
            .field("frames-copied", c.frames_copied.load(Ordering::Relaxed))
            .field("bytes-copied", c.bytes_copied.load(Ordering::Relaxed))
            .build();
        gst::info!(CAT, imp = self, "{s}");
        let _ = self
            .obj()
            .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(caps_event) => match self.set_caps(caps_event.caps()) {
                Ok(out_caps) => self.srcpad.push_event(gst::event::Caps::new(&out_caps)),
                Err(reason) => {
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Negotiation,
                        ("cannot negotiate: {reason}")
                    );
                    false
                }
            },
            gst::EventView::Eos(_) => {
                self.post_stats();
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

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
        let pool = ZcBufferPool::new(&allocator);
        let mut config = pool.config();
        config.set_params(Some(&caps), info.size() as u32, 2, 0);
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
        if pool.set_config(config).is_err() {
            return false;
        }
        let size = pool
            .config()
            .params()
            .map(|(_, size, _, _)| size)
            .unwrap_or(info.size() as u32);
        // max 0: libav drops a pool that caps its buffers below 32.
        query.add_allocation_pool(Some(&pool), size, 2, 0);
        query.add_allocation_param(Some(&allocator), gst::AllocationParams::default());
        query.add_allocation_meta::<gst_video::VideoMeta>(None);
        gst::debug!(CAT, imp = self, "proposed a zc pool for {caps}");
        true
    }

    fn sink_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
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
                // Last and least preferred: any raw video, so a producer that
                // can only make an unsupported format still links, and the caps
                // event then says which formats would work.
                let any_raw = gst::Caps::builder("video/x-raw").build();
                let result = merged(
                    result,
                    merged(
                        with_memory_features(&any_raw, false),
                        with_memory_features(&any_raw, true),
                    ),
                );
                let result = match q.filter() {
                    Some(filter) => {
                        filter.intersect_with_mode(&result, gst::CapsIntersectMode::First)
                    }
                    None => result,
                };
                q.set_result(&result);
                true
            }
            gst::QueryViewMut::AcceptCaps(q) => {
                // Any raw video is accepted here, so an unsupported format
                // fails in the caps event with a message listing what works.
                let accepted = q.caps().iter().all(|s| s.name() == "video/x-raw");
                q.set_result(accepted);
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
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
                            for format in formats_of(structure) {
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
                // As on the sink side: anything else only to refuse it with reasons.
                let result = merged(
                    result,
                    with_memory_features(&gst::Caps::builder("video/x-raw").build(), dmabuf),
                );
                let result = match q.filter() {
                    Some(filter) => {
                        filter.intersect_with_mode(&result, gst::CapsIntersectMode::First)
                    }
                    None => result,
                };
                q.set_result(&result);
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ZcExport {
    const NAME: &'static str = "GstZcExport";
    type Type = super::ZcExport;
    type ParentType = gst::Element;

    #[allow(clippy::expect_used)] // ok: class_init registers both templates
    fn with_class(klass: &Self::Class) -> Self {
        let sink_template = klass
            .pad_template("sink")
            .expect("sink template is registered below"); // ok: class_init
        let sinkpad = gst::Pad::builder_from_template(&sink_template)
            .chain_function(|pad, parent, buffer| {
                ZcExport::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                ZcExport::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                ZcExport::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_query(pad, query),
                )
            })
            .build();
        let src_template = klass
            .pad_template("src")
            .expect("src template is registered below"); // ok: class_init
        let srcpad = gst::Pad::builder_from_template(&src_template)
            .query_function(|pad, parent, query| {
                ZcExport::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_query(pad, query),
                )
            })
            .build();
        Self {
            sinkpad,
            srcpad,
            settings: Mutex::default(),
            state: Mutex::default(),
            allocator: Mutex::default(),
            counters: Counters::default(),
        }
    }
}

impl ObjectImpl for ZcExport {
    #[allow(clippy::expect_used)] // ok: a fresh element takes its pads
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad)
            .expect("a fresh element takes its pads"); // ok: construction
        obj.add_pad(&self.srcpad)
            .expect("a fresh element takes its pads"); // ok: construction
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let counter = |name: &'static str, nick: &'static str, blurb: &'static str| {
                glib::ParamSpecUInt64::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .read_only()
                    .build()
            };
            vec![
                glib::ParamSpecEnum::builder::<CopyMode>("copy-mode")
                    .nick("Copy mode")
                    .blurb("What to do with a frame that arrives in system memory instead of a dma-buf")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder::<BackendSetting>("backend")
                    .nick("Backend")
                    .blurb("Where the proposed pool's dma-bufs come from; `auto` honours $ZC_BACKEND, then tries heap, udmabuf, gbm, memfd")
                    .mutable_ready()
                    .build(),
                counter("frames-in", "Frames in", "Frames received"),
                counter("frames-zero-copy", "Zero-copy frames", "Frames passed on without a copy (dma-buf or zc memory)"),
                counter("frames-copied", "Copied frames", "Frames copied from system memory into a dma-buf"),
                counter("bytes-copied", "Bytes copied", "Bytes the CPU copied (visible frame size per copied frame)"),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = lock(&self.settings);
        match pspec.name() {
            "copy-mode" => settings.copy_mode = value.get().unwrap_or_default(),
            "backend" => {
                settings.backend = value.get().unwrap_or_default();
                // The next negotiation opens the new backend.
                *lock(&self.allocator) = None;
            }
            other => gst::warning!(CAT, imp = self, "no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let c = &self.counters;
        match pspec.name() {
            "copy-mode" => lock(&self.settings).copy_mode.to_value(),
            "backend" => lock(&self.settings).backend.to_value(),
            "frames-in" => c.frames_in.load(Ordering::Relaxed).to_value(),
            "frames-zero-copy" => c.frames_zero_copy.load(Ordering::Relaxed).to_value(),
            "frames-copied" => c.frames_copied.load(Ordering::Relaxed).to_value(),
            "bytes-copied" => c.bytes_copied.load(Ordering::Relaxed).to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for ZcExport {}

impl ElementImpl for ZcExport {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "zc dma-buf export",
                "Filter/Video",
                "Proposes a dma-buf pool upstream so decoders write into dma-bufs, passes dma-buf frames on \
                 untouched, and copies system-memory frames into dma-bufs only when it must",
                "zc developers",
            )
        });
        Some(&*METADATA)
    }

    #[allow(clippy::expect_used)] // ok: templates from static caps
    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let any_raw = gst::Caps::builder("video/x-raw").build();
            let sink_caps = merged(
                with_memory_features(&any_raw, false),
                with_memory_features(&any_raw, true),
            );
            // The formats zc lays out, then any raw video: accepted at link
            // time only so that negotiation can fail with a message that
            // lists the supported formats.
            let src_caps = merged(
                with_memory_features(&caps::raw_caps(None), true),
                sink_caps.clone(),
            );
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &sink_caps,
                )
                .expect("valid sink template"), // ok: static caps
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src_caps,
                )
                .expect("valid src template"), // ok: static caps
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            let c = &self.counters;
            for counter in [
                &c.frames_in,
                &c.frames_zero_copy,
                &c.frames_copied,
                &c.bytes_copied,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady
            && let Some(state) = lock(&self.state).take()
            && let Some(pool) = state.copy_pool
        {
            let _ = pool.set_active(false);
        }
        Ok(result)
    }
}
