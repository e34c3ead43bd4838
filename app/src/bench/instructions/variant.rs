//! The zero-copy path's extra instruction cases: `zcwaylandsink` on its own
//! (it proposes zc's pool itself, the shape of `src ! waylandsink`), with
//! and without presentation feedback. The zero-copy path proper keeps
//! `zcexport` in front, as the timing matrix does; these say what the sink
//! alone costs, and what its presentation feedback costs.

use serde::{Deserialize, Serialize};

/// One extra zero-copy case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SinkVariant {
    /// `zcwaylandsink` without `zcexport` in front.
    SinkAlone,
    /// The same, `presentation-feedback=false`.
    SinkAloneWithoutFeedback,
}

/// The zero-copy path's elements that the variants take out or change.
const EXPORT: &str = "zcexport name=export ! ";
const SINK: &str = "zcwaylandsink name=sink";

impl SinkVariant {
    pub const ALL: [SinkVariant; 2] = [
        SinkVariant::SinkAlone,
        SinkVariant::SinkAloneWithoutFeedback,
    ];

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            SinkVariant::SinkAlone => "zcwaylandsink alone",
            SinkVariant::SinkAloneWithoutFeedback => {
                "zcwaylandsink alone, presentation-feedback=false"
            }
        }
    }

    /// Short, for file names.
    pub fn slug(self) -> &'static str {
        match self {
            SinkVariant::SinkAlone => "sink-alone",
            SinkVariant::SinkAloneWithoutFeedback => "sink-alone-no-feedback",
        }
    }

    /// The variant's pipeline, from the zero-copy path's; `None` when that
    /// pipeline does not have the elements it changes.
    pub fn pipeline(self, zero_copy: &str) -> Option<String> {
        if !zero_copy.contains(EXPORT) || !zero_copy.contains(SINK) {
            return None;
        }
        let alone = zero_copy.replacen(EXPORT, "", 1);
        Some(match self {
            SinkVariant::SinkAlone => alone,
            SinkVariant::SinkAloneWithoutFeedback => {
                alone.replacen(SINK, &format!("{SINK} presentation-feedback=false"), 1)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::bench::matrix::PathKind;

    #[test]
    fn variants_drop_zcexport_and_the_feedback() {
        let zero_copy = format!(
            "videotestsrc ! {}",
            PathKind::ZeroCopy.tail(Path::new("/run/w-0"))
        );
        let alone = SinkVariant::SinkAlone.pipeline(&zero_copy).unwrap();
        assert!(!alone.contains("zcexport"), "{alone}");
        assert!(
            alone.starts_with("videotestsrc ! zcwaylandsink name=sink "),
            "{alone}"
        );
        assert!(!alone.contains("presentation-feedback"), "{alone}");
        let quiet = SinkVariant::SinkAloneWithoutFeedback
            .pipeline(&zero_copy)
            .unwrap();
        assert!(
            quiet.contains("zcwaylandsink name=sink presentation-feedback=false sync=false"),
            "{quiet}"
        );
        assert!(quiet.contains("display=/run/w-0"), "{quiet}");
        // Another path's pipeline has nothing to change.
        let copy = format!(
            "videotestsrc ! {}",
            PathKind::Waylandsink.tail(Path::new("w"))
        );
        assert_eq!(SinkVariant::SinkAlone.pipeline(&copy), None);
    }
}
