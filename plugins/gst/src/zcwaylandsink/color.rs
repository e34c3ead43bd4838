//! What the compositor is told about a stream's colour: a YUV stream's
//! matrix, range and chroma location (`wp_color_representation_v1`), under
//! the `color-representation` setting; the warning when it cannot be told;
//! an HDR stream's image description (`wp_color_manager_v1`).

use std::sync::atomic::Ordering;

use gst::subclass::prelude::*;

use zc_wayland::{ASSUMED_WITHOUT_PROTOCOL, Presenter, Representation};

use super::imp::{CAT, ZcWaylandSink};
use super::settings::ColorRepresentation;
use crate::{colorimetry, lock};

impl ZcWaylandSink {
    /// Tell the presenter how this stream's frames are to be shown (from
    /// the next frame on). An error (for `color-representation=protocol`)
    /// says why the compositor cannot be told.
    pub(super) fn state_color_representation(
        &self,
        presenter: &Presenter,
        caps: &gst::CapsRef,
        info: &gst_video::VideoInfo,
    ) -> Result<(), String> {
        let mode = lock(&self.settings).color_representation;
        if !info.is_yuv() {
            presenter.set_color_representation(None);
            return Ok(());
        }
        if mode == ColorRepresentation::Off {
            presenter.set_color_representation(None);
            gst::info!(
                CAT,
                imp = self,
                "color-representation=off: the compositor chooses the matrix and range"
            );
            return Ok(());
        }
        let (colorimetry, note) = colorimetry::from_caps(caps, info);
        if let Some(note) = note {
            gst::info!(CAT, imp = self, "{note}");
        }
        let wanted = Representation {
            colorimetry,
            chroma_location: colorimetry::chroma_location(info),
        };
        if presenter.set_color_representation(Some(wanted)) {
            gst::info!(
                CAT,
                imp = self,
                "stating the colour representation through wp_color_representation_v1: {wanted}"
            );
            return Ok(());
        }
        let why = match presenter.capabilities().color_representation {
            None => "the compositor lacks wp_color_representation_v1".to_owned(),
            Some(support) => format!(
                "the compositor's wp_color_representation_v1 does not list {colorimetry} (it lists {})",
                support.listed.join(", ")
            ),
        };
        if mode == ColorRepresentation::Protocol {
            return Err(format!(
                "color-representation=protocol, but {why}; use color-representation=auto to let the compositor guess"
            ));
        }
        if colorimetry == ASSUMED_WITHOUT_PROTOCOL {
            gst::debug!(
                CAT,
                imp = self,
                "{why}; it will assume {ASSUMED_WITHOUT_PROTOCOL}, which is this stream's"
            );
        } else if !self.warned_representation.swap(true, Ordering::Relaxed) {
            gst::warning!(
                CAT,
                imp = self,
                "{why}: it will assume its own matrix ({ASSUMED_WITHOUT_PROTOCOL} on Weston), \
                 not this stream's {colorimetry}; colours will be off"
            );
        }
        Ok(())
    }

    /// What the video surface states now, as the
    /// `color-representation-set` property says it.
    pub(super) fn color_representation_set(&self) -> String {
        self.presenter()
            .and_then(|p| p.color_representation())
            .map_or_else(|| "none".to_owned(), |r| r.to_string())
    }

    /// Tell the presenter an HDR stream's image description (primaries,
    /// transfer, mastering display, content light levels); SDR streams set
    /// none. A compositor that cannot be told gets one warning, and the
    /// stream plays (washed out or clipped).
    pub(super) fn state_image_description(
        &self,
        presenter: &Presenter,
        caps: &gst::CapsRef,
        info: &gst_video::VideoInfo,
    ) {
        let description = colorimetry::image_description(caps, info);
        if let Some((_, Some(note))) = &description {
            gst::info!(CAT, imp = self, "{note}");
        }
        let description = description.map(|(d, _)| d);
        match presenter.set_image_description(description) {
            Ok(()) => match description {
                Some(d) => gst::info!(
                    CAT,
                    imp = self,
                    "stating the image description through wp_color_manager_v1: {d}"
                ),
                None => gst::debug!(CAT, imp = self, "SDR: no image description"),
            },
            Err(why) => gst::warning!(
                CAT,
                imp = self,
                "an HDR stream the compositor cannot be told about ({why}): it will be shown as SDR"
            ),
        }
    }

    /// The image description the video surface has, as the
    /// `image-description-set` property says it.
    pub(super) fn image_description_set(&self) -> String {
        self.presenter()
            .and_then(|p| p.image_description())
            .map_or_else(|| "none".to_owned(), |d| d.to_string())
    }

    /// The compositor's preferred image description for the video surface,
    /// as the `preferred-image-description` property says it.
    pub(super) fn preferred_image_description(&self) -> String {
        self.presenter()
            .and_then(|p| p.preferred_image_description())
            .map_or_else(|| "none".to_owned(), |d| d.to_string())
    }
}
