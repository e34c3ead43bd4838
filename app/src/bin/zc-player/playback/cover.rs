//! The cover art of the entry playing ([`zc_app::player::cover`]): the
//! first picture its tags carry, decoded once, for the window to draw
//! where the entry has no video.

use zc_app::player::cover::{self, Picture};

use super::Player;

/// What is known of the entry's cover.
#[derive(Debug, Default)]
pub(super) enum Cover {
    /// No picture came with its tags (yet).
    #[default]
    None,
    Picture(Picture),
    /// One came and could not be decoded: not tried again.
    Unreadable,
}

impl Player {
    /// Tags reached a sink: the entry's cover, where they carry the first.
    pub(super) fn on_tags(&mut self, tags: &gst::TagListRef) {
        if !matches!(self.cover, Cover::None) {
            return;
        }
        let Some(sample) = cover::picture_in(tags) else {
            return;
        };
        self.cover = match Picture::decode(&sample) {
            Ok(picture) => {
                let (width, height) = picture.size();
                gst::info!(crate::CAT, "cover art: {width}x{height}");
                self.cover_changed = true;
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

    /// Whether the cover came or went since the last call (the window
    /// then draws its background again).
    pub fn take_cover_changed(&mut self) -> bool {
        std::mem::take(&mut self.cover_changed)
    }

    /// Another entry: its own cover, if it has one, comes with its tags.
    pub(super) fn forget_cover(&mut self) {
        if matches!(std::mem::take(&mut self.cover), Cover::Picture(_)) {
            self.cover_changed = true;
        }
    }
}
