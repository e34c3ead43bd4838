//! Embedding (GstVideoOverlay): the application's `wl_surface` and the
//! render rectangle in it, the interface's vtable (by hand: gstreamer-video
//! has no subclassing trait for it), and the window made on the first
//! frame, embedded or a toplevel of the sink's own.

use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use zc_wayland::{Presenter, WindowTarget};

use super::display::DISPLAY_CONTEXT;
use super::imp::{CAT, ZcWaylandSink};
use crate::lock;

/// Largest render rectangle side: no output is larger, so a bigger one is a
/// caller's mistake (an uninitialised size, a unit mix-up).
const MAX_RECTANGLE: i32 = zc_dmabuf::layout::MAX_DIMENSION as i32;

/// Where an embedded video goes in the application's surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RenderRectangle {
    x: i32,
    y: i32,
    /// 0 (with `height` 0): the video's own size.
    width: i32,
    height: i32,
}

impl RenderRectangle {
    /// Without one: the surface's top-left corner, at the video's own size.
    pub(super) const DEFAULT: RenderRectangle = RenderRectangle {
        x: 0,
        y: 0,
        width: 0,
        height: 0,
    };

    /// GstVideoOverlay's arguments, checked: a size of -1 x -1 means the
    /// default, anything else must be 1..=MAX_RECTANGLE on both sides.
    fn new(x: i32, y: i32, width: i32, height: i32) -> Result<RenderRectangle, String> {
        if (width, height) == (-1, -1) {
            return Ok(RenderRectangle {
                x,
                y,
                ..RenderRectangle::DEFAULT
            });
        }
        if !(1..=MAX_RECTANGLE).contains(&width) || !(1..=MAX_RECTANGLE).contains(&height) {
            return Err(format!(
                "a {width}x{height} render rectangle is refused: width and height must be \
                 1 to {MAX_RECTANGLE} (or both -1 for the video's own size)"
            ));
        }
        Ok(RenderRectangle {
            x,
            y,
            width,
            height,
        })
    }

    /// As the `render-rectangle` property shows it (-1 x -1: the default size).
    fn to_array(self) -> gst::Array {
        let (width, height) = if self.width == 0 {
            (-1, -1)
        } else {
            (self.width, self.height)
        };
        gst::Array::new([self.x, self.y, width, height])
    }
}

/// What the application handed over through GstContext and GstVideoOverlay.
/// Both outlive a run: like GStreamer's `waylandsink`, the sink keeps them
/// from NULL to NULL, so a restarted pipeline does not ask again.
#[derive(Debug, Default)]
pub(super) struct Embedding {
    /// The application's `struct wl_display *`.
    pub display: Option<usize>,
    /// The application's `struct wl_surface *` to embed the video in.
    pub window_handle: Option<usize>,
}

/// The `render-rectangle` property.
pub(super) fn render_rectangle_property() -> glib::ParamSpec {
    gst::ParamSpecArray::builder("render-rectangle")
        .nick("Render rectangle")
        .blurb("Where the embedded video goes in the application's wl_surface, <x, y, width, height> in surface coordinates (width and height -1, the default <0, 0, -1, -1>, mean the video's own size), like gst_video_overlay_set_render_rectangle")
        .element_spec(
            &glib::ParamSpecInt::builder("rect-value")
                .nick("Rectangle value")
                .blurb("One of x, y, width or height")
                .minimum(i32::MIN)
                .maximum(i32::MAX)
                .default_value(-1)
                .build(),
        )
        .mutable_playing()
        .build()
}

impl ZcWaylandSink {
    /// Set the `render-rectangle` property: four integers.
    pub(super) fn set_render_rectangle_property(&self, value: &glib::Value) {
        let values: Vec<i32> = value
            .get::<gst::Array>()
            .map(|a| a.iter().filter_map(|v| v.get::<i32>().ok()).collect())
            .unwrap_or_default();
        match values[..] {
            [x, y, width, height] => self.set_render_rectangle(x, y, width, height),
            _ => gst::element_imp_warning!(
                self,
                gst::ResourceError::Settings,
                ("render-rectangle ignored"),
                ["it takes four integers <x, y, width, height>, not {values:?}"]
            ),
        }
    }

    /// The `render-rectangle` property's value.
    pub(super) fn render_rectangle_value(&self) -> glib::Value {
        lock(&self.settings).render_rectangle.to_array().to_value()
    }

    /// Create the window on the first frame: embedded in the application's
    /// surface when it gave one (asked with prepare-window-handle, as every
    /// GstVideoOverlay sink does), else a toplevel of our own. No lock of
    /// ours is held while the compositor is asked.
    pub(super) fn create_window(&self, presenter: &Presenter) -> Result<(), gst::FlowError> {
        let Some((width, height)) = lock(&self.stream)
            .as_ref()
            .map(|s| (s.info.width() as i32, s.info.height() as i32))
        else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("a frame arrived before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        if lock(&self.embedding).window_handle.is_none() {
            // The application may answer from its sync bus handler, on this
            // thread, with set_window_handle and set_render_rectangle: no
            // lock of ours is held here.
            self.obj().prepare_window_handle();
        }
        let window_handle = lock(&self.embedding).window_handle;
        let settings = lock(&self.settings).clone();
        let target = match window_handle {
            Some(_) if presenter.owns_display() => {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::OpenReadWrite,
                    ("the application gave a window handle but not its Wayland display"),
                    [
                        "a wl_surface can only be used on its own display: share the wl_display \
                         through a GstContext of type {DISPLAY_CONTEXT} with a G_TYPE_POINTER field \
                         \"display\" (gst_element_set_context, or in answer to need-context)"
                    ]
                );
                return Err(gst::FlowError::Error);
            }
            Some(parent_surface) => {
                let r = settings.render_rectangle;
                WindowTarget::Embedded {
                    parent_surface,
                    x: r.x,
                    y: r.y,
                    width: r.width,
                    height: r.height,
                }
            }
            None => WindowTarget::Toplevel {
                title: settings.title,
                fullscreen: settings.fullscreen,
            },
        };
        presenter.set_explicit_sync(settings.explicit_sync);
        presenter.set_event_batch(Duration::from_millis(settings.event_batch_ms.into()));
        presenter.set_presentation_feedback(settings.presentation_feedback);
        if let Err(e) = presenter.set_orientation(self.wanted_orientation()) {
            gst::warning!(CAT, imp = self, "cannot turn the video: {e}");
        }
        presenter
            .create_window(&target, width, height)
            .map_err(|e| {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::OpenWrite,
                    ("cannot create the window: {e}")
                );
                gst::FlowError::Error
            })?;
        match presenter.sync_protocol() {
            Some(protocol) => gst::info!(CAT, imp = self, "sync: explicit, {protocol}"),
            None if settings.explicit_sync => gst::info!(
                CAT,
                imp = self,
                "sync: implicit (the compositor offers no explicit-sync protocol zc can use)"
            ),
            None => gst::info!(CAT, imp = self, "sync: implicit (explicit-sync=false)"),
        }
        if let WindowTarget::Embedded {
            parent_surface,
            x,
            y,
            width,
            height,
        } = target
        {
            gst::info!(
                CAT,
                imp = self,
                "embedded in the application's wl_surface {parent_surface:#x} at ({x}, {y}) size {width}x{height} (0: the video's)"
            );
            // A rectangle set while the window was being made.
            let now = lock(&self.settings).render_rectangle;
            if now != settings.render_rectangle {
                self.apply_render_rectangle(presenter, now);
            }
        }
        Ok(())
    }

    fn apply_render_rectangle(&self, presenter: &Presenter, r: RenderRectangle) {
        if let Err(e) = presenter.set_render_rectangle(r.x, r.y, r.width, r.height) {
            gst::warning!(CAT, imp = self, "cannot move the video: {e}");
        }
    }

    /// GstVideoOverlay::set_window_handle: the application's `wl_surface *`.
    fn set_window_handle(&self, handle: usize) {
        let showing = self.presenter().is_some_and(|p| p.has_window());
        let mut embedding = lock(&self.embedding);
        if showing && embedding.window_handle != Some(handle) {
            gst::warning!(
                CAT,
                imp = self,
                "changing the window handle while showing video is not supported; \
                 it takes effect after the sink went back to READY"
            );
        }
        gst::debug!(CAT, imp = self, "window handle {handle:#x}");
        embedding.window_handle = (handle != 0).then_some(handle);
    }

    /// GstVideoOverlay::set_render_rectangle, and the `render-rectangle`
    /// property: takes effect at once, also while paused.
    fn set_render_rectangle(&self, x: i32, y: i32, width: i32, height: i32) {
        let rectangle = match RenderRectangle::new(x, y, width, height) {
            Ok(r) => r,
            Err(reason) => {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Settings,
                    ("render rectangle ignored"),
                    ["{reason}"]
                );
                return;
            }
        };
        gst::debug!(CAT, imp = self, "render rectangle {rectangle:?}");
        lock(&self.settings).render_rectangle = rectangle;
        if let Some(presenter) = self.presenter() {
            self.apply_render_rectangle(&presenter, rectangle);
        }
    }

    /// GstVideoOverlay::expose: show the current frame again.
    fn expose(&self) {
        if let Some(presenter) = self.presenter()
            && let Err(e) = presenter.expose()
        {
            gst::warning!(CAT, imp = self, "cannot redraw: {e}");
        }
    }
}

// GstVideoOverlay, by hand: gstreamer-video has no subclassing trait for
// it. glib's interface machinery registers it (g_type_add_interface_static)
// and calls `interface_init` with our type's copy of the vtable.
// SAFETY: the vtable gets only functions with GstVideoOverlayInterface's
// signatures, called by GObject on instances of this type (see overlay_imp).
unsafe impl IsImplementable<ZcWaylandSink> for gst_video::VideoOverlay {
    fn interface_init(iface: &mut glib::Interface<Self>) {
        let iface = iface.as_mut();
        iface.set_window_handle = Some(overlay_set_window_handle);
        iface.set_render_rectangle = Some(overlay_set_render_rectangle);
        iface.expose = Some(overlay_expose);
        // handle_events stays unset: the sink takes no input (its surfaces
        // have empty input regions), so events reach the application.
    }
}

/// The sink behind a GstVideoOverlay vfunc's instance pointer.
///
/// # Safety
/// `overlay` must be the instance a GstVideoOverlay vfunc was called on.
unsafe fn overlay_imp<'a>(overlay: *mut gst_video::ffi::GstVideoOverlay) -> &'a ZcWaylandSink {
    // SAFETY: GObject calls this interface's vfuncs only on instances of a
    // type that implements it with the vtable filled in above: ours or a
    // subclass, whose instance struct starts with ours. The caller holds a
    // reference for the duration of the call.
    let instance = unsafe { &*(overlay as *const <ZcWaylandSink as ObjectSubclass>::Instance) };
    instance.imp()
}

unsafe extern "C" fn overlay_set_window_handle(
    overlay: *mut gst_video::ffi::GstVideoOverlay,
    handle: libc::uintptr_t,
) {
    // SAFETY: called by GObject as this interface's vfunc (see overlay_imp).
    unsafe { overlay_imp(overlay) }.set_window_handle(handle);
}

unsafe extern "C" fn overlay_set_render_rectangle(
    overlay: *mut gst_video::ffi::GstVideoOverlay,
    x: libc::c_int,
    y: libc::c_int,
    width: libc::c_int,
    height: libc::c_int,
) {
    // SAFETY: called by GObject as this interface's vfunc (see overlay_imp).
    unsafe { overlay_imp(overlay) }.set_render_rectangle(x, y, width, height);
}

unsafe extern "C" fn overlay_expose(overlay: *mut gst_video::ffi::GstVideoOverlay) {
    // SAFETY: called by GObject as this interface's vfunc (see overlay_imp).
    unsafe { overlay_imp(overlay) }.expose();
}
