//! The on-screen display (time, seek bar, volume, pause; see
//! [`zc_app::player::osd`]): a wl_shm subsurface centred at the top of the
//! window's video area, above the video's subsurface. Shown on a trigger
//! (seek, pointer motion, `o`, volume, pause), redrawn when what it says
//! changes (its clock at each stream second), hidden again at its timeout
//! unless paused: the main loop wakes for those moments
//! ([`App::next_wakeup`]), not only on its tick. The video's frames stay
//! untouched.

use std::time::{Duration, Instant};

use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shm::slot::Buffer;
use wayland_client::protocol::{wl_subsurface, wl_surface};
use zc_app::player::osd::{self, Content, Layout, Trigger};
use zc_app::player::wakeup::{self, Moments};

use super::{App, argb_buffer};

pub(super) struct OsdLayer {
    surface: wl_surface::WlSurface,
    subsurface: wl_subsurface::WlSubsurface,
    buffer: Option<Buffer>,
    /// What is on screen and where (window coordinates), None: hidden.
    drawn: Option<(Layout, (i32, i32))>,
}

impl App {
    /// How long until something on screen changes with time (a subtitle's
    /// start or end, the OSD's timeout or its clock's next second): when the
    /// main loop should call [`App::update_timed`] again.
    pub fn next_wakeup(&self) -> Duration {
        let now = Instant::now();
        let player = self.player.as_ref();
        let playing = player.is_some_and(|p| p.wanted == gst::State::Playing);
        let osd_clock = self.osd.visible(now, !playing).progress;
        let subtitle_change_s = self.next_subtitle_change();
        // Asked of the pipeline only when a moment depends on it.
        let position_s = if playing && (osd_clock || subtitle_change_s.is_some()) {
            // What subtitles are timed against (see Player::video_position).
            player.and_then(|p| p.video_position())
        } else {
            None
        };
        let moments = Moments {
            position_s,
            playing,
            speed: player.map_or(1.0, |p| p.speed),
            osd_until: self.osd.until(),
            panel_until: self.panel_until(),
            osd_clock,
            subtitle_change_s,
        };
        wakeup::next(&moments, now)
    }

    /// Bring what changes with time up to date: subtitles and the OSD.
    pub fn update_timed(&mut self) {
        self.expire_panel(Instant::now());
        self.update_subtitles();
        self.update_osd();
    }

    /// Something the OSD shows changed: show it (for a moment).
    pub(crate) fn osd_trigger(&mut self, trigger: Trigger) {
        self.osd.trigger(trigger, Instant::now());
        self.update_osd();
    }

    /// Show, redraw or hide the OSD for now. Nothing shows before the
    /// video's subsurface exists (the layer must be made above it).
    pub(crate) fn update_osd(&mut self) {
        let Some(player) = self.player.as_ref().filter(|p| p.prerolled) else {
            return;
        };
        let paused = player.wanted != gst::State::Playing;
        let parts = self.osd.visible(Instant::now(), paused);
        let (volume, muted) = player.volume();
        // The time and the bar only when they show: each is a query
        // through the whole pipeline.
        let (position_s, duration_s) = if parts.progress {
            (
                player.position().or_else(|| player.frame_pts()),
                player.duration(),
            )
        } else {
            (None, None)
        };
        let content = Content {
            parts,
            position_s,
            duration_s,
            paused,
            volume,
            muted,
        };
        let (ax, ay, aw, ah) = self.video_area();
        let wanted = osd::layout((aw.max(0) as u32, ah.max(0) as u32), &content).map(|layout| {
            let at = (ax + layout.x as i32, ay + layout.y as i32);
            (layout, at)
        });
        let unchanged = match &self.osd_layer {
            Some(layer) => layer.drawn == wanted,
            None => wanted.is_none(),
        };
        if unchanged {
            return;
        }
        if self.osd_layer.is_none() {
            let (subsurface, surface) = self.overlay_subsurface(&self.queue);
            self.osd_layer = Some(OsdLayer {
                surface,
                subsurface,
                buffer: None,
                drawn: None,
            });
        }
        let Some(layer) = self.osd_layer.as_mut() else {
            return;
        };
        let Some((layout, (x, y))) = wanted else {
            layer.drawn = None;
            layer.surface.attach(None, 0, 0);
            layer.surface.commit();
            return;
        };
        // The last buffer again when the compositor is done with it and it
        // has the size (the time changes, the box does not).
        let stride = layout.width * 4;
        let reusable = layer
            .buffer
            .take()
            .filter(|b| b.height() as u32 == layout.height && b.stride() as u32 == stride);
        let buffer = match reusable {
            Some(b) if b.canvas(&mut self.pool).is_some() => b,
            _ => match argb_buffer(&mut self.pool, (layout.width, layout.height), "the OSD") {
                Some(b) => b,
                None => return,
            },
        };
        if let Some(canvas) = buffer.canvas(&mut self.pool) {
            osd::draw(canvas, stride, &layout);
        }
        layer.subsurface.set_position(x, y);
        if buffer.attach_to(&layer.surface).is_ok() {
            layer
                .surface
                .damage_buffer(0, 0, layout.width as i32, layout.height as i32);
            layer.surface.commit();
            layer.drawn = Some((layout, (x, y)));
        }
        layer.buffer = Some(buffer);
        // The position is the parent's state: applied with its commit.
        self.window.wl_surface().commit();
    }

    /// What the OSD shows and where, for `stats`.
    pub(crate) fn osd_shown(&self) -> (Vec<String>, Option<[i32; 4]>) {
        match self.osd_layer.as_ref().and_then(|l| l.drawn.as_ref()) {
            Some((layout, (x, y))) => (
                layout.shown.iter().map(|s| (*s).to_owned()).collect(),
                Some([*x, *y, layout.width as i32, layout.height as i32]),
            ),
            None => (Vec::new(), None),
        }
    }
}
