//! What to install when a stream cannot be played for want of a plugin:
//! GStreamer's `missing-plugin` message says what is missing (a decoder for
//! some caps, a URI source for some protocol, an element by name), and this
//! names the one Debian and Ubuntu package that provides it (as shipped
//! with GStreamer 1.22 to 1.28), so that the player's error says
//! `install gstreamer1.0-libav` instead of "a plugin is missing".
//!
//! The table was read off the distributions' packages with
//! `gst-inspect-1.0 --print-plugin-auto-install-info` per plugin file and
//! `dpkg -S`; where several packages decode a format, it names the one
//! with the software decoder playbin picks first (libav's over
//! openh264dec, libde265dec, mpeg2dec and a52dec; faad for AAC is in -bad,
//! libav has avdec_aac).

/// The package that provides a decoder for `media_type` (the caps' name,
/// e.g. `video/x-h264`); `mpeg_version` is the `mpegversion` field where
/// the caps have one (it tells MP3 from AAC).
fn decoder_package(media_type: &str, mpeg_version: Option<u32>) -> Option<&'static str> {
    const LIBAV: &str = "gstreamer1.0-libav";
    const BASE: &str = "gstreamer1.0-plugins-base";
    const GOOD: &str = "gstreamer1.0-plugins-good";
    const BAD: &str = "gstreamer1.0-plugins-bad";
    Some(match media_type {
        "video/x-h264"
        | "video/x-h265"
        | "video/x-h263"
        | "video/mpeg"
        | "video/x-divx"
        | "video/x-xvid"
        | "video/x-msmpeg"
        | "video/x-wmv"
        | "video/x-prores"
        | "video/x-dnxhd"
        | "video/x-ffv"
        | "video/x-vp6"
        | "video/x-vp6-flash"
        | "video/x-flash-video"
        | "video/x-h266" => LIBAV,
        "audio/x-ac3" | "audio/x-eac3" | "audio/x-dts" | "audio/x-true-hd" | "audio/x-wma"
        | "audio/x-alac" => LIBAV,
        // MPEG-1/2 audio (MP3) has mpg123 in -good; MPEG-2/4 AAC avdec_aac.
        "audio/mpeg" if mpeg_version == Some(1) => GOOD,
        "audio/mpeg" => LIBAV,
        "video/x-vp8" | "video/x-vp9" | "image/jpeg" | "image/png" | "audio/x-flac"
        | "audio/x-speex" | "audio/x-wavpack" | "audio/x-alaw" | "audio/x-mulaw" => GOOD,
        "video/x-theora"
        | "audio/x-vorbis"
        | "audio/x-opus"
        | "application/x-ass"
        | "application/x-ssa"
        | "application/x-subtitle"
        | "application/x-subtitle-vtt" => BASE,
        "video/x-av1" => BAD,
        _ => return None,
    })
}

/// The package that provides a source for URIs of `protocol`.
fn source_package(protocol: &str) -> Option<&'static str> {
    Some(match protocol {
        "http" | "https" | "rtsp" | "rtsps" | "rtmp" => "gstreamer1.0-plugins-good",
        "srt" | "rist" | "dvb" | "hls" => "gstreamer1.0-plugins-bad",
        _ => return None,
    })
}

/// The package to install for what a `missing-plugin` message names:
/// `kind` is its `type` field (`decoder`, `urisource`, ...) and `detail`
/// its `detail` as text (the caps for a decoder, the protocol for a URI
/// source). `None` where zc does not know one.
pub fn package_for(kind: &str, detail: &str) -> Option<&'static str> {
    match kind {
        "decoder" => {
            let mut fields = detail.split(',').map(str::trim);
            let media_type = fields.next()?;
            let mpeg_version = fields
                .filter_map(|f| f.strip_prefix("mpegversion=(int)"))
                .find_map(|v| v.parse().ok());
            decoder_package(media_type, mpeg_version)
        }
        "urisource" => source_package(detail),
        _ => None,
    }
}

/// The sentence the player ends with when a stream needs a plugin that is
/// not installed: `description` is GStreamer's own (the message's `name`,
/// e.g. "H.265 (Main Profile) decoder").
pub fn explain(description: &str, package: Option<&str>) -> String {
    match package {
        Some(package) => format!(
            "this stream needs {description}, which is not installed: install {package} \
             (its Debian and Ubuntu name)"
        ),
        None => format!(
            "this stream needs {description}, which is not installed (gstreamer1.0-libav or \
             one of the gstreamer1.0-plugins-* packages may provide it)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_common_codec_names_one_package() {
        let cases = [
            (
                "video/x-h264, stream-format=(string)avc",
                "gstreamer1.0-libav",
            ),
            ("video/x-h265, profile=(string)main", "gstreamer1.0-libav"),
            ("video/x-vp9", "gstreamer1.0-plugins-good"),
            (
                "video/x-av1, stream-format=(string)obu-stream",
                "gstreamer1.0-plugins-bad",
            ),
            ("video/x-theora", "gstreamer1.0-plugins-base"),
            ("audio/x-opus", "gstreamer1.0-plugins-base"),
            (
                "audio/mpeg, mpegversion=(int)1, layer=(int)3",
                "gstreamer1.0-plugins-good",
            ),
            (
                "audio/mpeg, mpegversion=(int)4, stream-format=(string)raw",
                "gstreamer1.0-libav",
            ),
            ("audio/x-ac3", "gstreamer1.0-libav"),
        ];
        for (caps, package) in cases {
            assert_eq!(package_for("decoder", caps), Some(package), "{caps}");
        }
        assert_eq!(
            package_for("urisource", "https"),
            Some("gstreamer1.0-plugins-good")
        );
    }

    #[test]
    fn unknown_needs_say_so_without_guessing_one_package() {
        assert_eq!(package_for("decoder", "video/x-zc-unknown"), None);
        assert_eq!(package_for("element", "playsink"), None);
        assert_eq!(package_for("decoder", ""), None);
        let text = explain("a zc-unknown decoder", None);
        assert!(text.contains("a zc-unknown decoder") && text.contains("may provide"));
        let text = explain("H.264 (High Profile) decoder", Some("gstreamer1.0-libav"));
        assert!(text.ends_with("install gstreamer1.0-libav (its Debian and Ubuntu name)"));
    }
}
