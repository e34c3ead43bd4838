//! [`Modifier`]: a DRM format modifier, its well-known values and vendor.

use std::fmt;

/// A DRM format modifier: says how pixels are arranged in memory beyond the
/// fourcc (linear, tiled, compressed).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Modifier(pub u64);

impl Modifier {
    /// Rows stored one after the other; the only arrangement the CPU can read
    /// directly and the one zc allocates.
    pub const LINEAR: Modifier = Modifier(0);
    /// `DRM_FORMAT_MOD_INVALID`: "no explicit modifier", i.e. whatever the
    /// driver chose implicitly. Sizes are still validated for it.
    pub const INVALID: Modifier = Modifier(0x00ff_ffff_ffff_ffff);

    /// Whether the layout relies on a driver-private, implicit arrangement, in
    /// which case importers must not be told a modifier.
    pub fn is_implicit(self) -> bool {
        self == Modifier::INVALID
    }

    /// The vendor whose arrangement this is (the top byte, as in
    /// drm_fourcc.h's `DRM_FORMAT_MOD_VENDOR_*`), for messages. `None` for
    /// LINEAR, INVALID and unknown vendors.
    pub fn vendor(self) -> Option<&'static str> {
        if self == Modifier::LINEAR || self.is_implicit() {
            return None;
        }
        Some(match self.0 >> 56 {
            0x01 => "Intel",
            0x02 => "AMD",
            0x03 => "NVIDIA",
            0x04 => "Samsung",
            0x05 => "Qualcomm",
            0x06 => "Vivante",
            0x07 => "Broadcom",
            0x08 => "Arm",
            0x09 => "Allwinner",
            0x0a => "Amlogic",
            0x0b => "MediaTek",
            _ => return None,
        })
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Modifier::LINEAR => f.write_str("LINEAR"),
            Modifier::INVALID => f.write_str("INVALID (implicit)"),
            Modifier(m) => match self.vendor() {
                Some(vendor) => write!(f, "{m:#018x} ({vendor} tiling)"),
                None => write!(f, "{m:#018x}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifier_display() {
        assert_eq!(Modifier::LINEAR.to_string(), "LINEAR");
        assert_eq!(Modifier::INVALID.to_string(), "INVALID (implicit)");
        assert!(Modifier::INVALID.is_implicit());
        assert!(!Modifier::LINEAR.is_implicit());
        // I915_FORMAT_MOD_Y_TILED
        assert_eq!(
            Modifier(0x0100_0000_0000_0002).to_string(),
            "0x0100000000000002 (Intel tiling)"
        );
        // NVIDIA block-linear, an AMD layout, an unknown vendor.
        assert_eq!(Modifier(0x0300_0000_0060_6010).vendor(), Some("NVIDIA"));
        assert_eq!(Modifier(0x0200_0000_0000_0001).vendor(), Some("AMD"));
        assert_eq!(Modifier(1).to_string(), "0x0000000000000001");
        assert_eq!(Modifier(1).vendor(), None);
        assert_eq!(Modifier::LINEAR.vendor(), None);
    }
}
