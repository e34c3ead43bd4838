//! Embedding the sink in the player's window (GstVideoOverlay): the
//! display handed over as a context, the surface as the window handle, and
//! the render rectangle kept in a [`Layout`] shared with the main loop.

use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst_video::prelude::*;

use super::BusEvent;

/// The context types a Wayland sink asks for the application's
/// `wl_display*` with (zcwaylandsink's, which stock waylandsink shares).
pub use gstzerocopy::zcwaylandsink::DISPLAY_CONTEXT_TYPES;

/// Where the video goes in the window, shared with the bus's sync handler
/// (which runs on a streaming thread when the sink asks for its window).
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    /// The window's video area: (x, y, width, height) in surface pixels.
    pub area: (i32, i32, i32, i32),
    /// The video's display size (pixel aspect ratio applied), once known.
    pub video: Option<(i32, i32)>,
}

impl Layout {
    /// The render rectangle: the video fitted into the area, aspect kept.
    pub fn render_rectangle(&self) -> (i32, i32, i32, i32) {
        let (ax, ay, aw, ah) = self.area;
        match self.video {
            Some(video) => {
                let (x, y, w, h) = zc_wayland::fit((aw, ah), video);
                (ax.saturating_add(x), ay.saturating_add(y), w, h)
            }
            None => self.area,
        }
    }
}

/// The raw Wayland handles the sink is given: they stay valid while the
/// player's connection and window live, which outlive the pipeline.
#[derive(Clone, Copy, Debug)]
pub struct WindowHandles {
    pub display: usize,
    pub surface: usize,
}

/// Whether `sink` shows the stream reaching its `pad` turned a quarter
/// (a phone's portrait video tagged `image-orientation` rotate-90, with
/// `rotate-method=auto`): the window then lays it out as tall as it is
/// wide. The sink's own mapping decides (`orientation::shown`; stock
/// waylandsink's `rotate-method` means the same). The pad's sticky tags
/// are the current stream's (a new stream starts without them).
pub(super) fn turned_a_quarter(sink: &gst::Element, pad: &gst::Pad) -> bool {
    use gst_video::VideoOrientationMethod as Method;
    let method = sink.property::<Method>("rotate-method");
    let tagged = (0..)
        .map_while(|index| pad.sticky_event::<gst::event::Tag>(index))
        .filter_map(|event| Method::from_tag(event.tag()))
        .last();
    gstzerocopy::orientation::shown(method, tagged).swaps_axes()
}

/// The frame's size in its own pixels, as `caps` give it.
pub(super) fn frame_size(caps: &gst::CapsRef) -> Option<(i32, i32)> {
    let s = caps.structure(0)?;
    Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?))
}

/// The size the frame is shown at: its width scaled by the pixel aspect
/// ratio.
pub(super) fn display_size(caps: &gst::CapsRef) -> Option<(i32, i32)> {
    let (w, h) = frame_size(caps)?;
    let s = caps.structure(0)?;
    let par = s
        .get::<gst::Fraction>("pixel-aspect-ratio")
        .unwrap_or(gst::Fraction::new(1, 1));
    let (n, d) = (par.numer().max(1) as i64, par.denom().max(1) as i64);
    let width = i32::try_from(w as i64 * n / d).unwrap_or(i32::MAX);
    Some((width, h))
}

/// On a streaming thread: hand the sink our display and surface, pass the
/// rest to the main loop.
pub(super) fn sync_handler(
    message: &gst::Message,
    handles: WindowHandles,
    layout: &Mutex<Layout>,
    events: &(impl Fn(BusEvent) + Send + Sync),
) -> gst::BusSyncReply {
    if let gst::MessageView::NeedContext(need) = message.view()
        && DISPLAY_CONTEXT_TYPES.contains(&need.context_type())
    {
        let mut context = gst::Context::new(need.context_type(), true);
        if let Some(context_mut) = context.get_mut() {
            let display = (handles.display as glib::Pointer).to_value();
            // SAFETY: a G_TYPE_POINTER value is a plain address; the display
            // it points to is thread-safe (libwayland) and outlives the
            // pipeline: a pipeline left behind stuck keeps the connection
            // open until the process ends (see `teardown`).
            let display = unsafe { display.into_send_value() };
            context_mut.structure_mut().set_value("display", display);
        }
        if let Some(element) = message.src().and_then(|s| s.downcast_ref::<gst::Element>()) {
            element.set_context(&context);
        }
        return gst::BusSyncReply::Drop;
    }
    if gst_video::is_video_overlay_prepare_window_handle_message(message) {
        if let Some(overlay) = message
            .src()
            .and_then(|s| s.dynamic_cast_ref::<gst_video::VideoOverlay>())
        {
            let mut layout = crate::lock(layout);
            if let Some(size) = overlay
                .dynamic_cast_ref::<gst::Element>()
                .and_then(|e| e.static_pad("sink"))
                .and_then(|p| p.current_caps())
                .and_then(|c| display_size(&c))
            {
                layout.video = Some(size);
            }
            let (x, y, w, h) = layout.render_rectangle();
            // SAFETY: `surface` is the player window's live wl_surface on the
            // connection whose wl_display the sink got through the context;
            // the window outlives the pipeline (it is stopped first; one
            // left behind stuck has no use for it any more: its sink's
            // subsurface becomes inert when the window goes, and the
            // connection stays open, see `teardown`).
            unsafe { overlay.set_window_handle(handles.surface) };
            let _ = overlay.set_render_rectangle(x, y, w, h);
        }
        return gst::BusSyncReply::Drop;
    }
    events(BusEvent::Message(message.clone()));
    gst::BusSyncReply::Drop
}
