//! Colour management (`wp_color_manager_v1`): an HDR or wide-gamut
//! stream's image description (primaries, transfer function, mastering
//! display, content light levels) made with the parametric creator and set
//! on the video surface once the compositor says it is ready.

use wayland_client::{Connection, Dispatch, QueueHandle, WEnum, delegate_noop};
use wayland_protocols::wp::color_management::v1::client::{
    wp_color_management_surface_v1::WpColorManagementSurfaceV1,
    wp_color_manager_v1::{
        self, Feature, Primaries as WpPrimaries, RenderIntent, TransferFunction, WpColorManagerV1,
    },
    wp_image_description_creator_params_v1::WpImageDescriptionCreatorParamsV1,
    wp_image_description_v1::{self, WpImageDescriptionV1},
};
use zc_dmabuf::color::{ImageDescription, Primaries, Transfer};

use super::window::Window;
use super::{Presenter, State};
use crate::lock;

/// What the compositor's `wp_color_manager_v1` supports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColorManagementSupport {
    /// The manager's version bound.
    pub version: u32,
    /// Features by name (parametric, set_mastering_display_primaries...).
    pub features: Vec<String>,
    pub transfers: Vec<Transfer>,
    pub primaries: Vec<Primaries>,
    parametric: bool,
    mastering: bool,
    perceptual: bool,
}

/// The stream's image description as the compositor holds it.
pub(super) struct Described {
    description: ImageDescription,
    object: WpImageDescriptionV1,
    ready: bool,
}

fn wp_transfer(transfer: Transfer) -> TransferFunction {
    match transfer {
        Transfer::Bt709 => TransferFunction::Bt1886,
        Transfer::Srgb => TransferFunction::Gamma22,
        Transfer::Linear => TransferFunction::ExtLinear,
        Transfer::Pq => TransferFunction::St2084Pq,
        Transfer::Hlg => TransferFunction::Hlg,
    }
}

fn wp_primaries(primaries: Primaries) -> WpPrimaries {
    match primaries {
        Primaries::Bt709 => WpPrimaries::Srgb,
        Primaries::Bt601Pal => WpPrimaries::Pal,
        Primaries::Bt601Ntsc => WpPrimaries::Ntsc,
        Primaries::Bt2020 => WpPrimaries::Bt2020,
        Primaries::DciP3 => WpPrimaries::DciP3,
        Primaries::DisplayP3 => WpPrimaries::DisplayP3,
    }
}

const TRANSFERS: [Transfer; 5] = [
    Transfer::Bt709,
    Transfer::Srgb,
    Transfer::Linear,
    Transfer::Pq,
    Transfer::Hlg,
];
const PRIMARIES: [Primaries; 6] = [
    Primaries::Bt709,
    Primaries::Bt601Pal,
    Primaries::Bt601Ntsc,
    Primaries::Bt2020,
    Primaries::DciP3,
    Primaries::DisplayP3,
];

impl Dispatch<WpColorManagerV1, ()> for State {
    fn event(
        state: &mut Self,
        manager: &WpColorManagerV1,
        event: wp_color_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wayland_client::Proxy;
        use wp_color_manager_v1::Event;
        let mut inner = lock(&state.shared.inner);
        let support = inner
            .caps
            .color_management
            .get_or_insert_with(ColorManagementSupport::default);
        support.version = manager.version();
        match event {
            Event::SupportedFeature {
                feature: WEnum::Value(feature),
            } => {
                support.parametric |= feature == Feature::Parametric;
                support.mastering |= feature == Feature::SetMasteringDisplayPrimaries;
                support.features.push(format!("{feature:?}"));
            }
            Event::SupportedTfNamed {
                tf: WEnum::Value(tf),
            } => support
                .transfers
                .extend(TRANSFERS.into_iter().filter(|t| wp_transfer(*t) == tf)),
            Event::SupportedPrimariesNamed {
                primaries: WEnum::Value(primaries),
            } => support.primaries.extend(
                PRIMARIES
                    .into_iter()
                    .filter(|p| wp_primaries(*p) == primaries),
            ),
            Event::SupportedIntent {
                render_intent: WEnum::Value(RenderIntent::Perceptual),
            } => support.perceptual = true,
            _ => {}
        }
    }
}

impl Dispatch<WpImageDescriptionV1, ()> for State {
    fn event(
        state: &mut Self,
        object: &WpImageDescriptionV1,
        event: wp_image_description_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wp_image_description_v1::Event;
        let mut inner = lock(&state.shared.inner);
        let Some(described) = inner.described.as_mut().filter(|d| &d.object == object) else {
            return;
        };
        match event {
            Event::Ready { .. } | Event::Ready2 { .. } => {
                described.ready = true;
                log::debug!("image description ready: {}", described.description);
            }
            Event::Failed { cause, msg } => {
                log::warn!(
                    "the compositor refused the image description {} ({cause:?}): {msg}",
                    described.description
                );
                if let Some(failed) = inner.described.take() {
                    failed.object.destroy();
                }
            }
            _ => {}
        }
        drop(inner);
        state.shared.changed.notify_all();
    }
}

delegate_noop!(State: ignore WpImageDescriptionCreatorParamsV1);

delegate_noop!(State: ignore WpColorManagementSurfaceV1);

impl Presenter {
    /// The image description of frames presented from now on (None: SDR,
    /// none set). Made at once with the parametric creator; it goes on the
    /// video surface with the first commit after the compositor said it is
    /// ready. An error says why the compositor cannot be told.
    pub fn set_image_description(
        &self,
        description: Option<ImageDescription>,
    ) -> Result<(), String> {
        let mut inner = lock(&self.shared.inner);
        if inner.described.as_ref().map(|d| d.description) == description {
            return Ok(());
        }
        if let Some(old) = inner.described.take() {
            // Copy semantics: a surface that has it keeps it.
            old.object.destroy();
        }
        let Some(description) = description else {
            return Ok(());
        };
        let (Some(manager), Some(support)) =
            (&self.globals.color_manager, &inner.caps.color_management)
        else {
            return Err("the compositor lacks wp_color_manager_v1".to_owned());
        };
        let lacks = if !support.parametric {
            Some("parametric image descriptions".to_owned())
        } else if !support.perceptual {
            Some("the perceptual rendering intent".to_owned())
        } else if !support.transfers.contains(&description.transfer) {
            Some(format!("the {:?} transfer function", description.transfer))
        } else if !support.primaries.contains(&description.primaries) {
            Some(format!("the {:?} primaries", description.primaries))
        } else {
            None
        };
        if let Some(lacks) = lacks {
            return Err(format!(
                "the compositor's wp_color_manager_v1 lacks {lacks} (it offers features {}, transfers {:?}, primaries {:?})",
                support.features.join(", "),
                support.transfers,
                support.primaries
            ));
        }
        let mastering = support.mastering;
        let creator = manager.create_parametric_creator(&self.queue_handle, ());
        creator.set_tf_named(wp_transfer(description.transfer));
        creator.set_primaries_named(wp_primaries(description.primaries));
        if let Some(m) = description.mastering.filter(|_| mastering) {
            let [r, g, b] = m.primaries.map(|c| (c.x as i32, c.y as i32));
            let w = (m.white.x as i32, m.white.y as i32);
            creator.set_mastering_display_primaries(r.0, r.1, g.0, g.1, b.0, b.1, w.0, w.1);
            // The protocol refuses max <= min (invalid_luminance).
            if u64::from(m.max_luminance) * 10_000 > u64::from(m.min_luminance) {
                creator.set_mastering_luminance(m.min_luminance, m.max_luminance);
            }
        }
        if let Some(light) = description.content_light {
            creator.set_max_cll(light.max_cll);
            creator.set_max_fall(light.max_fall);
        }
        let object = creator.create(&self.queue_handle, ());
        inner.described = Some(Described {
            description,
            object,
            ready: false,
        });
        drop(inner);
        self.flush().map_err(|e| e.to_string())
    }

    /// The image description the video surface has (as of the last commit).
    pub fn image_description(&self) -> Option<ImageDescription> {
        lock(&self.shared.inner)
            .window
            .as_ref()
            .and_then(|w| w.image_description_set)
    }
}

impl Described {
    pub(super) fn destroy(self) {
        self.object.destroy();
    }
}

/// Before a commit: the video surface gets the stream's image description
/// once it is ready, or loses the one it had.
pub(super) fn apply(
    window: &mut Window,
    manager: Option<&WpColorManagerV1>,
    described: Option<&Described>,
    qh: &QueueHandle<State>,
) {
    let Some(manager) = manager else {
        return;
    };
    let wanted = described.filter(|d| d.ready);
    if window.image_description_set == wanted.map(|d| d.description) {
        return;
    }
    match wanted {
        Some(d) => {
            window
                .video_color
                .get_or_insert_with(|| manager.get_surface(&window.video, qh, ()))
                .set_image_description(&d.object, RenderIntent::Perceptual);
            log::debug!("image description set: {}", d.description);
        }
        None => {
            if let Some(surface) = &window.video_color {
                surface.unset_image_description();
            }
        }
    }
    window.image_description_set = wanted.map(|d| d.description);
}
