//! GStreamer's colorimetry as the matrix and range zc's converters use
//! (`zc_dmabuf::color`): the one mapping for zcvulkanconvert's shader and
//! zcthumbnail's CPU scaler.

use zc_dmabuf::color::{ChromaLocation, Colorimetry, Matrix, Range};

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

/// Where a 4:2:0 YUV format's chroma samples sit, from the caps'
/// chroma-site; None for other formats (no 4:2:0 chroma to place), for an
/// unknown site, and for DV's alternating lines (no H.273 type says that).
pub fn chroma_location(info: &gst_video::VideoInfo) -> Option<ChromaLocation> {
    let format = info.format_info();
    let subsampled_420 =
        format.is_yuv() && format.w_sub().get(1) == Some(&1) && format.h_sub().get(1) == Some(&1);
    let site = info.chroma_site();
    if !subsampled_420 || site.is_empty() || site.contains(gst_video::VideoChromaSite::ALT_LINE) {
        return None;
    }
    Some(ChromaLocation::from_cosited(
        site.contains(gst_video::VideoChromaSite::H_COSITED),
        site.contains(gst_video::VideoChromaSite::V_COSITED),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(caps: &str) -> gst_video::VideoInfo {
        gst::init().unwrap();
        gst_video::VideoInfo::from_caps(&caps.parse::<gst::Caps>().unwrap()).unwrap()
    }

    #[test]
    fn caps_give_matrix_range_and_chroma_location() {
        let hd = info(
            "video/x-raw,format=NV12,width=1280,height=720,colorimetry=bt709,chroma-site=mpeg2",
        );
        assert_eq!(
            from_info(&hd).0,
            Colorimetry {
                matrix: Matrix::Bt709,
                range: Range::Limited
            }
        );
        assert_eq!(chroma_location(&hd), Some(ChromaLocation::LeftCenter));
        let full = info(
            "video/x-raw,format=I420,width=640,height=480,colorimetry=1:4:0:0,chroma-site=jpeg",
        );
        assert_eq!(
            from_info(&full).0,
            Colorimetry {
                matrix: Matrix::Bt601,
                range: Range::Full
            }
        );
        assert_eq!(chroma_location(&full), Some(ChromaLocation::Center));
        let uhd = info(
            "video/x-raw,format=P010_10LE,width=3840,height=2160,colorimetry=bt2100-pq,chroma-site=cosited",
        );
        assert_eq!(from_info(&uhd).0.matrix, Matrix::Bt2020);
        assert_eq!(chroma_location(&uhd), Some(ChromaLocation::TopLeft));
        // 4:2:2 and RGB have no 4:2:0 chroma to place.
        let yuy2 = info("video/x-raw,format=YUY2,width=320,height=240,chroma-site=mpeg2");
        assert_eq!(chroma_location(&yuy2), None);
        let rgb = info("video/x-raw,format=BGRx,width=320,height=240");
        assert_eq!(chroma_location(&rgb), None);
    }
}
