//! [`RgbPacking`]: where the colour channels of a 32-bit RGB pixel lie and
//! how many bits each has, for the packed RGB formats (XR24, AB24, XR30, ...).
//!
//! Producers that write such pixels (the Vulkan converter's shader takes
//! these numbers as parameters) and readers that check them (tests,
//! thumbnails) use this one description.

/// One 32-bit little-endian pixel word: `depth` bits each of R, G and B at
/// `shifts` (R, G, B), and `alpha_bits` of alpha (or padding) at
/// `alpha_shift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RgbPacking {
    /// Bits per colour channel: 8 or 10.
    pub depth: u32,
    /// The lowest bit of R, G and B in the word.
    pub shifts: [u32; 3],
    /// The lowest bit of alpha (or of the unused bits for xRGB formats).
    pub alpha_shift: u32,
    /// Bits of alpha or padding.
    pub alpha_bits: u32,
}

impl RgbPacking {
    pub(super) const fn new(depth: u32, shifts: [u32; 3], alpha_shift: u32) -> Self {
        RgbPacking {
            depth,
            shifts,
            alpha_shift,
            alpha_bits: 32 - 3 * depth,
        }
    }

    /// The largest code of a colour channel: 255 or 1023.
    pub fn max_code(&self) -> u32 {
        (1 << self.depth) - 1
    }

    /// The alpha (or padding) bits of an opaque pixel: all ones.
    pub fn opaque_alpha(&self) -> u32 {
        (1 << self.alpha_bits) - 1
    }

    /// The codes of R, G, B in `0.0..=1.0` (clamped), rounded to the
    /// nearest code, each shifted into place, alpha opaque.
    pub fn pack(&self, rgb: [f32; 3]) -> u32 {
        let max = self.max_code() as f32;
        let mut word = self.opaque_alpha() << self.alpha_shift;
        for (value, shift) in rgb.into_iter().zip(self.shifts) {
            // In 0..=max after the clamp: the cast neither wraps nor saturates.
            let code = (value.clamp(0.0, 1.0) * max).round() as u32;
            word |= code << shift;
        }
        word
    }

    /// The R, G, B codes of a pixel word.
    pub fn unpack(&self, word: u32) -> [u32; 3] {
        self.shifts.map(|shift| (word >> shift) & self.max_code())
    }

    /// The alpha (or padding) bits of a pixel word.
    pub fn alpha(&self, word: u32) -> u32 {
        (word >> self.alpha_shift) & self.opaque_alpha()
    }
}

#[cfg(test)]
mod tests {
    use crate::{FormatInfo, Fourcc};

    fn packing(fourcc: Fourcc) -> super::RgbPacking {
        *FormatInfo::lookup(fourcc)
            .and_then(FormatInfo::rgb_packing)
            .expect("a packed RGB format")
    }

    #[test]
    fn xr30_bytes_of_one_pixel_by_hand() {
        let xr30 = packing(Fourcc::XRGB2101010);
        // R = 1.0 (1023), G = 0.5 (511.5 -> 512), B = 0.0; padding all ones.
        let word = xr30.pack([1.0, 0.5, 0.0]);
        // B bits 0-9 = 0, G bits 10-19 = 512, R bits 20-29 = 1023, 30-31 = 3.
        assert_eq!(word, (3 << 30) | (1023 << 20) | (512 << 10));
        assert_eq!(word.to_le_bytes(), [0x00, 0x00, 0xf8, 0xff]);
        assert_eq!(xr30.unpack(word), [1023, 512, 0]);
        assert_eq!(xr30.alpha(word), 3);
        // AR30 is laid out the same; XB30/AB30 swap R and B.
        assert_eq!(packing(Fourcc::ARGB2101010), xr30);
        let ab30 = packing(Fourcc::ABGR2101010);
        assert_eq!(ab30.pack([0.0, 0.5, 1.0]), word);
        assert_eq!(packing(Fourcc::XBGR2101010), ab30);
    }

    #[test]
    fn eight_bit_formats_match_their_byte_order() {
        // AB24 is bytes R G B A: what GLSL's packUnorm4x8 / WGSL's
        // pack4x8unorm make.
        let rgba = packing(Fourcc::ABGR8888);
        let word = rgba.pack([1.0, 0.5, 0.25]);
        assert_eq!(word.to_le_bytes(), [255, 128, 64, 255]);
        // XR24 is bytes B G R x.
        let bgrx = packing(Fourcc::XRGB8888);
        assert_eq!(
            bgrx.pack([1.0, 0.5, 0.25]).to_le_bytes(),
            [64, 128, 255, 255]
        );
        assert_eq!((rgba.max_code(), rgba.opaque_alpha()), (255, 255));
        // Out of range values clamp.
        assert_eq!(rgba.unpack(rgba.pack([-1.0, 2.0, f32::NAN])), [0, 255, 0]);
    }

    #[test]
    fn ten_bit_codes_of_75_percent() {
        let xr30 = packing(Fourcc::XRGB2101010);
        assert_eq!(xr30.max_code(), 1023);
        // 0.75 * 1023 = 767.25 -> 767 (8-bit: 191.25 -> 191).
        assert_eq!(xr30.unpack(xr30.pack([0.75; 3])), [767; 3]);
        assert_eq!(
            packing(Fourcc::ABGR8888).unpack(packing(Fourcc::ABGR8888).pack([0.75; 3])),
            [191; 3]
        );
    }

    #[test]
    fn every_32_bit_rgb_format_has_a_packing_and_no_other_does() {
        for info in FormatInfo::all() {
            let rgb32 = !info.is_yuv() && info.row_bytes(0, 1) == 4;
            assert_eq!(info.rgb_packing().is_some(), rgb32, "{}", info.fourcc);
            if let Some(p) = info.rgb_packing() {
                // Channels and alpha fill the word without overlapping.
                let mut bits = 0u64;
                for shift in p.shifts {
                    bits += u64::from(p.max_code()) << shift;
                }
                bits += u64::from(p.opaque_alpha()) << p.alpha_shift;
                assert_eq!(bits, u64::from(u32::MAX), "{}", info.fourcc);
            }
        }
    }
}
