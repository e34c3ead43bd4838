//! Where a function's instructions are counted in the report: zc's own code
//! by crate and element (it is linked into zc-bench), everything else by the
//! library it lives in (libgstwaylandsink.so is stock `waylandsink`,
//! libgstcoreelements.so holds `fakesink` and `identity`, ...).

use super::callgrind::FunctionKey;

/// The group a function's cost is reported under.
pub fn group_of(key: &FunctionKey) -> String {
    let object = key.object.rsplit('/').next().unwrap_or(key.object.as_str());
    if !object.starts_with("zc-bench") {
        // libfoo.so.0.2200.0 -> libfoo.so
        return match object.find(".so") {
            Some(end) => object[..end + 3].to_owned(),
            None => object.to_owned(),
        };
    }
    rust_group(&key.function).unwrap_or_else(|| "zc-bench (other)".to_owned())
}

/// `gstzerocopy::zcwaylandsink::render::...` -> `gstzerocopy::zcwaylandsink`;
/// `<zc_wayland::presenter::Presenter as ...>::present` -> `zc_wayland::presenter`;
/// `core::ptr::drop_in_place<...>` -> `core`.
fn rust_group(function: &str) -> Option<String> {
    let name = function.trim_start_matches(['<', '&', '*', ' ']);
    let name = name.strip_prefix("mut ").unwrap_or(name);
    let name = name.strip_prefix("dyn ").unwrap_or(name);
    let mut parts = name.split("::");
    let krate = parts.next()?;
    if !krate.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        || !krate.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    // zc's crates: crate and module (the element, or the presenter's part);
    // everyone else's: the crate.
    let ours = krate.starts_with("zc_") || krate == "gstzerocopy";
    match parts.next().filter(|_| ours) {
        Some(module)
            if module
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Some(format!("{krate}::{module}"))
        }
        _ => Some(krate.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(object: &str, function: &str) -> FunctionKey {
        FunctionKey {
            object: object.to_owned(),
            function: function.to_owned(),
        }
    }

    #[test]
    fn libraries_lose_their_version_and_zc_keeps_its_element() {
        assert_eq!(
            group_of(&key(
                "/usr/lib/x86_64-linux-gnu/libgstreamer-1.0.so.0.2200.0",
                "gst_pad_push"
            )),
            "libgstreamer-1.0.so"
        );
        assert_eq!(
            group_of(&key(
                "/work/target/release/zc-bench",
                "gstzerocopy::zcwaylandsink::render::<impl x>::render"
            )),
            "gstzerocopy::zcwaylandsink"
        );
        assert_eq!(
            group_of(&key(
                "/t/zc-bench",
                "<zc_wayland::presenter::Presenter as core::ops::Drop>::drop"
            )),
            "zc_wayland::presenter"
        );
        assert_eq!(
            group_of(&key("/t/zc-bench", "core::ptr::drop_in_place<u8>")),
            "core"
        );
        assert_eq!(
            group_of(&key("/t/zc-bench", "0x00001234")),
            "zc-bench (other)"
        );
    }
}
