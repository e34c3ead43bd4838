//! The compositor connection: which display (the application's, shared
//! through a GstContext as GStreamer's `waylandsink` takes it, a named one,
//! or `$WAYLAND_DISPLAY`), connecting to it, and answering upstream's
//! context queries with the display in use.

use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use zc_wayland::{DisplayTarget, Presenter, WaylandError};

use super::imp::{CAT, ZcWaylandSink};
use crate::lock;

/// The GstContext type that carries an application's `struct wl_display *`
/// (field "display", a G_TYPE_POINTER), as GStreamer's `waylandsink` takes it.
pub(super) const DISPLAY_CONTEXT: &str = "GstWaylandDisplayHandleContextType";
/// The same context under the name GStreamer 1.22's libgstwayland gives it
/// (`gst_wl_display_handle_context_new`); later releases accept both.
const DISPLAY_CONTEXT_1_22: &str = "GstWlDisplayHandleContextType";
/// Both names: what an application answers a sink's need-context with.
pub const DISPLAY_CONTEXT_TYPES: [&str; 2] = [DISPLAY_CONTEXT, DISPLAY_CONTEXT_1_22];

impl ZcWaylandSink {
    /// Connect to the compositor (NULL to READY): the application's display
    /// when it shares one, else the `display` setting's.
    pub(super) fn connect(&self) -> Result<(), gst::ErrorMessage> {
        if lock(&self.embedding).display.is_none() {
            self.ask_for_display();
        }
        let target = match lock(&self.embedding).display {
            Some(display) => DisplayTarget::Foreign(display),
            None => match lock(&self.settings).display.clone() {
                Some(name) => DisplayTarget::Name(name),
                None => DisplayTarget::Environment,
            },
        };
        let timeout = Duration::from_millis(lock(&self.settings).connect_timeout_ms.into());
        let presenter = Presenter::connect_within(&target, timeout).map_err(|e| match e {
            WaylandError::NoDisplay { .. } | WaylandError::ConnectTimeout { .. } => {
                gst::error_msg!(gst::ResourceError::OpenRead, ["{e}"])
            }
            other => gst::error_msg!(
                gst::ResourceError::OpenRead,
                ["cannot use the compositor: {other}"]
            ),
        })?;
        if !presenter.owns_display() {
            gst::info!(
                CAT,
                imp = self,
                "using the application's wl_display {:#x}",
                presenter.display_ptr()
            );
        }
        let caps = presenter.capabilities();
        gst::info!(
            CAT,
            imp = self,
            "connected: linux-dmabuf v{} ({} format/modifier pairs{}), {} wl_shm formats, viewporter {}, presentation {}, explicit sync v{}",
            caps.dmabuf_version,
            caps.dmabuf_formats.len(),
            caps.feedback
                .as_ref()
                .map(|f| format!(
                    ", feedback with {} tranches, main device {:?}",
                    f.tranches.len(),
                    f.main_device
                ))
                .unwrap_or_default(),
            caps.shm_formats.len(),
            caps.has_viewporter,
            caps.has_presentation,
            caps.explicit_sync_version
        );
        self.choose_pacing(&presenter);
        self.set_presenter(Some(presenter));
        Ok(())
    }

    /// Ask for an application's display the way GStreamer's `waylandsink`
    /// does: a context query upstream, then a need-context message, which
    /// the application answers from a sync bus handler with
    /// `gst_element_set_context` (or a bin holding such a context answers).
    /// Both context type names are asked for, the current one first.
    fn ask_for_display(&self) {
        let obj = self.obj();
        for context_type in DISPLAY_CONTEXT_TYPES {
            let mut query = gst::query::Context::new(context_type);
            if obj.sink_pad().peer_query(&mut query)
                && let Some(context) = query.context_owned()
            {
                self.take_display_context(&context);
            }
            if lock(&self.embedding).display.is_some() {
                return;
            }
            gst::debug!(CAT, imp = self, "posting need-context {context_type}");
            let _ = obj.post_message(
                gst::message::NeedContext::builder(context_type)
                    .src(&*obj)
                    .build(),
            );
            if lock(&self.embedding).display.is_some() {
                return;
            }
        }
        gst::debug!(
            CAT,
            imp = self,
            "no application display: connecting our own"
        );
    }

    /// Keep the `wl_display *` of a display context; false when `context`
    /// is not one.
    pub(super) fn take_display_context(&self, context: &gst::ContextRef) -> bool {
        let context_type = context.context_type();
        if !DISPLAY_CONTEXT_TYPES.contains(&context_type) {
            return false;
        }
        let structure = context.structure();
        // "display" since GStreamer 1.22, "handle" before.
        let display = ["display", "handle"]
            .iter()
            .find_map(|field| structure.get::<glib::Pointer>(*field).ok())
            .filter(|pointer| !pointer.is_null());
        let Some(display) = display else {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Settings,
                ("ignoring a {context_type} context without a display"),
                [
                    "it should carry the wl_display pointer in a G_TYPE_POINTER field \"display\": {structure}"
                ]
            );
            return true;
        };
        let display = display as usize;
        if let Some(presenter) = self.presenter()
            && presenter.display_ptr() != display
        {
            gst::warning!(
                CAT,
                imp = self,
                "a new display {display:#x} takes effect after the sink went back to NULL"
            );
        }
        gst::debug!(
            CAT,
            imp = self,
            "display {display:#x} from a {context_type} context"
        );
        lock(&self.embedding).display = Some(display);
        true
    }

    /// Answer a context query for a Wayland display with the one in use;
    /// false when `query` is not one, or there is none yet.
    pub(super) fn answer_display_query(&self, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Context(q) = query.view_mut()
            && DISPLAY_CONTEXT_TYPES.contains(&q.context_type())
            && let Some(context) = self.display_context(q.context_type())
        {
            q.set_context(&context);
            return true;
        }
        false
    }

    /// A display context for `context_type` with the display in use.
    fn display_context(&self, context_type: &str) -> Option<gst::Context> {
        let display = self.presenter()?.display_ptr() as glib::Pointer;
        let mut context = gst::Context::new(context_type, true);
        {
            let context = context.get_mut()?;
            let structure = context.structure_mut();
            // SAFETY: a G_TYPE_POINTER value holds a plain address and no
            // thread-bound data; moving it between threads is harmless.
            structure.set_value("display", unsafe {
                glib::Value::from(display).into_send_value()
            });
        }
        Some(context)
    }
}
