//! What the compositor imports: linux-dmabuf v3 `format`/`modifier` events,
//! or v4+ feedback (the default one, then the surface's), gathered into
//! [`Capabilities`].

use std::collections::BTreeSet;
use std::sync::Mutex;

use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::wp::linux_dmabuf::zv1::client::{
    zwp_linux_dmabuf_feedback_v1::{self, ZwpLinuxDmabufFeedbackV1},
    zwp_linux_dmabuf_v1::{self, ZwpLinuxDmabufV1},
};
use zc_dmabuf::{Fourcc, Modifier};

use super::State;
use super::color_management::ColorManagementSupport;
use super::representation::RepresentationSupport;
use crate::feedback::{Feedback, FormatModifier, FormatTable, Tranche, dev_from_array};
use crate::lock;

/// What the compositor offers for buffers.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    /// linux-dmabuf version bound (0: none).
    pub dmabuf_version: u32,
    /// Pairs the compositor imports (v3 events, or v4+ default feedback).
    pub dmabuf_formats: BTreeSet<FormatModifier>,
    /// The latest complete feedback (v4+), the surface's once it has one.
    pub feedback: Option<Feedback>,
    /// Fourccs wl_shm accepts.
    pub shm_formats: BTreeSet<Fourcc>,
    pub has_viewporter: bool,
    pub has_presentation: bool,
    /// `zwp_linux_explicit_synchronization_v1` version bound (0: none).
    pub explicit_sync_version: u32,
    /// `wp_linux_drm_syncobj_manager_v1` (explicit sync with timelines).
    pub has_drm_syncobj: bool,
    /// `wp_fifo_manager_v1` and `wp_commit_timing_manager_v1`: the
    /// compositor paces frames committed ahead with a target time.
    pub has_fifo: bool,
    pub has_commit_timing: bool,
    /// `wp_color_representation_manager_v1`'s support (None: no such global).
    pub color_representation: Option<RepresentationSupport>,
    /// `wp_color_manager_v1`'s support (None: no such global).
    pub color_management: Option<ColorManagementSupport>,
}

#[derive(Default)]
struct FeedbackBuilder {
    table: Option<FormatTable>,
    main_device: Option<libc::dev_t>,
    tranche: Tranche,
    tranches: Vec<Tranche>,
    error: Option<String>,
}

/// Whose feedback an object carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FeedbackScope {
    Default,
    Surface,
}

/// A feedback object's events, gathered until its `done`.
pub(super) struct FeedbackData {
    scope: FeedbackScope,
    builder: Mutex<FeedbackBuilder>,
}

impl FeedbackData {
    pub(super) fn new(scope: FeedbackScope) -> FeedbackData {
        FeedbackData {
            scope,
            builder: Mutex::default(),
        }
    }
}

pub(super) fn describe(formats: &BTreeSet<FormatModifier>) -> String {
    if formats.is_empty() {
        return "nothing".to_owned();
    }
    formats
        .iter()
        .map(|f| format!("{}:{}", f.fourcc, f.modifier))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Dispatch<ZwpLinuxDmabufV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxDmabufV1,
        event: zwp_linux_dmabuf_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut inner = lock(&state.shared.inner);
        match event {
            // v3: formats arrive as events (v4+ sends none of these).
            zwp_linux_dmabuf_v1::Event::Modifier {
                format,
                modifier_hi,
                modifier_lo,
            } => {
                let modifier = Modifier((u64::from(modifier_hi) << 32) | u64::from(modifier_lo));
                inner.caps.dmabuf_formats.insert(FormatModifier {
                    fourcc: Fourcc(format),
                    modifier,
                });
            }
            zwp_linux_dmabuf_v1::Event::Format { format } => {
                inner.caps.dmabuf_formats.insert(FormatModifier {
                    fourcc: Fourcc(format),
                    modifier: Modifier::INVALID,
                });
            }
            _ => {}
        }
    }
}

impl Dispatch<ZwpLinuxDmabufFeedbackV1, FeedbackData> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxDmabufFeedbackV1,
        event: zwp_linux_dmabuf_feedback_v1::Event,
        data: &FeedbackData,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwp_linux_dmabuf_feedback_v1::Event;
        let mut builder = lock(&data.builder);
        match event {
            Event::FormatTable { fd, size } => match FormatTable::read(fd, size) {
                Ok(table) => builder.table = Some(table),
                Err(e) => builder.error = Some(e.to_string()),
            },
            Event::MainDevice { device } => builder.main_device = dev_from_array(&device),
            Event::TrancheTargetDevice { device } => {
                builder.tranche.target_device = dev_from_array(&device)
            }
            Event::TrancheFlags { flags } => {
                builder.tranche.scanout = match flags {
                    WEnum::Value(f) => {
                        f.contains(zwp_linux_dmabuf_feedback_v1::TrancheFlags::Scanout)
                    }
                    WEnum::Unknown(bits) => bits & 1 != 0,
                };
            }
            Event::TrancheFormats { indices } => {
                let resolved = builder.table.as_ref().map(|t| t.resolve(&indices));
                match resolved {
                    Some(Ok(formats)) => builder.tranche.formats.extend(formats),
                    Some(Err(e)) => builder.error = Some(e.to_string()),
                    None => {
                        builder.error = Some("tranche formats before any format table".to_owned())
                    }
                }
            }
            Event::TrancheDone => {
                let tranche = std::mem::take(&mut builder.tranche);
                builder.tranches.push(tranche);
            }
            Event::Done => {
                let feedback = Feedback {
                    main_device: builder.main_device,
                    tranches: std::mem::take(&mut builder.tranches),
                };
                if let Some(error) = builder.error.take() {
                    log::warn!("ignoring dma-buf feedback: {error}");
                    return;
                }
                drop(builder);
                let mut inner = lock(&state.shared.inner);
                // Surface feedback wins over the default once it exists.
                let is_surface = data.scope == FeedbackScope::Surface;
                if is_surface {
                    inner.surface_feedback_seen = true;
                }
                if inner.caps.feedback.as_ref() != Some(&feedback)
                    && (is_surface || !inner.surface_feedback_seen)
                {
                    inner.caps.dmabuf_formats = feedback.formats();
                    inner.caps.feedback = Some(feedback);
                    inner.feedback_serial += 1;
                }
                drop(inner);
                state.shared.changed.notify_all();
            }
            _ => {}
        }
    }
}
