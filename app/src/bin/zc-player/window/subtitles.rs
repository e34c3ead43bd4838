//! The subtitle layer: a wl_shm subsurface above the video showing the
//! current cue: text at the bottom of the picture (drawn on the CPU, white
//! on a translucent box), or a DVD subtitle's picture scaled from the video
//! frame's pixels to the picture on screen, where the track placed it. The
//! video's frames stay untouched; the layer is made with the first cue
//! (the video's subsurface exists by then, so it lands above it) and
//! hidden when the position leaves the cue.

use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shm::slot::Buffer;
use wayland_client::QueueHandle;
use wayland_client::protocol::{wl_subsurface, wl_surface};
use zc_app::player::subpicture::Image;
use zc_app::player::subtitles::{Cue, CueContent, wrap};
use zc_app::player::text::{self, Colours, GLYPH, PADDING};

use super::{App, argb_buffer};

/// White text on black at 60 % (premultiplied ARGB).
const COLOURS: Colours = Colours {
    foreground: 0xFFFF_FFFF,
    background: 0x9900_0000,
};

/// Picture rows per glyph scale step: text grows with the video's height.
const ROWS_PER_SCALE: i32 = 240;

pub(super) struct SubtitleLayer {
    surface: wl_surface::WlSurface,
    subsurface: wl_subsurface::WlSubsurface,
    buffer: Option<Buffer>,
    cue: Option<Cue>,
    shown: bool,
}

impl App {
    /// A new cue from the pipeline: it replaces the one before, and is
    /// drawn now if the position is in it (the text sink delivers cues at
    /// their start time; a DVD picture may start later than its buffer; a
    /// prerolled cue may come before its time) and subtitles are on and
    /// shown.
    pub fn show_cue(&mut self, cue: Cue, qh: &QueueHandle<App>) {
        if self.subtitles.is_none() {
            let (subsurface, surface) = self.overlay_subsurface(qh);
            self.subtitles = Some(SubtitleLayer {
                surface,
                subsurface,
                buffer: None,
                cue: None,
                shown: false,
            });
        }
        let position = self.player.as_ref().and_then(|p| p.video_position());
        // Not due, or where the video's position is not known yet (a
        // preroll before the first frame), it waits: `update_subtitles`
        // shows it once the position is in it (on ASYNC_DONE, at its
        // start, on the tick). Drawn at once, it flashed and went again.
        let due = position.is_some_and(|p| cue.shown_at(p));
        gst::debug!(
            crate::CAT,
            "cue {}..{:?} at {position:?}: due {due}",
            cue.start_s,
            cue.end_s
        );
        if let Some(layer) = self.subtitles.as_mut() {
            layer.cue = Some(cue);
        }
        if due && self.subtitles_allowed() {
            self.draw_subtitle();
        } else {
            self.hide_subtitle();
        }
    }

    /// The video's subsurface exists now: a subtitle layer made before it
    /// (for a cue the subtitle sink prerolled on, which can come before
    /// the first frame) sits below the video. Make it again, on top, with
    /// its cue.
    pub(super) fn raise_subtitles(&mut self, qh: &QueueHandle<App>) {
        if let Some(layer) = self.subtitles.take() {
            layer.subsurface.destroy();
            layer.surface.destroy();
            if let Some(cue) = layer.cue {
                self.show_cue(cue, qh);
            }
        }
    }

    /// Whether subtitles may be on screen: a track is on (not `--sid no`,
    /// `j` past the last, `track` with `no`) and they are not hidden (`v`).
    fn subtitles_allowed(&self) -> bool {
        self.subtitles_visible && !self.player.as_ref().is_some_and(|p| p.subtitles_hidden())
    }

    /// On the tick, at each cue's start and end (see [`App::next_wakeup`])
    /// and after a track or visibility change: show a cue that became due,
    /// hide one the position left, or all once subtitles were turned off
    /// or hidden (the cue stays, to show again at once while it lasts).
    pub fn update_subtitles(&mut self) {
        // Nothing timed to look at: no query through the pipeline.
        if self
            .subtitles
            .as_ref()
            .is_none_or(|l| l.cue.is_none() && !l.shown)
        {
            return;
        }
        let position = self.player.as_ref().and_then(|p| p.video_position());
        let allowed = self.subtitles_allowed();
        let Some(layer) = self.subtitles.as_mut() else {
            return;
        };
        let (due, over) = match (&layer.cue, position) {
            (None, _) => (false, false),
            (Some(_), None) => return,
            (Some(cue), Some(position)) => (
                cue.shown_at(position),
                cue.end_s.is_some_and(|end| position >= end),
            ),
        };
        gst::trace!(
            crate::CAT,
            "subtitles at {position:?}: due {due}, over {over}, shown {}, allowed {allowed}",
            layer.shown
        );
        if over {
            gst::debug!(crate::CAT, "cue over at {position:?}");
            layer.cue = None;
            self.hide_subtitle();
        } else if layer.shown && !due {
            // The position went back before its start (a seek back while
            // it showed): it waits for its start again.
            gst::debug!(crate::CAT, "cue hidden at {position:?}: before its start");
            self.hide_subtitle();
        } else if layer.shown && !allowed {
            gst::debug!(crate::CAT, "cue hidden: subtitles are off or hidden");
            self.hide_subtitle();
        } else if !layer.shown && due && allowed {
            gst::debug!(crate::CAT, "cue due at {position:?}: shown");
            self.draw_subtitle();
        }
    }

    /// `v`: show or hide the subtitles, whichever track plays (mpv's
    /// `sub-visibility`). Returns whether they are shown now.
    pub fn toggle_subtitle_visibility(&mut self) -> bool {
        self.subtitles_visible = !self.subtitles_visible;
        self.update_subtitles();
        self.subtitles_visible
    }

    /// When the subtitles next change, in stream time: the end of the cue
    /// on screen, or the start of one waiting.
    pub(super) fn next_subtitle_change(&self) -> Option<f64> {
        if !self.subtitles_allowed() {
            return None;
        }
        let layer = self.subtitles.as_ref()?;
        let cue = layer.cue.as_ref()?;
        if layer.shown {
            cue.end_s
        } else {
            Some(cue.start_s)
        }
    }

    /// Whether a subtitle is on screen now, and its text (for `stats`).
    pub fn subtitle_shown(&self) -> Option<String> {
        let layer = self.subtitles.as_ref()?;
        layer
            .shown
            .then(|| layer.cue.as_ref().map(|c| c.content.describe()))?
    }

    fn draw_subtitle(&mut self) {
        let Some(cue) = self.subtitles.as_ref().and_then(|l| l.cue.clone()) else {
            return;
        };
        match &cue.content {
            CueContent::Text(text) => self.draw_text_cue(text),
            CueContent::Picture(image) => self.draw_picture_cue(image),
        }
    }

    /// An empty cue (a DVD subtitle that only clears) hides the layer.
    fn hide_subtitle(&mut self) {
        if let Some(layer) = self.subtitles.as_mut()
            && layer.shown
        {
            layer.shown = false;
            layer.surface.attach(None, 0, 0);
            layer.surface.commit();
        }
    }

    fn draw_text_cue(&mut self, text: &str) {
        let (x, y, w, h) = crate::lock(&self.layout).render_rectangle();
        let scale = (h / ROWS_PER_SCALE).clamp(1, 8) as u32;
        let columns = (w.max(0) as u32).saturating_sub(4 * PADDING) / (GLYPH * scale);
        let lines = wrap(text, columns as usize);
        if lines.is_empty() {
            return self.hide_subtitle();
        }
        let (width, height) = text::box_size(&lines, scale);
        let Some(buffer) = argb_buffer(&mut self.pool, (width, height), "a subtitle") else {
            return;
        };
        if let Some(canvas) = buffer.canvas(&mut self.pool) {
            text::draw_centred_box(canvas, (width, height, width * 4), &lines, scale, COLOURS);
        }
        // Centred at the bottom of the picture, a line's height above it.
        let left = x + (w - width as i32) / 2;
        let top = y + h - height as i32 - (GLYPH * scale) as i32;
        self.present_subtitle(buffer, (left.max(x), top.max(y)), (width, height));
    }

    /// A picture cue: its place and size scaled from the frame it is
    /// placed in (the track's, else the video's) to the render rectangle.
    fn draw_picture_cue(&mut self, image: &Image) {
        let (x, y, w, h) = crate::lock(&self.layout).render_rectangle();
        let frame = image
            .frame
            .or_else(|| self.player.as_ref().and_then(|p| p.frame_size()));
        let Some((frame_w, frame_h)) = frame else {
            return;
        };
        if frame_w == 0 || frame_h == 0 || w <= 0 || h <= 0 {
            return;
        }
        let scale =
            |v: u32, to: i32, from: u32| (u64::from(v) * to as u64 / u64::from(from)) as u32;
        let width = scale(image.width, w, frame_w).max(1);
        let height = scale(image.height, h, frame_h).max(1);
        let Some(buffer) = argb_buffer(&mut self.pool, (width, height), "a subtitle") else {
            return;
        };
        if let Some(canvas) = buffer.canvas(&mut self.pool) {
            image.draw_scaled(canvas, (width, height, width * 4));
        }
        let left = x + scale(image.x, w, frame_w) as i32;
        let top = y + scale(image.y, h, frame_h) as i32;
        self.present_subtitle(buffer, (left, top), (width, height));
    }

    /// Show `buffer` at `position` (window coordinates) on the layer.
    fn present_subtitle(
        &mut self,
        buffer: Buffer,
        (left, top): (i32, i32),
        (width, height): (u32, u32),
    ) {
        let Some(layer) = self.subtitles.as_mut() else {
            return;
        };
        layer.subsurface.set_position(left, top);
        if buffer.attach_to(&layer.surface).is_ok() {
            layer
                .surface
                .damage_buffer(0, 0, width as i32, height as i32);
            layer.surface.commit();
            layer.shown = true;
        }
        layer.buffer = Some(buffer);
        // The position is the parent's state: applied with its commit.
        self.window.wl_surface().commit();
    }
}
