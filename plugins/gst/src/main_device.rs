//! Telling upstream elements which GPU the display uses.
//!
//! `zcwaylandsink` learns the compositor's main device from linux-dmabuf
//! feedback; an element upstream that picks a device of its own
//! (`zcvulkanconvert device=auto`) asks for it with a custom query, so the
//! frames it makes are on the GPU that will show them (no cross-device
//! import, no copy in the compositor).
//!
//! The query is a custom downstream query, structure `zc-main-device`; the
//! answer is a field `nodes`, the device's DRM node paths (render node
//! first), as a `GstValueArray` of strings.

use std::path::PathBuf;

use gst::prelude::*;

const QUERY_NAME: &str = "zc-main-device";
const NODES_FIELD: &str = "nodes";

/// Ask downstream of `pad` for the display's main device; `None` when no
/// element there knows one (no zc sink, or a compositor without feedback).
pub(crate) fn query_downstream(pad: &gst::Pad) -> Option<Vec<PathBuf>> {
    let mut query = gst::query::Custom::new(gst::Structure::new_empty(QUERY_NAME));
    if !pad.peer_query(&mut query) {
        return None;
    }
    let nodes = query
        .structure()?
        .get::<gst::Array>(NODES_FIELD)
        .ok()?
        .iter()
        .filter_map(|v| v.get::<String>().ok())
        .map(PathBuf::from)
        .collect::<Vec<_>>();
    (!nodes.is_empty()).then_some(nodes)
}

/// If `query` asks for the main device, answer it with `nodes` and return
/// true (the caller then reports the query handled).
pub(crate) fn answer(query: &mut gst::QueryRef, nodes: &[PathBuf]) -> bool {
    let gst::QueryViewMut::Custom(custom) = query.view_mut() else {
        return false;
    };
    if nodes.is_empty() || custom.structure().is_none_or(|s| s.name() != QUERY_NAME) {
        return false;
    }
    let array = gst::Array::new(nodes.iter().map(|p| p.to_string_lossy().into_owned()));
    custom.structure_mut().set(NODES_FIELD, array);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_round_trips_through_a_pad() {
        gst::init().expect("gst init");
        let nodes = vec![
            PathBuf::from("/dev/dri/renderD128"),
            PathBuf::from("/dev/dri/card0"),
        ];
        let answered = nodes.clone();
        let sink = gst::Pad::builder(gst::PadDirection::Sink)
            .query_function(move |_, _, query| answer(query, &answered))
            .build();
        let src = gst::Pad::builder(gst::PadDirection::Src).build();
        src.link(&sink).expect("link");
        sink.set_active(true).expect("activate");
        src.set_active(true).expect("activate");
        assert_eq!(query_downstream(&src), Some(nodes));

        // Nobody answering is `None`, not an empty list.
        let silent = gst::Pad::builder(gst::PadDirection::Sink)
            .query_function(|_, _, _| false)
            .build();
        let src2 = gst::Pad::builder(gst::PadDirection::Src).build();
        src2.link(&silent).expect("link");
        assert_eq!(query_downstream(&src2), None);
    }
}
