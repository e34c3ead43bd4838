pub mod output;
pub mod scale;
