//! Colour representation (`wp_color_representation_manager_v1`): telling
//! the compositor a YUV surface's matrix coefficients, range and chroma
//! location, so it does not guess. The manager's events (what the
//! compositor supports), and the per-surface object set before a commit.

use wayland_client::{Connection, Dispatch, QueueHandle, WEnum, delegate_noop};
use wayland_protocols::wp::color_representation::v1::client::{
    wp_color_representation_manager_v1::{self, WpColorRepresentationManagerV1},
    wp_color_representation_surface_v1::{
        AlphaMode, ChromaLocation as WpChromaLocation, Coefficients, Range as WpRange,
        WpColorRepresentationSurfaceV1,
    },
};
use zc_dmabuf::color::{ChromaLocation, Colorimetry, Matrix, Range};

use super::connection::Globals;
use super::window::Window;
use super::{Presenter, State};
use crate::lock;

/// What a compositor without `wp_color_representation_v1` does with a YUV
/// buffer of unstated colorimetry, as measured with Weston 14's GL renderer
/// (ENVIRONMENT.md): BT.601 limited range, whatever the video's.
pub const ASSUMED_WITHOUT_PROTOCOL: Colorimetry = Colorimetry {
    matrix: Matrix::Bt601,
    range: Range::Limited,
};

/// How a YUV frame's samples become RGB: what a surface states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Representation {
    pub colorimetry: Colorimetry,
    /// For 4:2:0 formats only (a compositor may refuse it on others).
    pub chroma_location: Option<ChromaLocation>,
}

impl std::fmt::Display for Representation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.colorimetry)?;
        if let Some(chroma) = self.chroma_location {
            write!(f, ", {chroma}")?;
        }
        Ok(())
    }
}

/// What the compositor's `wp_color_representation_manager_v1` supports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepresentationSupport {
    /// Matrix and range pairs zc knows (BT.601, BT.709, BT.2020; limited,
    /// full) that the compositor listed.
    pub colorimetries: Vec<Colorimetry>,
    /// Every (coefficients, range) pair listed, as H.273-like names, for
    /// the log.
    pub listed: Vec<String>,
    /// Alpha modes listed, by name.
    pub alpha_modes: Vec<String>,
    /// The manager's `done` arrived: the lists are complete.
    pub done: bool,
}

impl RepresentationSupport {
    pub fn supports(&self, colorimetry: Colorimetry) -> bool {
        self.colorimetries.contains(&colorimetry)
    }
}

fn coefficients(matrix: Matrix) -> Coefficients {
    match matrix {
        Matrix::Bt601 => Coefficients::Bt601,
        Matrix::Bt709 => Coefficients::Bt709,
        Matrix::Bt2020 => Coefficients::Bt2020,
    }
}

fn range(range: Range) -> WpRange {
    match range {
        Range::Limited => WpRange::Limited,
        Range::Full => WpRange::Full,
    }
}

fn chroma_location(location: ChromaLocation) -> WpChromaLocation {
    match location {
        ChromaLocation::LeftCenter => WpChromaLocation::Type0,
        ChromaLocation::Center => WpChromaLocation::Type1,
        ChromaLocation::TopLeft => WpChromaLocation::Type2,
        ChromaLocation::TopCenter => WpChromaLocation::Type3,
        ChromaLocation::BottomLeft => WpChromaLocation::Type4,
        ChromaLocation::BottomCenter => WpChromaLocation::Type5,
    }
}

/// The colorimetry zc knows for a listed pair, if it is one.
fn known(coefficients: Coefficients, wp_range: WpRange) -> Option<Colorimetry> {
    let matrix = Matrix::ALL
        .into_iter()
        .find(|m| self::coefficients(*m) == coefficients)?;
    let range = Range::ALL
        .into_iter()
        .find(|r| self::range(*r) == wp_range)?;
    Some(Colorimetry { matrix, range })
}

impl Dispatch<WpColorRepresentationManagerV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &WpColorRepresentationManagerV1,
        event: wp_color_representation_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wp_color_representation_manager_v1::Event;
        let mut inner = lock(&state.shared.inner);
        let support = inner
            .caps
            .color_representation
            .get_or_insert_with(RepresentationSupport::default);
        match event {
            Event::SupportedCoefficientsAndRanges {
                coefficients,
                range,
            } => {
                support.listed.push(format!("{coefficients:?}/{range:?}"));
                if let (WEnum::Value(c), WEnum::Value(r)) = (coefficients, range)
                    && let Some(colorimetry) = known(c, r)
                {
                    support.colorimetries.push(colorimetry);
                }
            }
            Event::SupportedAlphaMode { alpha_mode } => {
                support.alpha_modes.push(match alpha_mode {
                    WEnum::Value(AlphaMode::PremultipliedElectrical) => {
                        "premultiplied-electrical".to_owned()
                    }
                    WEnum::Value(AlphaMode::PremultipliedOptical) => {
                        "premultiplied-optical".to_owned()
                    }
                    WEnum::Value(AlphaMode::Straight) => "straight".to_owned(),
                    other => format!("{other:?}"),
                })
            }
            Event::Done => support.done = true,
            _ => {}
        }
    }
}

delegate_noop!(State: ignore WpColorRepresentationSurfaceV1);

impl Presenter {
    /// How YUV frames presented from now on are to be shown: stated on the
    /// video surface through `wp_color_representation_v1` with each commit
    /// (when it changed), where the compositor supports that matrix and
    /// range; `None` (RGB frames, or not stated) leaves it to the
    /// compositor. Returns whether the compositor will be told.
    pub fn set_color_representation(&self, representation: Option<Representation>) -> bool {
        let mut inner = lock(&self.shared.inner);
        let supported = representation.is_some_and(|r| {
            self.globals.color_representation.is_some()
                && inner
                    .caps
                    .color_representation
                    .as_ref()
                    .is_some_and(|s| s.supports(r.colorimetry))
        });
        inner.representation = representation.filter(|_| supported);
        supported
    }

    /// What the video surface states now (set with the last commit).
    pub fn color_representation(&self) -> Option<Representation> {
        lock(&self.shared.inner)
            .window
            .as_ref()
            .and_then(|w| w.representation_set)
    }
}

/// Before a commit: make the video surface state `wanted` (double-buffered,
/// so it applies with the commit that follows). A chroma location cannot be
/// unset but by destroying the object, so that case starts a new one.
pub(super) fn apply(
    window: &mut Window,
    globals: &Globals,
    qh: &QueueHandle<State>,
    wanted: Option<Representation>,
) {
    if window.representation_set == wanted {
        return;
    }
    let Some(manager) = &globals.color_representation else {
        return;
    };
    let restart = match (window.representation_set, wanted) {
        (_, None) => true,
        (Some(old), Some(new)) => old.chroma_location.is_some() && new.chroma_location.is_none(),
        (None, Some(_)) => false,
    };
    if restart && let Some(object) = window.video_representation.take() {
        object.destroy();
    }
    window.representation_set = wanted;
    let Some(wanted) = wanted else {
        log::debug!("colour representation unset");
        return;
    };
    let object = window
        .video_representation
        .get_or_insert_with(|| manager.get_surface(&window.video, qh, ()));
    object.set_coefficients_and_range(
        coefficients(wanted.colorimetry.matrix),
        range(wanted.colorimetry.range),
    );
    if let Some(location) = wanted.chroma_location {
        object.set_chroma_location(chroma_location(location));
    }
    log::debug!("colour representation set: {wanted}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zc_colorimetries_map_to_the_protocols_h273_code_points() {
        // H.273 MatrixCoefficients: 1 BT.709, 5/6 BT.601, 9 BT.2020 NCL;
        // the protocol numbers its own enum (bt709 2, bt601 4, bt2020 6).
        assert_eq!(coefficients(Matrix::Bt709) as u32, 2);
        assert_eq!(coefficients(Matrix::Bt601) as u32, 4);
        assert_eq!(coefficients(Matrix::Bt2020) as u32, 6);
        assert_eq!(range(Range::Full) as u32, 1);
        assert_eq!(range(Range::Limited) as u32, 2);
        for matrix in Matrix::ALL {
            for r in Range::ALL {
                let c = Colorimetry { matrix, range: r };
                assert_eq!(known(coefficients(matrix), range(r)), Some(c));
            }
        }
        assert_eq!(known(Coefficients::Identity, WpRange::Full), None);
        assert_eq!(
            chroma_location(ChromaLocation::LeftCenter) as u32,
            ChromaLocation::LeftCenter.h273() + 1
        );
        assert_eq!(
            chroma_location(ChromaLocation::BottomCenter) as u32,
            ChromaLocation::BottomCenter.h273() + 1
        );
    }
}
