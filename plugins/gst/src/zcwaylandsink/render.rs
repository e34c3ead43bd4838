//! The frame path: each frame shown as it is (its own dma-buf or memfd,
//! imported once and cached) or copied, then presented. What a frame needs
//! of the negotiated stream is read under the stream lock and used without
//! it: importing (a compositor round trip) and presenting hold no lock.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use zc_dmabuf::{Fourcc, Modifier};
use zc_wayland::{FrameBuffer, Interlacing, Presenter, WaylandError};

use super::copy::make_upload_pool;
use super::imp::{CAT, ZcWaylandSink};
use super::import::{FdFrame, describe_frame, interlacing};
use super::settings::PathPreference;
use super::stats::Path;
use crate::frame::{FrameKey, MemoryKind};
use crate::lock;
use crate::pool::ZcBufferPool;

/// Why a frame is copied when nothing more particular applies.
const NOT_IMPORTABLE: &str = "the frame is in memory the compositor cannot import";

/// What a frame needs of the negotiated stream: read under the lock, used
/// without it.
struct StreamView {
    info: gst_video::VideoInfo,
    fourcc: Fourcc,
    modifier: Modifier,
    preference: PathPreference,
    /// Whether the compositor refused this format as a dma-buf before.
    refused: bool,
}

/// A frame ready for the compositor: the buffer it reads (the frame or its
/// copy), that buffer's `wl_buffer`, and the producer's fence.
struct Ready {
    shown: gst::Buffer,
    wl_buffer: Arc<FrameBuffer>,
    fence: Option<OwnedFd>,
}

/// The outcome of trying a frame as it is.
enum AsIs {
    Shown(Ready),
    /// To be copied, for this reason.
    Copy(&'static str),
    /// Not shown: the compositor refused its format, which wl_shm does not
    /// take either; upstream was asked for another format.
    Skip,
}

/// Whether a frame in `kind` memory may be shown as it is (no copy).
fn shown_as_is(preference: PathPreference, kind: MemoryKind) -> bool {
    !matches!(
        (preference, kind),
        (_, MemoryKind::System)
            | (PathPreference::Copy, _)
            | (PathPreference::Shm, MemoryKind::DmaBuf)
            | (PathPreference::DmaBuf, MemoryKind::Fd)
    )
}

/// Whether the compositor's wl_shm takes `fourcc` (where copies of a
/// format it refused as a dma-buf can go).
fn shm_takes(presenter: &Presenter, fourcc: Fourcc) -> bool {
    presenter.capabilities().shm_formats.contains(&fourcc)
}

/// Tells a new frame from the same buffer shown again (the preroll frame is
/// rendered twice): pool buffers are recycled objects, so the pointer alone
/// is not enough.
fn frame_id(buffer: &gst::Buffer) -> u64 {
    let pts = buffer.pts().map_or(u64::MAX, |t| t.nseconds());
    (buffer.as_ptr() as u64).rotate_left(32) ^ pts
}

impl ZcWaylandSink {
    /// VideoSink::show_frame: the window on the first frame, the frame as
    /// it is or copied, presented.
    pub(super) fn render(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let presenter = self.presenter().ok_or_else(|| {
            gst::element_imp_error!(
                self,
                gst::CoreError::StateChange,
                ("no compositor connection")
            );
            gst::FlowError::Error
        })?;
        if !presenter.has_window() {
            self.create_window(&presenter)?;
        }
        self.refresh_orientation(&presenter);
        let mut view = self.stream_view(&presenter)?;
        let ready = match self.try_as_is(&presenter, buffer, &mut view)? {
            AsIs::Shown(ready) => ready,
            // A copy would be a dma-buf of the refused format again.
            AsIs::Copy(_) if view.refused && !shm_takes(&presenter, view.fourcc) => {
                gst::debug!(
                    CAT,
                    imp = self,
                    "skipping a {} frame: waiting for new caps",
                    view.fourcc
                );
                return Ok(gst::FlowSuccess::Ok);
            }
            AsIs::Copy(reason) => self.copy_and_import(&presenter, buffer, &view, reason)?,
            AsIs::Skip => return Ok(gst::FlowSuccess::Ok),
        };
        self.show_composition(&presenter, buffer, &view.info);
        let target = self.target_time(&presenter, buffer);
        presenter
            .present(
                &ready.wl_buffer,
                frame_id(buffer),
                Box::new(ready.shown),
                ready.fence,
                target,
            )
            .map_err(|e| self.compositor_gone(&e))?;
        Ok(gst::FlowSuccess::Ok)
    }

    /// The stream as this frame needs it. When the compositor's dma-buf
    /// feedback changed (e.g. the surface moved to a scanout-capable
    /// output), upstream is asked to negotiate again.
    fn stream_view(&self, presenter: &Presenter) -> Result<StreamView, gst::FlowError> {
        let serial = presenter.feedback_serial();
        let (view, feedback_changed) = {
            let mut stream = lock(&self.stream);
            let Some(stream) = stream.as_mut() else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("a frame arrived before caps")
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            let changed = serial != stream.feedback_serial && stream.feedback_serial != 0;
            stream.feedback_serial = serial;
            let view = StreamView {
                info: stream.info.clone(),
                fourcc: stream.fourcc,
                modifier: stream.modifier,
                preference: stream.path_preference,
                refused: lock(&self.refused_formats).contains(&stream.fourcc),
            };
            (view, changed)
        };
        if feedback_changed {
            gst::info!(CAT, imp = self, "dma-buf feedback changed: renegotiating");
            self.obj()
                .sink_pad()
                .push_event(gst::event::Reconfigure::new());
        }
        Ok(view)
    }

    /// Import the frame's own memory where the preference and the
    /// compositor allow; else say why it is copied. A dma-buf the
    /// compositor refuses marks its format refused: left out of the caps
    /// (upstream is asked to negotiate again) and copied where it still
    /// comes, or skipped when wl_shm cannot take it either.
    fn try_as_is(
        &self,
        presenter: &Presenter,
        buffer: &gst::Buffer,
        view: &mut StreamView,
    ) -> Result<AsIs, gst::FlowError> {
        // A pool buffer shown before with the same inputs: its description
        // and wl_buffer come from its memory's cache.
        let cached = self.cached_frame(presenter, buffer.as_ref(), &view.info, view.modifier);
        let described;
        let frame = match &cached {
            Some(cached) => &cached.frame,
            None => match self.describe(buffer, view)? {
                Some(frame) => {
                    described = frame;
                    &described
                }
                None => return Ok(AsIs::Copy("the frame's planes lack full rows")),
            },
        };
        if !shown_as_is(view.preference, frame.kind) {
            return Ok(AsIs::Copy(match view.preference {
                PathPreference::Copy => "path-preference=copy",
                PathPreference::Shm => "path-preference=shm: dma-bufs are copied into memfds",
                PathPreference::DmaBuf => "path-preference=dmabuf: copied into dma-bufs",
                PathPreference::Auto => NOT_IMPORTABLE,
            }));
        }
        if frame.kind == MemoryKind::DmaBuf && view.refused {
            return Ok(AsIs::Copy(NOT_IMPORTABLE));
        }
        let wl_buffer = match &cached {
            Some(cached) => Ok(cached.buffer.clone()),
            None => {
                let key = FrameKey::of(buffer.as_ref(), &view.info, view.modifier);
                self.wl_buffer_for(presenter, buffer.as_ref(), frame, key)
            }
        };
        match wl_buffer {
            Ok(wl_buffer) => {
                let path = if frame.kind == MemoryKind::DmaBuf {
                    Path::DmaBuf
                } else {
                    Path::Shm
                };
                self.note_path(path, "the frame's own memory is importable");
                Ok(AsIs::Shown(Ready {
                    shown: buffer.clone(),
                    wl_buffer,
                    fence: self.acquire_fence(presenter, frame),
                }))
            }
            Err(e @ (WaylandError::ConnectionLost(_) | WaylandError::Timeout { .. })) => {
                Err(self.compositor_gone(&e))
            }
            Err(e) if view.preference == PathPreference::DmaBuf => {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Write,
                    ("the compositor cannot show this dma-buf, and path-preference=dmabuf allows no fallback: {e}")
                );
                Err(gst::FlowError::Error)
            }
            Err(e) => {
                if frame.kind == MemoryKind::DmaBuf {
                    // Left out of the caps from now on: upstream (a
                    // converter) may make a format the compositor shows.
                    view.refused = true;
                    lock(&self.refused_formats).insert(view.fourcc);
                    self.obj()
                        .sink_pad()
                        .push_event(gst::event::Reconfigure::new());
                    if !shm_takes(presenter, view.fourcc) {
                        gst::element_imp_warning!(
                            self,
                            gst::ResourceError::Write,
                            ("asking upstream for another format: {e}"),
                            [
                                "wl_shm does not take {} either, so such frames cannot be copied",
                                view.fourcc
                            ]
                        );
                        return Ok(AsIs::Skip);
                    }
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::Write,
                        ("falling back to copies into shared memory: {e}")
                    );
                } else {
                    gst::debug!(CAT, imp = self, "cannot show the memfd directly: {e}");
                }
                Ok(AsIs::Copy(NOT_IMPORTABLE))
            }
        }
    }

    /// The frame under the frame model; None where its bytes are all
    /// there but a compositor would kill the connection for it (it is
    /// copied, with one warning); an error for a frame that is not one.
    fn describe(
        &self,
        buffer: &gst::Buffer,
        view: &StreamView,
    ) -> Result<Option<FdFrame>, gst::FlowError> {
        match describe_frame(buffer.as_ref(), &view.info, view.modifier) {
            Ok(frame) => Ok(Some(frame)),
            Err(reason) if reason.is_copyable() => {
                if self.first_copyable_warning() {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Format,
                        ("copying frames the compositor would refuse"),
                        ["{reason}"]
                    );
                }
                Ok(None)
            }
            Err(reason) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ("invalid frame"),
                    ["{reason}"]
                );
                Err(gst::FlowError::Error)
            }
        }
    }

    /// Copy the frame into the upload pool and import the copy. Tiled or
    /// compressed frames cannot be copied: an error saying why they were
    /// not shown as they are.
    fn copy_and_import(
        &self,
        presenter: &Presenter,
        buffer: &gst::Buffer,
        view: &StreamView,
        reason: &'static str,
    ) -> Result<Ready, gst::FlowError> {
        let (fourcc, modifier) = (view.fourcc, view.modifier);
        if modifier != Modifier::LINEAR {
            // The CPU cannot read a tiled or compressed frame as rows.
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("the compositor did not take a {fourcc} frame with modifier {modifier}, and such frames cannot be copied by the CPU"),
                ["{reason}"]
            );
            return Err(gst::FlowError::Error);
        }
        let pool = self.upload_pool(presenter, view)?;
        let shown = self.copy_frame(buffer, &view.info, &pool).map_err(|e| {
            gst::element_imp_error!(
                self,
                gst::ResourceError::Write,
                ("cannot copy a frame: {e}")
            );
            gst::FlowError::Error
        })?;
        let mut frame =
            describe_frame(shown.as_ref(), &view.info, Modifier::LINEAR).map_err(|e| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ("invalid pooled frame"),
                    ["{e}"]
                );
                gst::FlowError::Error
            })?;
        // The copy has the content, not the buffer's flags. When the
        // compositor refused the original (interlaced, say), the copy
        // is shown as it is: fields woven, as a progressive frame.
        frame.interlacing = if view.refused {
            Interlacing::Progressive
        } else {
            interlacing(buffer.as_ref(), &view.info)
        };
        self.note_path(Path::Copy, reason);
        let fence = self.acquire_fence(presenter, &frame);
        let wl_buffer = self
            .wl_buffer_for(presenter, shown.as_ref(), &frame, None)
            .map_err(|e| {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Write,
                    ("the compositor cannot show {fourcc} frames: {e}")
                );
                gst::FlowError::Error
            })?;
        Ok(Ready {
            shown,
            wl_buffer,
            fence,
        })
    }

    /// The stream's upload pool, made on its first copy.
    fn upload_pool(
        &self,
        presenter: &Presenter,
        view: &StreamView,
    ) -> Result<ZcBufferPool, gst::FlowError> {
        if let Some(pool) = lock(&self.stream)
            .as_ref()
            .and_then(|s| s.upload_pool.clone())
        {
            return Ok(pool);
        }
        let pool =
            make_upload_pool(presenter, view.fourcc, &view.info, view.preference).map_err(|e| {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::NoSpaceLeft,
                    ("cannot copy frames: {e}")
                );
                gst::FlowError::Error
            })?;
        if let Some(stream) = lock(&self.stream).as_mut() {
            stream.upload_pool = Some(pool.clone());
        }
        Ok(pool)
    }

    /// Whether this is the stream's first frame that is copied for lacking
    /// full rows (warned about once).
    fn first_copyable_warning(&self) -> bool {
        lock(&self.stream)
            .as_mut()
            .is_some_and(|s| !std::mem::replace(&mut s.warned_copyable, true))
    }

    /// The error for a connection the compositor closed or stopped answering.
    fn compositor_gone(&self, e: &WaylandError) -> gst::FlowError {
        gst::element_imp_error!(
            self,
            gst::ResourceError::Write,
            ("the compositor went away: {e}")
        );
        gst::FlowError::Error
    }

    /// Log the way frames take when it changes.
    fn note_path(&self, path: Path, why: &str) {
        let mut stream = lock(&self.stream);
        let Some(stream) = stream.as_mut() else {
            return;
        };
        if stream.last_path != Some(path) {
            gst::info!(
                CAT,
                imp = self,
                "showing {} frames via {}: {why}",
                stream.fourcc,
                path.name()
            );
            stream.last_path = Some(path);
        }
    }
}
