//! Man pages and shell completions generated from a program's clap
//! definition, for `cargo xtask install` and `cargo xtask package`.
//!
//! Each program calls [`generate_if_asked`] first thing in `main`. Run as
//! `PROGRAM --generate-cli-docs DIR` it writes, and exits:
//!
//! - `DIR/man1/PROGRAM.1` (troff, clap_mangen),
//! - `DIR/bash/PROGRAM`, `DIR/zsh/_PROGRAM`, `DIR/fish/PROGRAM.fish` (clap_complete).
//!
//! The option is deliberately not part of the clap definitions (it would
//! show in `--help` and clash with required arguments); it is only looked
//! for as the first argument, followed by exactly one folder.

use std::fs;
use std::io::Write;
use std::path::Path;

use clap_complete::Shell;

/// The first argument that asks for the documentation.
pub const GENERATE_FLAG: &str = "--generate-cli-docs";

/// The shells completions are written for.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// What went wrong writing the documentation.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// If the arguments are `GENERATE_FLAG DIR`, write the man page and the
/// completions for `command()` into DIR and exit (0 on success, 1 with a
/// message on failure). Otherwise return and let the program run.
pub fn generate_if_asked(command: impl FnOnce() -> clap::Command) {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let [flag, dir] = args.as_slice() else {
        return;
    };
    if flag != GENERATE_FLAG {
        return;
    }
    let command = command();
    let name = command.get_name().to_owned();
    match write_docs(command, Path::new(dir)) {
        Ok(()) => std::process::exit(0),
        Err(err) => {
            eprintln!("{name}: {err}");
            std::process::exit(1);
        }
    }
}

/// The file a completion for `shell` of program `name` goes into, relative
/// to the output folder.
pub fn completion_file(shell: Shell, name: &str) -> String {
    match shell {
        Shell::Zsh => format!("zsh/_{name}"),
        Shell::Fish => format!("fish/{name}.fish"),
        _ => format!("bash/{name}"),
    }
}

/// Write the man page and every completion for `command` under `dir`.
pub fn write_docs(command: clap::Command, dir: &Path) -> Result<(), DocsError> {
    let mut command = command;
    command.build();
    let name = command.get_name().to_owned();

    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .map_err(|source| write_error(&dir.join("man1"), source))?;
    write_file(&dir.join("man1").join(format!("{name}.1")), &page)?;

    for shell in SHELLS {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, name.clone(), &mut script);
        write_file(&dir.join(completion_file(shell, &name)), &script)?;
    }
    Ok(())
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), DocsError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| write_error(parent, source))?;
    }
    let mut file = fs::File::create(path).map_err(|source| write_error(path, source))?;
    file.write_all(contents)
        .map_err(|source| write_error(path, source))
}

fn write_error(path: &Path, source: std::io::Error) -> DocsError {
    DocsError::Write {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_man_page_and_three_completions() {
        let dir = tempfile::tempdir().unwrap();
        let command = clap::Command::new("zc-demo")
            .about("a demo")
            .arg(clap::Arg::new("input").required(true))
            .arg(
                clap::Arg::new("loop")
                    .long("loop")
                    .action(clap::ArgAction::SetTrue),
            );
        write_docs(command, dir.path()).unwrap();
        let page = fs::read_to_string(dir.path().join("man1/zc-demo.1")).unwrap();
        assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
        assert!(
            page.contains("zc\\-demo") && page.contains("loop"),
            "{page}"
        );
        for shell in SHELLS {
            let script =
                fs::read_to_string(dir.path().join(completion_file(shell, "zc-demo"))).unwrap();
            // bash and zsh spell it `--loop`, fish `-l loop`.
            assert!(
                script.contains("loop") && script.contains("zc-demo"),
                "{shell}: {script}"
            );
        }
    }
}
