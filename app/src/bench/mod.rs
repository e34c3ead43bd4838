//! `zc-bench`: how much zero-copy saves, on this machine, for this content.
//!
//! A matrix of sources (raw, H.264, VP9) x sizes x paths (zero-copy, copy,
//! stock waylandsink, videoconvert ! waylandsink, the Vulkan path, and
//! fakesink as the floor), each case played in a fresh process
//! (`zc-bench --run-case`), repeated, against one headless Weston whose
//! CPU time is read around every case. Out come a JSON file with every
//! sample and the environment, a Markdown report with ratios between paths
//! of the same run and the targets, and SVG charts.
//!
//! - [`matrix`]: what runs, and the pipeline each case becomes;
//! - [`case`]: the child side, one pipeline measured between warm-up and EOS;
//! - [`runner`]: the parent side: clips, compositor, children, progress;
//! - [`report`]: the JSON model, medians, targets; [`markdown`], [`svg`]: output.

pub mod case;
pub mod clips;
pub mod compare;
pub mod environment;
pub mod instructions;
pub mod markdown;
pub mod matrix;
pub mod measure;
pub mod report;
pub mod runner;
pub mod svg;
pub mod timeline;

use crate::weston::WestonError;

/// Why the benchmark, or one of its cases, could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    System {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Gst(String),
    #[error("{0}")]
    Pipeline(String),
    #[error("the compositor: {0}")]
    Weston(#[from] WestonError),
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Child(String),
}

pub(crate) fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::System { what, source }
}
