//! Files the programs make for themselves, safe against other local users:
//! private folders made fresh (mkdtemp, 0700: nobody else can have made
//! them or look inside), and finished files put where the user asked for
//! them without ever writing through a link planted there (a rename
//! replaces whatever the name held, a symlink included).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A new folder `prefix` + random characters in `parent`, mode 0700,
/// removed with everything in it when the value drops (unless `keep()`).
pub fn private_dir(prefix: &str, parent: &Path) -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(parent)
}

/// Move `from` to `to`. Across file systems, copy into a new file (created
/// exclusively, 0600) beside `to`, then rename that over `to`; `from` is
/// removed either way.
pub fn move_into_place(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
        Err(e) => return Err(e),
    }
    let folder = match to.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut staged = tempfile::Builder::new()
        .prefix(".zc-snapshot-")
        .tempfile_in(folder)?;
    io::copy(&mut std::fs::File::open(from)?, staged.as_file_mut())?;
    staged.as_file().sync_all()?;
    staged.persist(to).map_err(|e| e.error)?;
    std::fs::remove_file(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").expect("write");
        let target = dir.path().join("snap.png");
        std::os::unix::fs::symlink(&victim, &target).expect("symlink");
        let made = dir.path().join("made.png");
        std::fs::write(&made, b"PNG").expect("write");
        move_into_place(&made, &target).expect("moved");
        assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");
        assert!(
            !std::fs::symlink_metadata(&target)
                .expect("target")
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).expect("target"), b"PNG");
        assert!(!made.exists());
    }

    #[test]
    fn private_folders_are_0700_whatever_the_umask() {
        let parent = tempfile::tempdir().expect("temp dir");
        let dir = private_dir("zc-test-", parent.path()).expect("private dir");
        let mode = std::fs::metadata(dir.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
        let again = private_dir("zc-test-", parent.path()).expect("another");
        assert_ne!(dir.path(), again.path());
    }

    #[test]
    fn a_missing_source_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = move_into_place(&dir.path().join("none"), &dir.path().join("to"));
        assert!(error.is_err());
    }
}
