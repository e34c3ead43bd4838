//! GStreamer's colorimetry as the matrix and range zc's converters use
//! (`zc_dmabuf::color`): the one mapping for zcvulkanconvert's shader and
//! zcthumbnail's CPU scaler.

use zc_dmabuf::color::{Colorimetry, Matrix, Range};

/// Matrix and range of `info`, with the stated default (BT.709 from 720
/// lines, BT.601 below; limited range) for what the converters do not do;
/// the notes say what was defaulted.
pub fn from_info(info: &gst_video::VideoInfo) -> (Colorimetry, Vec<String>) {
    let default = Colorimetry::default_for_height(info.height());
    let c = info.colorimetry();
    let mut notes = Vec::new();
    let matrix = match c.matrix() {
        gst_video::VideoColorMatrix::Bt601 => Matrix::Bt601,
        gst_video::VideoColorMatrix::Bt709 => Matrix::Bt709,
        gst_video::VideoColorMatrix::Bt2020 => Matrix::Bt2020,
        other => {
            notes.push(format!(
                "matrix {other:?} is not BT.601/709/2020; using {}",
                default.matrix
            ));
            default.matrix
        }
    };
    let range = match c.range() {
        gst_video::VideoColorRange::Range0_255 => Range::Full,
        gst_video::VideoColorRange::Range16_235 => Range::Limited,
        other => {
            notes.push(format!("range {other:?} is unknown; using limited"));
            Range::Limited
        }
    };
    (Colorimetry { matrix, range }, notes)
}

/// [`from_info`] for caps that may not state a colorimetry at all (then
/// GStreamer's VideoInfo guesses; this says so and uses zc's default).
pub fn from_caps(
    caps: &gst::CapsRef,
    info: &gst_video::VideoInfo,
) -> (Colorimetry, Option<String>) {
    let default = Colorimetry::default_for_height(info.height());
    let stated = caps
        .structure(0)
        .is_some_and(|s| s.has_field("colorimetry"));
    if !stated {
        return (
            default,
            Some(format!("the caps carry no colorimetry; assuming {default}")),
        );
    }
    let (colorimetry, notes) = from_info(info);
    (colorimetry, (!notes.is_empty()).then(|| notes.join("; ")))
}
