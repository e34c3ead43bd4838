//! The cover art of the entry playing ([`zc_app::player::cover`]): the
//! first picture its tags carry, kept as it came and decoded only once the
//! entry turns out to have no video (never for a video with a cover of
//! its own), for the window to draw.

use zc_app::player::cover::{self, Picture};

use super::Player;

/// What is known of the entry's cover.
#[derive(Debug, Default)]
pub(super) enum Cover {
    /// No picture came with its tags (yet).
    #[default]
    None,
    /// One came: decoded where the entry has no video.
    Pending(gst::Sample),
    Picture(Picture),
    /// It could not be decoded: not tried again.
    Unreadable,
}

impl Player {
    /// Tags reached a sink: the entry's cover, where they carry the first.
    pub(super) fn on_tags(&mut self, tags: &gst::TagListRef) {
        if !matches!(self.cover, Cover::None) {
            return;
        }
        if let Some(sample) = cover::picture_in(tags) {
            self.cover = Cover::Pending(sample);
            self.decode_cover_if_shown();
        }
    }

    /// Decode a cover that came, once the entry plays without a video.
    pub(super) fn decode_cover_if_shown(&mut self) {
        if !self.audio_only() {
            return;
        }
        let Cover::Pending(sample) = &self.cover else {
            return;
        };
        self.cover = match Picture::decode(sample) {
            Ok(picture) => {
                let (width, height) = picture.size();
                gst::info!(crate::CAT, "cover art: {width}x{height}");
                self.cover_generation += 1;
                Cover::Picture(picture)
            }
            Err(e) => {
                eprintln!("zc-player: warning: {e}");
                Cover::Unreadable
            }
        };
    }

    /// The picture to draw in the video area: the cover, where the entry
    /// has no video.
    pub fn cover(&self) -> Option<&Picture> {
        match &self.cover {
            Cover::Picture(picture) if self.audio_only() => Some(picture),
            _ => None,
        }
    }

    /// Counts the covers decoded: the window draws again when it moves on.
    pub fn cover_generation(&self) -> u64 {
        self.cover_generation
    }

    /// Another entry: its own cover, if it has one, comes with its tags.
    pub(super) fn forget_cover(&mut self) {
        self.cover = Cover::None;
    }
}
