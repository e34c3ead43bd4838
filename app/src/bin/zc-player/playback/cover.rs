//! The cover art of the entry playing ([`zc_app::player::cover`]): the
//! picture its tags carry, kept as it came and decoded only once the
//! entry turns out to have no video (never for a video with a cover of
//! its own), on a thread of its own so that the window and the control
//! socket never wait for it, for the window to draw.

use zc_app::player::cover::{self, CoverError, Picture};

use super::{BusEvent, Player};

/// What is known of the entry's cover.
#[derive(Debug, Default)]
pub(super) enum Cover {
    /// No picture came with its tags (yet).
    #[default]
    None,
    /// One came: decoded where the entry has no video.
    Pending(gst::Sample),
    /// Being decoded: the result comes back with this generation.
    Decoding(u64),
    Picture(Picture),
    /// It could not be decoded: not tried again.
    Unreadable,
}

/// A decode's result, sent back to the main loop.
#[derive(Debug)]
pub struct Decoded {
    generation: u64,
    result: Result<Picture, CoverError>,
}

impl Player {
    /// Tags reached a sink: the entry's cover, where they carry one.
    pub(super) fn on_tags(&mut self, tags: &gst::TagListRef) {
        if !matches!(self.cover, Cover::None) {
            return;
        }
        if let Some(sample) = cover::picture_in(tags) {
            self.cover = Cover::Pending(sample);
            self.decode_cover_if_shown();
        }
    }

    /// Start decoding a cover that came, once the entry plays without a
    /// video. One decode runs at a time (one for an entry left behind
    /// ends first: it is bounded, see [`Picture::decode`]); its result is
    /// taken only while the entry is the one it was started for.
    pub(super) fn decode_cover_if_shown(&mut self) {
        let Cover::Pending(sample) = &self.cover else {
            return;
        };
        if !self.audio_only()
            || self
                .cover_thread
                .as_ref()
                .is_some_and(|thread| !thread.is_finished())
        {
            return;
        }
        let sample = sample.clone();
        // One that ended, whose result may still be on its way.
        self.end_cover_decode();
        self.cover_generation += 1;
        let generation = self.cover_generation;
        let events = self.spec.events();
        let started = std::thread::Builder::new()
            .name("zc-cover".to_owned())
            .spawn(move || {
                let result = Picture::decode(&sample);
                events(BusEvent::Cover(Decoded { generation, result }));
            });
        self.cover = match started {
            Ok(thread) => {
                self.cover_thread = Some(thread);
                Cover::Decoding(generation)
            }
            Err(e) => {
                eprintln!(
                    "zc-player: warning: the cover art is not shown: no thread to decode it: {e}"
                );
                Cover::Unreadable
            }
        };
    }

    /// Wait for the decoding thread, if one runs (bounded, as the decode
    /// is): its pipeline's fds are closed once it returns.
    pub(super) fn end_cover_decode(&mut self) {
        if let Some(thread) = self.cover_thread.take() {
            let _ = thread.join();
        }
    }

    /// A decode ended: its picture is shown where it is still the
    /// entry's. Returns whether it is (the window then draws it).
    pub fn on_cover_decoded(&mut self, decoded: Decoded) -> bool {
        // Its thread sent this as it ended (the thread kept is always the
        // last one started, for the last generation).
        if decoded.generation == self.cover_generation {
            self.end_cover_decode();
        }
        if !matches!(self.cover, Cover::Decoding(g) if g == decoded.generation) {
            gst::debug!(
                crate::CAT,
                "a cover decoded for an entry left behind, dropped"
            );
            // The entry playing now may have one waiting.
            self.decode_cover_if_shown();
            return false;
        }
        self.cover = match decoded.result {
            Ok(picture) => {
                let (width, height) = picture.size();
                gst::info!(crate::CAT, "cover art: {width}x{height}");
                Cover::Picture(picture)
            }
            Err(e) => {
                eprintln!("zc-player: warning: {e}");
                Cover::Unreadable
            }
        };
        true
    }

    /// The picture to draw in the video area: the cover, where the entry
    /// has no video.
    pub fn cover(&self) -> Option<&Picture> {
        match &self.cover {
            Cover::Picture(picture) if self.audio_only() => Some(picture),
            _ => None,
        }
    }

    /// A number for each decode started, which the picture it gives keeps:
    /// the window draws again when the one shown has another.
    pub fn cover_generation(&self) -> u64 {
        self.cover_generation
    }

    /// Another entry: its own cover, if it has one, comes with its tags
    /// (a decode still running for this one is dropped when it ends).
    pub(super) fn forget_cover(&mut self) {
        self.cover = Cover::None;
    }
}
