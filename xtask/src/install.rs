//! `cargo xtask install` and `cargo xtask uninstall`: zc into a prefix or
//! the user's folders, like any GStreamer plugin and desktop program, and
//! out again.
//!
//! Install builds (unless `--no-build`), lays the files out (dist.rs), and
//! copies them where layout.rs says, each through a temporary file and a
//! rename. It never replaces a file that an earlier zc install did not put
//! there, unless `--force`. What it wrote and which folders it created go
//! into a manifest (manifest.rs); uninstall removes exactly those.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::dist::{self, PROGRAMS, Profile, Staged};
use crate::layout::Layout;
use crate::manifest::Manifest;
use crate::util::step;

/// What `install` and `uninstall` were asked.
struct Options {
    layout: Layout,
    profile: Profile,
    build: bool,
    force: bool,
}

const USAGE: &str = "usage: cargo xtask install [--prefix DIR | --user] [--profile release|dev] [--no-build] [--force]
       cargo xtask uninstall [--prefix DIR | --user]";

fn parse(args: &[String], installing: bool) -> Result<Options> {
    let mut prefix: Option<PathBuf> = None;
    let mut user = false;
    let mut profile = Profile::release();
    let mut build = true;
    let mut force = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--prefix" => {
                let dir = args.next().context("--prefix needs a folder")?;
                prefix = Some(PathBuf::from(dir));
            }
            "--user" => user = true,
            "--profile" if installing => {
                profile = Profile::parse(args.next().context("--profile needs a name")?)?
            }
            "--no-build" if installing => build = false,
            "--force" if installing => force = true,
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    let layout = match (prefix, user) {
        (Some(_), true) => bail!("--prefix and --user exclude each other\n{USAGE}"),
        (Some(prefix), false) => Layout::for_prefix(&absolute(&prefix)?)?,
        (None, true) => Layout::for_user()?,
        (None, false) => Layout::for_prefix(Path::new("/usr/local"))?,
    };
    Ok(Options {
        layout,
        profile,
        build,
        force,
    })
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

/// One file to install: from the staged tree to its place, with its mode.
struct Item {
    from: PathBuf,
    to: PathBuf,
    mode: u32,
}

fn plan(staged: &Staged, layout: &Layout) -> Vec<Item> {
    let item = |from: PathBuf, dir: &Path, mode: u32| {
        let name = from.file_name().map(ToOwned::to_owned).unwrap_or_default();
        Item {
            to: dir.join(name),
            from,
            mode,
        }
    };
    let mut items = vec![item(staged.plugin(), &layout.plugin, 0o644)];
    for program in PROGRAMS {
        items.push(item(staged.bin(program), &layout.bin, 0o755));
        items.push(item(staged.man_page(program), &layout.man1, 0o644));
        items.push(item(staged.bash(program), &layout.bash, 0o644));
        items.push(item(staged.zsh(program), &layout.zsh, 0o644));
        items.push(item(staged.fish(program), &layout.fish, 0o644));
    }
    items.push(item(staged.desktop(), &layout.applications, 0o644));
    items.push(item(staged.icon(), &layout.icons, 0o644));
    items
}

/// `cargo xtask install ...`
pub fn install(args: &[String]) -> Result<()> {
    let options = parse(args, true)?;
    if options.build {
        dist::build(&options.profile)?;
    }
    let own_folder = format!("zc-install-{}", std::process::id());
    let staged = dist::stage(
        &options.profile,
        options.profile.target_dir().join(own_folder),
    )?;
    let layout = &options.layout;
    step(format!("install: into {}", layout.root.display()));
    let previous = Manifest::read(&layout.manifest)?;
    if let Some(previous) = &previous {
        previous.check_inside(&layout.root, &layout.manifest)?;
    }
    let owned = previous.clone().unwrap_or_default();
    let items = plan(&staged, layout);

    // Refuse before touching anything: a file zc did not install, or a
    // folder where a file goes.
    let mut conflicts = Vec::new();
    for item in &items {
        match fs::symlink_metadata(&item.to) {
            Ok(meta) if meta.is_dir() => conflicts.push(format!(
                "{} is a folder (zc installs a file there)",
                item.to.display()
            )),
            Ok(_) if !owned.files.contains(&item.to) && !options.force => conflicts.push(format!(
                "{} exists and was not installed by zc",
                item.to.display()
            )),
            _ => {}
        }
    }
    if !conflicts.is_empty() {
        bail!(
            "refusing to install, nothing was changed:\n  {}\nmove these away, or pass --force to replace them (uninstall will then remove them)",
            conflicts.join("\n  ")
        );
    }

    let mut manifest = owned;
    for dir in [layout.manifest.parent()]
        .into_iter()
        .flatten()
        .chain(items.iter().filter_map(|i| i.to.parent()))
    {
        create_dirs(dir, &layout.root, &mut manifest)?;
    }
    // Record first: a failure half-way still leaves a manifest that covers
    // what was written.
    for item in &items {
        manifest.add_file(&item.to);
    }
    manifest.write(&layout.manifest).map_err(permission_hint)?;
    for item in &items {
        if options.force
            && item.to.exists()
            && !previous
                .as_ref()
                .is_some_and(|p| p.files.contains(&item.to))
        {
            println!("replacing {} (--force)", item.to.display());
        }
        put(item).map_err(permission_hint)?;
    }
    println!(
        "installed {} files into {}; the list is in {}",
        items.len(),
        layout.root.display(),
        layout.manifest.display()
    );
    println!("plugin: {}", layout.plugin.display());
    for note in &layout.notes {
        println!("note: {note}");
    }
    Ok(())
}

/// Create `dir` and any missing parents below `root`, recording each one
/// created in the manifest (parents first).
fn create_dirs(dir: &Path, root: &Path, manifest: &mut Manifest) -> Result<()> {
    let mut missing = Vec::new();
    let mut current = dir;
    while !current.exists() {
        missing.push(current.to_owned());
        match current.parent() {
            Some(parent) if parent.starts_with(root) => current = parent,
            _ => break,
        }
    }
    for dir in missing.iter().rev() {
        if !dir.starts_with(root) {
            bail!("{} is outside {}", dir.display(), root.display());
        }
        fs::create_dir(dir)
            .with_context(|| format!("creating {}", dir.display()))
            .map_err(permission_hint)?;
        manifest.add_dir(dir);
    }
    Ok(())
}

/// Copy one file into place through a temporary file beside it and a
/// rename (never writing through a link planted at the destination).
fn put(item: &Item) -> Result<()> {
    let name = item
        .to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = item
        .to
        .with_file_name(format!(".{name}.zc-install-{}", std::process::id()));
    let _ = fs::remove_file(&partial);
    fs::copy(&item.from, &partial)
        .with_context(|| format!("copying {} to {}", item.from.display(), partial.display()))?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(item.mode))
        .with_context(|| format!("setting the mode of {}", partial.display()))?;
    fs::rename(&partial, &item.to).with_context(|| format!("writing {}", item.to.display()))
}

fn permission_hint(err: anyhow::Error) -> anyhow::Error {
    let denied = err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
    });
    if denied {
        err.context("permission denied: run as root (sudo) for a system prefix, or use --user or --prefix DIR")
    } else {
        err
    }
}

/// `cargo xtask uninstall ...`
pub fn uninstall(args: &[String]) -> Result<()> {
    let options = parse(args, false)?;
    let layout = &options.layout;
    let Some(manifest) = Manifest::read(&layout.manifest)? else {
        bail!(
            "no zc installation in {}: there is no {} (install writes it); nothing was removed",
            layout.root.display(),
            layout.manifest.display()
        );
    };
    manifest.check_inside(&layout.root, &layout.manifest)?;
    step(format!("uninstall: from {}", layout.root.display()));
    let mut removed = 0;
    for file in &manifest.files {
        match fs::symlink_metadata(file) {
            Ok(meta) if meta.is_dir() => {
                println!(
                    "kept {}: a folder now, not the file zc installed",
                    file.display()
                )
            }
            Ok(_) => {
                fs::remove_file(file)
                    .with_context(|| format!("removing {}", file.display()))
                    .map_err(permission_hint)?;
                removed += 1;
            }
            Err(_) => println!("already gone: {}", file.display()),
        }
    }
    fs::remove_file(&layout.manifest)
        .with_context(|| format!("removing {}", layout.manifest.display()))?;
    for dir in manifest.dirs.iter().rev() {
        if let Err(err) = fs::remove_dir(dir)
            && dir.exists()
        {
            println!(
                "kept {}: {err} (it holds files zc did not install)",
                dir.display()
            );
        }
    }
    println!(
        "removed {removed} files installed by zc from {}",
        layout.root.display()
    );
    Ok(())
}
