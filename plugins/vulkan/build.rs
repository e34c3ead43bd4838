//! Compiles the YUV->RGB compute shaders in the top-level `shaders/` folder
//! from WGSL to SPIR-V with naga, so no external shader compiler is needed.
//!
//! Each `*.wgsl` entry shader is prefixed with `yuv_common.wgsl` (WGSL has
//! no includes) and written to `$OUT_DIR/<name>.spv`; `src/shaders.rs`
//! includes the words with `include_bytes!`.

use std::path::{Path, PathBuf};
use std::{env, fs};

const COMMON: &str = "yuv_common.wgsl";
const ENTRY_SHADERS: &[&str] = &["yuv_to_rgba_buffer.wgsl", "yuv_to_rgba_image.wgsl"];

fn main() {
    // Read at run time, not baked in with env!(): a build script binary
    // can be reused for another checkout of the same crate.
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| panic!("cargo sets CARGO_MANIFEST_DIR"));
    let shader_dir = Path::new(&manifest_dir).join("../../shaders");
    let out_dir =
        PathBuf::from(env::var_os("OUT_DIR").unwrap_or_else(|| panic!("cargo sets OUT_DIR")));
    println!(
        "cargo:rerun-if-changed={}",
        shader_dir.join(COMMON).display()
    );
    let common = read(&shader_dir.join(COMMON));
    for name in ENTRY_SHADERS {
        let path = shader_dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let source = format!("{common}\n{}", read(&path));
        let words = compile(name, &source);
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let spv = out_dir.join(Path::new(name).with_extension("spv"));
        if let Err(e) = fs::write(&spv, bytes) {
            panic!("cannot write {}: {e}", spv.display());
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read shader {}: {e}", path.display()))
}

/// A shader that does not compile fails the build with naga's own
/// diagnostic (file name, line, caret), since a build script has no other
/// way to report it.
fn compile(name: &str, source: &str) -> Vec<u32> {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}:\n{}", e.emit_to_string_with_path(source, name)));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}: validation failed:\n{}", e.emit_to_string(source)));
    let options = naga::back::spv::Options {
        lang_version: (1, 0),
        ..Default::default()
    };
    naga::back::spv::write_vec(&module, &info, &options, None)
        .unwrap_or_else(|e| panic!("{name}: SPIR-V generation failed: {e}"))
}
