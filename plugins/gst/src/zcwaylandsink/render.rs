//! The frame path: each frame shown as it is (its own dma-buf or memfd,
//! imported once and cached) or copied, then presented.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use zc_dmabuf::Modifier;
use zc_wayland::{FrameBuffer, Interlacing, Presenter, WaylandError};

use super::copy::make_upload_pool;
use super::imp::{CAT, Stream, ZcWaylandSink};
use super::import::{describe_frame, interlacing};
use super::settings::PathPreference;
use super::stats::Path;
use crate::frame::MemoryKind;
use crate::lock;

/// Why a frame is copied when nothing more particular applies.
const NOT_IMPORTABLE: &str = "the frame is in memory the compositor cannot import";

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
        let mut stream_guard = lock(&self.stream);
        let Some(stream) = stream_guard.as_mut() else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("a frame arrived before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        self.check_feedback(&presenter, stream);
        let ready = match self.try_as_is(&presenter, buffer, stream)? {
            AsIs::Shown(ready) => ready,
            AsIs::Copy(reason) => self.copy_and_import(&presenter, buffer, stream, reason)?,
        };
        drop(stream_guard);
        presenter
            .present(
                &ready.wl_buffer,
                frame_id(buffer),
                Box::new(ready.shown),
                ready.fence,
            )
            .map_err(|e| {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Write,
                    ("the compositor went away: {e}")
                );
                gst::FlowError::Error
            })?;
        Ok(gst::FlowSuccess::Ok)
    }

    /// When the compositor's dma-buf feedback changed (e.g. the surface
    /// moved to a scanout-capable output), ask upstream to negotiate again.
    fn check_feedback(&self, presenter: &Presenter, stream: &mut Stream) {
        let serial = presenter.feedback_serial();
        if serial != stream.feedback_serial {
            if stream.feedback_serial != 0 {
                gst::info!(CAT, imp = self, "dma-buf feedback changed: renegotiating");
                self.obj()
                    .sink_pad()
                    .push_event(gst::event::Reconfigure::new());
            }
            stream.feedback_serial = serial;
        }
    }

    /// Import the frame's own memory where the preference and the
    /// compositor allow; else say why it is copied. A dma-buf the
    /// compositor refuses marks its format refused (copied from then on).
    fn try_as_is(
        &self,
        presenter: &Presenter,
        buffer: &gst::Buffer,
        stream: &mut Stream,
    ) -> Result<AsIs, gst::FlowError> {
        let preference = stream.path_preference;
        let frame = match describe_frame(buffer.as_ref(), &stream.info, stream.modifier) {
            Ok(frame) => frame,
            Err(reason) if reason.is_copyable() => {
                // Its bytes are all there, but a compositor would kill the
                // connection for it: copied, with one warning.
                if !std::mem::replace(&mut stream.warned_copyable, true) {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Format,
                        ("copying frames the compositor would refuse"),
                        ["{reason}"]
                    );
                }
                return Ok(AsIs::Copy("the frame's planes lack full rows"));
            }
            Err(reason) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ("invalid frame"),
                    ["{reason}"]
                );
                return Err(gst::FlowError::Error);
            }
        };
        if !shown_as_is(preference, frame.kind) {
            return Ok(AsIs::Copy(match preference {
                PathPreference::Copy => "path-preference=copy",
                PathPreference::Shm => "path-preference=shm: dma-bufs are copied into memfds",
                PathPreference::DmaBuf => "path-preference=dmabuf: copied into dma-bufs",
                PathPreference::Auto => NOT_IMPORTABLE,
            }));
        }
        if frame.kind == MemoryKind::DmaBuf && stream.refused.contains(&stream.fourcc) {
            return Ok(AsIs::Copy(NOT_IMPORTABLE));
        }
        match self.wl_buffer_for(presenter, buffer.as_ref(), &frame) {
            Ok(wl_buffer) => {
                let path = if frame.kind == MemoryKind::DmaBuf {
                    Path::DmaBuf
                } else {
                    Path::Shm
                };
                self.note_path(stream, path, "the frame's own memory is importable");
                Ok(AsIs::Shown(Ready {
                    shown: buffer.clone(),
                    wl_buffer,
                    fence: self.acquire_fence(presenter, &frame),
                }))
            }
            Err(e @ (WaylandError::ConnectionLost(_) | WaylandError::Timeout { .. })) => {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Write,
                    ("the compositor went away: {e}")
                );
                Err(gst::FlowError::Error)
            }
            Err(e) if preference == PathPreference::DmaBuf => {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Write,
                    ("the compositor cannot show this dma-buf, and path-preference=dmabuf allows no fallback: {e}")
                );
                Err(gst::FlowError::Error)
            }
            Err(e) => {
                if frame.kind == MemoryKind::DmaBuf {
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::Write,
                        ("falling back to copies into shared memory: {e}")
                    );
                    stream.refused.insert(stream.fourcc);
                } else {
                    gst::debug!(CAT, imp = self, "cannot show the memfd directly: {e}");
                }
                Ok(AsIs::Copy(NOT_IMPORTABLE))
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
        stream: &mut Stream,
        reason: &'static str,
    ) -> Result<Ready, gst::FlowError> {
        let (fourcc, modifier) = (stream.fourcc, stream.modifier);
        let info = stream.info.clone();
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
        if stream.upload_pool.is_none() {
            let pool = make_upload_pool(presenter, fourcc, &info, stream.path_preference).map_err(
                |e| {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::NoSpaceLeft,
                        ("cannot copy frames: {e}")
                    );
                    gst::FlowError::Error
                },
            )?;
            stream.upload_pool = Some(pool);
        }
        let Some(pool) = stream.upload_pool.as_ref() else {
            return Err(gst::FlowError::Error);
        };
        let shown = self.copy_frame(buffer, &info, pool).map_err(|e| {
            gst::element_imp_error!(
                self,
                gst::ResourceError::Write,
                ("cannot copy a frame: {e}")
            );
            gst::FlowError::Error
        })?;
        let mut frame = describe_frame(shown.as_ref(), &info, Modifier::LINEAR).map_err(|e| {
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
        frame.interlacing = if stream.refused.contains(&fourcc) {
            Interlacing::Progressive
        } else {
            interlacing(buffer.as_ref(), &info)
        };
        self.note_path(stream, Path::Copy, reason);
        let fence = self.acquire_fence(presenter, &frame);
        let wl_buffer = self
            .wl_buffer_for(presenter, shown.as_ref(), &frame)
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

    /// Log the way frames take when it changes.
    fn note_path(&self, stream: &mut Stream, path: Path, why: &str) {
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
