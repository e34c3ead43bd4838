//! `zcvulkanconvert`'s device: which Vulkan device converts (the display's
//! main device when a zc sink downstream names it), what it imports, and
//! why it refuses what it cannot.

use std::sync::Arc;

use gst::prelude::*;
use gst::subclass::prelude::*;
use zc_vulkan::{Context, Converter, DeviceChoice};

use super::imp::{CAT, ZcVulkanConvert};
use crate::dialect::DrmFormat;
use crate::lock;
use crate::main_device;

impl ZcVulkanConvert {
    /// The Vulkan device on the display's GPU, when a zc sink downstream
    /// knows the compositor's main device and a device here matches it.
    pub(super) fn display_device(&self) -> Option<Arc<Context>> {
        let src_pad = self.obj().static_pad("src")?;
        let nodes = main_device::query_downstream(&src_pad)?;
        for node in &nodes {
            match Context::new(&DeviceChoice::DrmNode(node.clone())) {
                Ok(ctx) => {
                    gst::info!(
                        CAT,
                        imp = self,
                        "using {} on the display's main device {}",
                        ctx.info(),
                        node.display()
                    );
                    return Some(ctx);
                }
                Err(err) => {
                    gst::debug!(CAT, imp = self, "{}: {err}", node.display());
                }
            }
        }
        gst::info!(
            CAT,
            imp = self,
            "no Vulkan device here is on the display's main device ({}); using the first that imports \
             dma-bufs, so the compositor may have to import across devices",
            nodes
                .iter()
                .map(|n| n.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        None
    }

    /// The DMA_DRM formats `converter` imports: every input format with
    /// every modifier the device samples and imports it with.
    pub(super) fn input_drm_formats(&self, converter: &Converter) -> Vec<DrmFormat> {
        let mut formats = Vec::new();
        for &fourcc in zc_vulkan::INPUT_FORMATS.iter() {
            match converter.input_modifiers(fourcc) {
                Ok(modifiers) => formats.extend(
                    modifiers
                        .into_iter()
                        .map(|modifier| DrmFormat { fourcc, modifier }),
                ),
                Err(err) => {
                    gst::warning!(CAT, imp = self, "modifiers for {fourcc}: {err}");
                }
            }
        }
        gst::info!(
            CAT,
            imp = self,
            "the device imports {}",
            formats
                .iter()
                .map(DrmFormat::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        formats
    }

    /// Say once per caps why upstream's DMA_DRM caps were refused: a bare
    /// not-negotiated would not name the modifier.
    pub(super) fn warn_refusal(&self, caps: &gst::Caps, why: &str) {
        let text = caps.to_string();
        if !lock(&self.refused).insert(text) {
            return;
        }
        let device = lock(&self.state)
            .as_ref()
            .map(|s| s.converter.context().info().to_string())
            .unwrap_or_default();
        gst::element_imp_warning!(
            self,
            gst::CoreError::Negotiation,
            ("refused {caps}"),
            ["the Vulkan device {device}: {why}"]
        );
    }
}
