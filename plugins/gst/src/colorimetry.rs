//! GStreamer's colorimetry as the matrix and range zc's converters use
//! (`zc_dmabuf::color`): the one mapping for zcvulkanconvert's shader and
//! zcthumbnail's CPU scaler; the chroma location and HDR image description
//! zcwaylandsink tells the compositor.

use zc_dmabuf::color::{
    ChromaLocation, Chromaticity, Colorimetry, ContentLight, ImageDescription, MasteringDisplay,
    Matrix, Primaries, Range, Transfer,
};

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

/// The image description of an HDR stream (PQ or HLG transfer): primaries,
/// transfer, and the caps' mastering-display-info and content-light-level
/// when present. None for SDR streams (the compositor's default is right
/// for them). An HDR stream with primaries zc does not name is taken as
/// BT.2020 (HDR10's and HLG's), said in the note.
pub fn image_description(
    caps: &gst::CapsRef,
    info: &gst_video::VideoInfo,
) -> Option<(ImageDescription, Option<String>)> {
    let c = info.colorimetry();
    let transfer = match c.transfer() {
        gst_video::VideoTransferFunction::Smpte2084 => Transfer::Pq,
        gst_video::VideoTransferFunction::AribStdB67 => Transfer::Hlg,
        _ => return None,
    };
    let mut note = None;
    let primaries = match c.primaries() {
        gst_video::VideoColorPrimaries::Bt709 => Primaries::Bt709,
        gst_video::VideoColorPrimaries::Bt470bg => Primaries::Bt601Pal,
        gst_video::VideoColorPrimaries::Smpte170m => Primaries::Bt601Ntsc,
        gst_video::VideoColorPrimaries::Bt2020 => Primaries::Bt2020,
        gst_video::VideoColorPrimaries::Smpterp431 => Primaries::DciP3,
        gst_video::VideoColorPrimaries::Smpteeg432 => Primaries::DisplayP3,
        other => {
            note = Some(format!(
                "primaries {other:?} are not named by zc; assuming BT.2020"
            ));
            Primaries::Bt2020
        }
    };
    // GStreamer's units: chromaticities in 1/50,000, luminances in
    // 1/10,000 cd/m².
    let xy = |c: gst_video::VideoMasteringDisplayInfoCoordinate| Chromaticity {
        x: u32::from(c.x) * 20,
        y: u32::from(c.y) * 20,
    };
    let mastering = gst_video::VideoMasteringDisplayInfo::from_caps(caps)
        .ok()
        .map(|m| MasteringDisplay {
            primaries: m.display_primaries().map(xy),
            white: xy(m.white_point()),
            max_luminance: m.max_display_mastering_luminance() / 10_000,
            min_luminance: m.min_display_mastering_luminance(),
        });
    let content_light = gst_video::VideoContentLightLevel::from_caps(caps)
        .ok()
        .map(|l| ContentLight {
            max_cll: u32::from(l.max_content_light_level()),
            max_fall: u32::from(l.max_frame_average_light_level()),
        });
    Some((
        ImageDescription {
            primaries,
            transfer,
            mastering,
            content_light,
        },
        note,
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

    #[test]
    fn hdr10_caps_give_an_image_description_and_sdr_caps_none() {
        let caps: gst::Caps = "video/x-raw,format=P010_10LE,width=3840,height=2160,colorimetry=bt2100-pq,\
             mastering-display-info=(string)35400:14600:8500:39850:6550:2300:15635:16450:10000000:50,\
             content-light-level=(string)1000:400"
            .parse()
            .unwrap();
        gst::init().unwrap();
        let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
        let (description, note) = image_description(&caps, &info).expect("HDR");
        assert_eq!(note, None);
        assert_eq!(description.primaries, Primaries::Bt2020);
        assert_eq!(description.transfer, Transfer::Pq);
        let m = description.mastering.expect("mastering display");
        // GStreamer's order is red, green, blue; 1/50,000 becomes 1/1M.
        assert_eq!(
            m.primaries[0],
            Chromaticity {
                x: 708_000,
                y: 292_000
            }
        );
        assert_eq!(
            m.primaries[2],
            Chromaticity {
                x: 131_000,
                y: 46_000
            }
        );
        assert_eq!(
            m.white,
            Chromaticity {
                x: 312_700,
                y: 329_000
            }
        );
        assert_eq!((m.max_luminance, m.min_luminance), (1000, 50));
        assert_eq!(
            description.content_light,
            Some(ContentLight {
                max_cll: 1000,
                max_fall: 400
            })
        );
        let hlg =
            info_of("video/x-raw,format=P010_10LE,width=1920,height=1080,colorimetry=bt2100-hlg");
        let (hlg, _) = image_description(&hlg.0, &hlg.1).expect("HLG");
        assert_eq!((hlg.transfer, hlg.mastering), (Transfer::Hlg, None));
        let sdr = info_of("video/x-raw,format=NV12,width=1920,height=1080,colorimetry=bt709");
        assert_eq!(image_description(&sdr.0, &sdr.1), None);
    }

    fn info_of(caps: &str) -> (gst::Caps, gst_video::VideoInfo) {
        let caps: gst::Caps = caps.parse().unwrap();
        let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
        (caps, info)
    }
}
