//! The two dialects of dma-buf caps, in one place for every element.
//!
//! - GStreamer 1.22 (and zc's own pairs everywhere):
//!   `video/x-raw(memory:DMABuf), format=NV12`: linear buffers only, the
//!   layout from the VideoInfo or the buffer's VideoMeta.
//! - GStreamer 1.24 and later: `video/x-raw(memory:DMABuf),
//!   format=DMA_DRM, drm-format=NV12:0x0100000000000002`: the DRM fourcc and
//!   modifier (`drm-format=NV12` alone means linear), which is what
//!   waylandsink, glupload, the va and v4l2 decoders, v4l2src and
//!   gtk4paintablesink speak.
//!
//! The plugin is built against 1.22's headers; [`Dialect::runtime`] asks the
//! GStreamer it runs on. Caps of both dialects are plain structures, so this
//! module builds and reads them on any version, and the turn from caps into
//! a format, a modifier and a VideoInfo happens here and nowhere else.

use std::fmt;
use std::str::FromStr;

use gst_video::VideoFormat;
use zc_dmabuf::{Fourcc, Modifier};

use crate::caps::{format_for, fourcc_for, supported_list};

/// The caps feature of dma-buf memory.
pub const DMABUF_FEATURE: &str = "memory:DMABuf";
/// The `format` of 1.24's dma-buf caps; the real format is in `drm-format`.
pub const DMA_DRM_FORMAT: &str = "DMA_DRM";

/// Which dma-buf caps the running GStreamer speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// 1.22: `format=NV12` with the DMABuf feature, linear only.
    Classic,
    /// 1.24 and later: `format=DMA_DRM, drm-format=FOURCC[:0xMODIFIER]`.
    DmaDrm,
}

impl Dialect {
    /// The dialect of the GStreamer library loaded now (not the headers the
    /// plugin was built against).
    pub fn runtime() -> Dialect {
        let (major, minor, _, _) = gst::version();
        if (major, minor) >= (1, 24) {
            Dialect::DmaDrm
        } else {
            Dialect::Classic
        }
    }
}

/// Why caps could not be turned into a frame format.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DialectError {
    #[error(
        "drm-format `{0}` is not FOURCC or FOURCC:0xMODIFIER (e.g. NV12 or NV12:0x0100000000000002)"
    )]
    Syntax(String),
    #[error("drm-format `{text}`: {fourcc} is a fourcc zc cannot lay out; zc takes {supported}")]
    UnknownFourcc {
        text: String,
        fourcc: Fourcc,
        supported: String,
    },
    #[error("DMA_DRM caps without a drm-format field: {0}")]
    MissingDrmFormat(String),
    #[error("DMA_DRM caps with a drm-format list, not one format: {0}; fixate it first")]
    NotFixed(String),
    #[error("caps {caps}: {why}")]
    VideoInfo { caps: String, why: String },
}

/// One `drm-format` entry: a fourcc and its modifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DrmFormat {
    pub fourcc: Fourcc,
    pub modifier: Modifier,
}

impl DrmFormat {
    pub fn linear(fourcc: Fourcc) -> DrmFormat {
        DrmFormat {
            fourcc,
            modifier: Modifier::LINEAR,
        }
    }

    /// GStreamer's name for the format (BGRx for XR24, ...), if zc has one.
    pub fn video_format(&self) -> Option<VideoFormat> {
        format_for(self.fourcc)
    }
}

impl fmt::Display for DrmFormat {
    /// GStreamer's spelling: `NV12` for linear, `NV12:0x0100000000000002`
    /// otherwise (16 hex digits).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.fourcc.to_chars();
        let code: String = code.iter().map(|&b| char::from(b)).collect();
        if self.modifier == Modifier::LINEAR {
            f.write_str(&code)
        } else {
            write!(f, "{code}:{:#018x}", self.modifier.0)
        }
    }
}

impl FromStr for DrmFormat {
    type Err = DialectError;

    /// `FOURCC` (linear) or `FOURCC:0xMODIFIER`; the fourcc must be one zc
    /// lays out. The modifier is taken as given: whether it can be
    /// imported is for the importer (compositor, Vulkan device) to say.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || DialectError::Syntax(text.to_owned());
        let (code, modifier) = match text.split_once(':') {
            None => (text, Modifier::LINEAR),
            Some((code, hex)) => {
                let digits = hex
                    .strip_prefix("0x")
                    .or_else(|| hex.strip_prefix("0X"))
                    .ok_or_else(syntax)?;
                if digits.is_empty() || digits.len() > 16 {
                    return Err(syntax());
                }
                let value = u64::from_str_radix(digits, 16).map_err(|_| syntax())?;
                (code, Modifier(value))
            }
        };
        let bytes: [u8; 4] = code.as_bytes().try_into().map_err(|_| syntax())?;
        if !bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return Err(syntax());
        }
        let fourcc = Fourcc::from_chars(bytes);
        if format_for(fourcc).is_none() {
            return Err(DialectError::UnknownFourcc {
                text: text.to_owned(),
                fourcc,
                supported: supported_fourccs(),
            });
        }
        Ok(DrmFormat { fourcc, modifier })
    }
}

/// "NV12, NV21, ..." as DRM fourccs, for messages.
pub fn supported_fourccs() -> String {
    crate::caps::formats()
        .iter()
        .map(|(_, fourcc)| DrmFormat::linear(*fourcc).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format={...}` for these
/// formats, any size and rate; empty caps for an empty list.
pub fn dma_drm_caps(formats: &[DrmFormat]) -> gst::Caps {
    if formats.is_empty() {
        return gst::Caps::new_empty();
    }
    let list = gst::List::new(formats.iter().map(|f| f.to_string()));
    let structure = gst::Structure::builder("video/x-raw")
        .field("format", DMA_DRM_FORMAT)
        .field("drm-format", list)
        .field("width", gst::IntRange::new(1, i32::MAX))
        .field("height", gst::IntRange::new(1, i32::MAX))
        .field(
            "framerate",
            gst::FractionRange::new(gst::Fraction::new(0, 1), gst::Fraction::new(i32::MAX, 1)),
        )
        .build();
    gst::Caps::builder_full()
        .structure_with_features(structure, gst::CapsFeatures::new([DMABUF_FEATURE]))
        .build()
}

/// `video/x-raw(memory:DMABuf), format=DMA_DRM` with any `drm-format`:
/// for pad templates, which must admit DMA_DRM caps before they are known.
pub fn dma_drm_template() -> gst::Caps {
    let structure = gst::Structure::builder("video/x-raw")
        .field("format", DMA_DRM_FORMAT)
        .build();
    gst::Caps::builder_full()
        .structure_with_features(structure, gst::CapsFeatures::new([DMABUF_FEATURE]))
        .build()
}

/// The DMA_DRM form of one classic caps structure (any memory): the same
/// fields, with `format=DMA_DRM, drm-format=...` for `format`, in dma-buf
/// memory. None if the structure's format is not one zc lays out.
pub fn to_dma_drm(structure: &gst::StructureRef) -> Option<gst::Caps> {
    let format = structure
        .get::<&str>("format")
        .ok()
        .map(VideoFormat::from_string)
        .and_then(fourcc_for)?;
    let mut out = structure.to_owned();
    out.set("format", DMA_DRM_FORMAT);
    out.set("drm-format", DrmFormat::linear(format).to_string());
    Some(
        gst::Caps::builder_full()
            .structure_with_features(out, gst::CapsFeatures::new([DMABUF_FEATURE]))
            .build(),
    )
}

/// The DMA_DRM structures of `caps` (any features), as caps of their own.
pub fn dma_drm_part(caps: &gst::CapsRef) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    let out_mut = out.make_mut();
    for (structure, features) in caps.iter_with_features() {
        if structure.get::<&str>("format").ok() == Some(DMA_DRM_FORMAT) {
            out_mut.append_structure_full(structure.to_owned(), Some(features.to_owned()));
        }
    }
    out
}

/// 1.22's dma-buf caps for the linear formats in `formats` (the classic
/// dialect cannot say a modifier).
pub fn classic_dmabuf_caps(formats: &[DrmFormat]) -> gst::Caps {
    let mut linear: Vec<VideoFormat> = formats
        .iter()
        .filter(|f| f.modifier == Modifier::LINEAR)
        .filter_map(DrmFormat::video_format)
        .collect();
    linear.dedup();
    if linear.is_empty() {
        return gst::Caps::new_empty();
    }
    let mut caps = gst_video::VideoCapsBuilder::new()
        .format_list(linear)
        .build();
    caps.make_mut()
        .set_features_simple(Some(gst::CapsFeatures::new([DMABUF_FEATURE])));
    caps
}

/// The dma-buf caps an element offers for `formats` in `dialect`: on 1.24+
/// DMA_DRM first (what stock elements look for), then the classic form
/// (zc's own elements and 1.22-style peers); on 1.22 the classic form only.
pub fn dmabuf_caps(dialect: Dialect, formats: &[DrmFormat]) -> gst::Caps {
    let mut caps = match dialect {
        Dialect::DmaDrm => dma_drm_caps(formats),
        Dialect::Classic => gst::Caps::new_empty(),
    };
    caps.merge(classic_dmabuf_caps(formats));
    caps
}

/// Whether these (fixed or not) caps are 1.24's DMA_DRM form.
pub fn is_dma_drm(caps: &gst::CapsRef) -> bool {
    caps.structure(0)
        .and_then(|s| s.get::<&str>("format").ok())
        .is_some_and(|f| f == DMA_DRM_FORMAT)
}

/// The `drm-format` entries of DMA_DRM caps (all structures, lists
/// included); entries zc cannot lay out are left out.
pub fn drm_formats(caps: &gst::CapsRef) -> Vec<DrmFormat> {
    let mut formats = Vec::new();
    for structure in caps.iter() {
        if structure.get::<&str>("format").ok() != Some(DMA_DRM_FORMAT) {
            continue;
        }
        let Ok(value) = structure.value("drm-format") else {
            continue;
        };
        let texts: Vec<String> = if let Ok(text) = value.get::<String>() {
            vec![text]
        } else if let Ok(list) = value.get::<gst::List>() {
            list.iter().filter_map(|v| v.get::<String>().ok()).collect()
        } else {
            Vec::new()
        };
        formats.extend(texts.iter().filter_map(|t| t.parse::<DrmFormat>().ok()));
    }
    formats
}

/// Fixed caps of either dialect as the frame's format and modifier and a
/// VideoInfo (size, rate, colorimetry, default linear strides). DMA_DRM
/// caps become the equivalent classic caps first, so the VideoInfo is the
/// same on every GStreamer version.
pub fn video_info(caps: &gst::CapsRef) -> Result<(gst_video::VideoInfo, DrmFormat), DialectError> {
    let describe = || caps.to_string();
    let Some(structure) = caps.structure(0) else {
        return Err(DialectError::VideoInfo {
            caps: describe(),
            why: "empty caps".to_owned(),
        });
    };
    if structure.get::<&str>("format").ok() != Some(DMA_DRM_FORMAT) {
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| DialectError::VideoInfo {
            caps: describe(),
            why: e.to_string(),
        })?;
        let fourcc = fourcc_for(info.format()).ok_or_else(|| DialectError::VideoInfo {
            caps: describe(),
            why: format!(
                "format {} is not supported; zc lays out {}",
                info.format().to_str(),
                supported_list()
            ),
        })?;
        return Ok((info, DrmFormat::linear(fourcc)));
    }
    if structure.name() != "video/x-raw" {
        return Err(DialectError::VideoInfo {
            caps: describe(),
            why: format!("{} is not raw video (video/x-raw)", structure.name()),
        });
    }
    let value = structure
        .value("drm-format")
        .map_err(|_| DialectError::MissingDrmFormat(describe()))?;
    let text = value
        .get::<String>()
        .map_err(|_| DialectError::NotFixed(describe()))?;
    let format: DrmFormat = text.parse()?;
    let video_format = format
        .video_format()
        .ok_or_else(|| DialectError::UnknownFourcc {
            text: text.clone(),
            fourcc: format.fourcc,
            supported: supported_fourccs(),
        })?;
    let mut classic = structure.to_owned();
    classic.set("format", video_format.to_str());
    classic.remove_field("drm-format");
    let classic = gst::Caps::builder_full().structure(classic).build();
    let info = gst_video::VideoInfo::from_caps(&classic).map_err(|e| DialectError::VideoInfo {
        caps: describe(),
        why: e.to_string(),
    })?;
    if info.format() != video_format {
        return Err(DialectError::VideoInfo {
            caps: describe(),
            why: format!(
                "they describe {}, not {}",
                info.format().to_str(),
                video_format.to_str()
            ),
        });
    }
    Ok((info, format))
}

/// Why an importer that takes `supported` refuses fixed DMA_DRM `caps`:
/// the fourcc and modifier asked for, and the modifiers it takes for that
/// fourcc (or the formats it takes at all). `None` when the caps are not
/// fixed DMA_DRM caps or their format is in `supported` (then the refusal
/// is for something else: size, rate, memory).
pub fn refusal(caps: &gst::CapsRef, supported: &[DrmFormat]) -> Option<String> {
    if !caps.is_fixed() || !is_dma_drm(caps) {
        return None;
    }
    let text = caps.structure(0)?.get::<String>("drm-format").ok()?;
    let asked: DrmFormat = match text.parse() {
        Ok(format) => format,
        Err(err) => return Some(err.to_string()),
    };
    if supported.contains(&asked) {
        return None;
    }
    let same_fourcc: Vec<String> = supported
        .iter()
        .filter(|f| f.fourcc == asked.fourcc)
        .map(|f| f.modifier.to_string())
        .collect();
    let takes = if same_fourcc.is_empty() {
        let mut all: Vec<String> = supported.iter().map(DrmFormat::to_string).collect();
        all.dedup();
        if all.is_empty() {
            "no dma-buf format at all".to_owned()
        } else {
            format!("no {} at all; it takes {}", asked.fourcc, all.join(", "))
        }
    } else {
        format!(
            "{} only with modifier {}",
            asked.fourcc,
            same_fourcc.join(", ")
        )
    };
    Some(format!(
        "drm-format={asked} asks for {} with modifier {}, which it cannot import; it takes {takes}. \
         Frames are never imported with a layout other than the one their modifier says",
        asked.fourcc, asked.modifier
    ))
}

#[cfg(test)]
mod tests;
