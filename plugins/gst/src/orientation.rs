//! `rotate-method` (GStreamer's `GstVideoOrientationMethod`, as
//! `waylandsink` and `videoflip` have it) to the orientation a picture is
//! shown in: what `zcwaylandsink` asks the compositor for and what
//! `zcthumbnail` writes, so with the same `rotate-method` on both a
//! snapshot looks as the video did on screen.
//! `auto` follows the stream's `image-orientation` tag: phones store
//! portrait video sideways and tag how to turn it.

use gst_video::VideoOrientationMethod as Method;
pub use zc_wayland::Orientation;

/// How `method` (a `rotate-method`) shows the video, with the stream's
/// tagged method for `auto` (none: as it is). `custom` (a matrix, which a
/// buffer transform cannot express) shows it as it is. Public so that an
/// application laying out the window works it out as the sink does.
pub fn shown(method: Method, tagged: Option<Method>) -> Orientation {
    let method = match method {
        Method::Auto => tagged.unwrap_or(Method::Identity),
        method => method,
    };
    match method {
        Method::_90r => Orientation::Clockwise,
        Method::_180 => Orientation::HalfTurn,
        Method::_90l => Orientation::CounterClockwise,
        Method::Horiz => Orientation::FlipHorizontal,
        Method::Vert => Orientation::FlipVertical,
        Method::UlLr => Orientation::Transpose,
        Method::UrLl => Orientation::AntiTranspose,
        _ => Orientation::Identity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_is_its_orientation_and_auto_follows_the_tag() {
        assert_eq!(shown(Method::Identity, None), Orientation::Identity);
        assert_eq!(shown(Method::_90r, None), Orientation::Clockwise);
        assert_eq!(shown(Method::_90l, None), Orientation::CounterClockwise);
        assert_eq!(shown(Method::UrLl, None), Orientation::AntiTranspose);
        // A fixed method wins over the tag.
        assert_eq!(
            shown(Method::_180, Some(Method::_90r)),
            Orientation::HalfTurn
        );
        assert_eq!(shown(Method::Auto, None), Orientation::Identity);
        assert_eq!(
            shown(Method::Auto, Some(Method::_90r)),
            Orientation::Clockwise
        );
        assert_eq!(shown(Method::Custom, None), Orientation::Identity);
    }

    #[test]
    fn phone_tags_read_as_their_turn() {
        gst::init().expect("gst init");
        for (tag, expected) in [
            ("rotate-90", Orientation::Clockwise),
            ("rotate-180", Orientation::HalfTurn),
            ("rotate-270", Orientation::CounterClockwise),
            ("flip-rotate-0", Orientation::FlipHorizontal),
        ] {
            let mut tags = gst::TagList::new();
            tags.make_mut()
                .add::<gst::tags::ImageOrientation>(&tag, gst::TagMergeMode::Replace);
            let method = Method::from_tag(&tags);
            assert_eq!(shown(Method::Auto, method), expected, "{tag}");
        }
    }
}
