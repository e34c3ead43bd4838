//! The compositor's preferred image description for the video surface
//! (`wp_color_management_surface_feedback_v1`): what the output the window
//! is on shows best (its primaries, transfer function and luminances).
//! Asked for when the window is made and again whenever the compositor
//! says it changed; [`Presenter::preferred_image_description`] reports it.

use std::fmt;
use std::os::fd::OwnedFd;

use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::wp::color_management::v1::client::{
    wp_color_management_surface_feedback_v1::{self, WpColorManagementSurfaceFeedbackV1},
    wp_color_manager_v1::WpColorManagerV1,
    wp_image_description_info_v1::{self, WpImageDescriptionInfoV1},
    wp_image_description_v1::{self, WpImageDescriptionV1},
};

use super::{Presenter, State};
use crate::lock;

/// A CIE 1931 xy chromaticity, in millionths.
pub type Chromaticity = (i32, i32);

/// An image description as the compositor sent it (each part as it came:
/// named, or as numbers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreferredDescription {
    /// Named primaries (the protocol's name), or none.
    pub primaries_named: Option<String>,
    /// Red, green, blue and white.
    pub primaries: Option<[Chromaticity; 4]>,
    /// Named transfer function (the protocol's name), or none.
    pub transfer_named: Option<String>,
    /// A power-law transfer function's exponent, times 10000.
    pub transfer_power: Option<u32>,
    /// Minimum (cd/m² times 10000), maximum and reference luminance (cd/m²).
    pub luminances: Option<(u32, u32, u32)>,
    /// The target colour volume's minimum (x10000) and maximum luminance.
    pub target_luminance: Option<(u32, u32)>,
    /// An ICC profile instead of parameters (its size in bytes).
    pub icc_bytes: Option<u32>,
}

impl fmt::Display for PreferredDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(bytes) = self.icc_bytes {
            return write!(f, "ICC profile ({bytes} bytes)");
        }
        match (&self.primaries_named, &self.primaries) {
            (Some(name), _) => write!(f, "primaries {name}")?,
            (None, Some([r, g, b, w])) => {
                write!(f, "primaries R {r:?} G {g:?} B {b:?} W {w:?} x1e-6")?
            }
            (None, None) => write!(f, "primaries unknown")?,
        }
        match (&self.transfer_named, self.transfer_power) {
            (Some(name), _) => write!(f, ", transfer {name}")?,
            (None, Some(power)) => write!(f, ", transfer power {}", f64::from(power) / 1e4)?,
            (None, None) => write!(f, ", transfer unknown")?,
        }
        if let Some((min, max, reference)) = self.luminances {
            write!(
                f,
                ", luminance {}-{max} cd/m2 (reference {reference})",
                f64::from(min) / 1e4
            )?;
        }
        if let Some((min, max)) = self.target_luminance {
            write!(f, ", target {}-{max} cd/m2", f64::from(min) / 1e4)?;
        }
        Ok(())
    }
}

/// Marks the description objects that answer `get_preferred`.
pub(super) struct PreferredQuery;

/// Ask the compositor for the surface's preferred description, now and
/// whenever it changes (None: no `wp_color_manager_v1`).
pub(super) fn watch(
    manager: Option<&WpColorManagerV1>,
    surface: &WlSurface,
    qh: &QueueHandle<State>,
) -> Option<WpColorManagementSurfaceFeedbackV1> {
    let feedback = manager?.get_surface_feedback(surface, qh, ());
    feedback.get_preferred(qh, PreferredQuery);
    Some(feedback)
}

impl Dispatch<WpColorManagementSurfaceFeedbackV1, ()> for State {
    fn event(
        _: &mut Self,
        feedback: &WpColorManagementSurfaceFeedbackV1,
        event: wp_color_management_surface_feedback_v1::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        use wp_color_management_surface_feedback_v1::Event;
        if let Event::PreferredChanged { .. } | Event::PreferredChanged2 { .. } = event {
            feedback.get_preferred(qh, PreferredQuery);
        }
    }
}

impl Dispatch<WpImageDescriptionV1, PreferredQuery> for State {
    fn event(
        _: &mut Self,
        description: &WpImageDescriptionV1,
        event: wp_image_description_v1::Event,
        _: &PreferredQuery,
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        use wp_image_description_v1::Event;
        match event {
            Event::Ready { .. } | Event::Ready2 { .. } => {
                // The information object outlives the description's.
                description.get_information(qh, ());
                description.destroy();
            }
            Event::Failed { cause, msg } => {
                log::info!("no preferred image description ({cause:?}): {msg}");
                description.destroy();
            }
            _ => {}
        }
    }
}

impl Dispatch<WpImageDescriptionInfoV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &WpImageDescriptionInfoV1,
        event: wp_image_description_info_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wp_image_description_info_v1::Event;
        let mut inner = lock(&state.shared.inner);
        let building = &mut inner.preferred_building;
        match event {
            Event::PrimariesNamed { primaries } => {
                building.primaries_named = Some(name(primaries));
            }
            Event::Primaries {
                r_x,
                r_y,
                g_x,
                g_y,
                b_x,
                b_y,
                w_x,
                w_y,
            } => building.primaries = Some([(r_x, r_y), (g_x, g_y), (b_x, b_y), (w_x, w_y)]),
            Event::TfNamed { tf } => building.transfer_named = Some(name(tf)),
            Event::TfPower { eexp } => building.transfer_power = Some(eexp),
            Event::Luminances {
                min_lum,
                max_lum,
                reference_lum,
            } => building.luminances = Some((min_lum, max_lum, reference_lum)),
            Event::TargetLuminance { min_lum, max_lum } => {
                building.target_luminance = Some((min_lum, max_lum));
            }
            Event::IccFile { icc, icc_size } => {
                let _: OwnedFd = icc;
                building.icc_bytes = Some(icc_size);
            }
            Event::Done => {
                let done = std::mem::take(&mut inner.preferred_building);
                log::info!("the compositor prefers: {done}");
                inner.preferred = Some(done);
            }
            _ => {}
        }
    }
}

/// An enum value's name, or its number when this build does not know it.
fn name<T: fmt::Debug>(value: WEnum<T>) -> String {
    match value {
        WEnum::Value(v) => format!("{v:?}"),
        WEnum::Unknown(n) => format!("#{n}"),
    }
}

impl Presenter {
    /// The compositor's preferred image description for the video surface
    /// (None: not known, or no colour management).
    pub fn preferred_image_description(&self) -> Option<PreferredDescription> {
        lock(&self.shared.inner).preferred.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_description_reads_as_names_and_luminances() {
        let d = PreferredDescription {
            primaries_named: Some("Srgb".into()),
            transfer_named: Some("Gamma22".into()),
            luminances: Some((2000, 80, 80)),
            ..Default::default()
        };
        assert_eq!(
            d.to_string(),
            "primaries Srgb, transfer Gamma22, luminance 0.2-80 cd/m2 (reference 80)"
        );
    }

    #[test]
    fn numbers_are_shown_where_no_name_came() {
        let d = PreferredDescription {
            primaries: Some([
                (640000, 330000),
                (300000, 600000),
                (150000, 60000),
                (312700, 329000),
            ]),
            transfer_power: Some(24000),
            target_luminance: Some((500, 1000)),
            ..Default::default()
        };
        assert_eq!(
            d.to_string(),
            "primaries R (640000, 330000) G (300000, 600000) B (150000, 60000) W (312700, 329000) x1e-6, \
             transfer power 2.4, target 0.05-1000 cd/m2"
        );
        assert_eq!(
            PreferredDescription::default().to_string(),
            "primaries unknown, transfer unknown"
        );
    }
}
