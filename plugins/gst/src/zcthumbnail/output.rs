//! Encoding and writing thumbnails, with no GStreamer in it: JPEG or PNG from
//! an [`Rgb`] image, file names from a `location` pattern, atomic writes.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::scale::Rgb;

/// The file format written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ImageFormat {
    #[default]
    Jpeg,
    Png,
}

#[derive(Debug)]
pub enum OutputError {
    Encode(String),
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Encode(reason) => write!(f, "encoding failed: {reason}"),
            OutputError::Io { path, what, source } => {
                write!(f, "{what} {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for OutputError {}

/// Encode `image`; `quality` (1-100) matters for JPEG only.
pub fn encode(image: &Rgb, format: ImageFormat, quality: u8) -> Result<Vec<u8>, OutputError> {
    let expected = (image.width as usize)
        .checked_mul(image.height as usize)
        .and_then(|pixels| pixels.checked_mul(3))
        .unwrap_or(usize::MAX); // no Vec is that long
    if image.data.len() != expected || image.width == 0 || image.height == 0 {
        return Err(OutputError::Encode(format!(
            "{}x{} RGB needs {expected} bytes, got {}",
            image.width,
            image.height,
            image.data.len()
        )));
    }
    let mut out = Vec::new();
    match format {
        ImageFormat::Jpeg => {
            let (Ok(w), Ok(h)) = (u16::try_from(image.width), u16::try_from(image.height)) else {
                return Err(OutputError::Encode(format!(
                    "JPEG is limited to 65535x65535, not {}x{}",
                    image.width, image.height
                )));
            };
            jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
                .encode(&image.data, w, h, jpeg_encoder::ColorType::Rgb)
                .map_err(|err| OutputError::Encode(err.to_string()))?;
        }
        ImageFormat::Png => {
            let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder
                .write_header()
                .map_err(|err| OutputError::Encode(err.to_string()))?;
            writer
                .write_image_data(&image.data)
                .map_err(|err| OutputError::Encode(err.to_string()))?;
            writer
                .finish()
                .map_err(|err| OutputError::Encode(err.to_string()))?;
        }
    }
    Ok(out)
}

/// The widest `%0Nd`/`%0Nt` field a location pattern may ask for: a u64
/// has at most 20 digits, and a file name at most 255 bytes.
pub const MAX_FIELD_WIDTH: usize = 32;

/// The most pixels one thumbnail may have (8192x8192): scaling and encoding
/// hold about 6 bytes a pixel, so one thumbnail stays under ~400 MB.
pub const MAX_PIXELS: u64 = 8192 * 8192;

/// The longest side a thumbnail may have (JPEG's limit, and the properties').
pub const MAX_SIDE: u32 = 65535;

/// A location pattern that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationError {
    /// A `%0Nd`/`%0Nt` field wider than [`MAX_FIELD_WIDTH`].
    FieldWidth { spec: String },
}

impl fmt::Display for LocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocationError::FieldWidth { spec } => write!(
                f,
                "the field width of `{spec}` is too large: a %d or %t field width is at most \
                 {MAX_FIELD_WIDTH} digits (e.g. %05d)"
            ),
        }
    }
}

impl std::error::Error for LocationError {}

/// The file name for thumbnail number `index` of the frame at `pts_ns`.
///
/// `%d` and `%0Nd` are replaced by the index (printf style, zero-padded to N
/// digits, N at most [`MAX_FIELD_WIDTH`]), `%t` and `%0Nt` by the frame's
/// timestamp in milliseconds (0 when it has none), `%%` by `%`. Anything
/// else is kept as written.
pub fn expand_location(
    pattern: &str,
    index: u64,
    pts_ns: Option<u64>,
) -> Result<String, LocationError> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::from("%");
        let mut width = String::new();
        while let Some(&d) = chars.peek()
            && d.is_ascii_digit()
        {
            width.push(d);
            spec.push(d);
            chars.next();
        }
        let value = match chars.peek().copied() {
            Some('d') => index,
            Some('t') => pts_ns.unwrap_or(0) / 1_000_000,
            Some('%') if width.is_empty() => {
                chars.next();
                out.push('%');
                continue;
            }
            _ => {
                out.push_str(&spec);
                continue;
            }
        };
        if let Some(kind) = chars.next() {
            spec.push(kind);
        }
        let zero_width = match width.parse::<usize>() {
            Ok(w) if w <= MAX_FIELD_WIDTH => w,
            Err(_) if width.is_empty() => 0,
            _ => return Err(LocationError::FieldWidth { spec }),
        };
        out.push_str(&format!("{value:0zero_width$}"));
    }
    Ok(out)
}

/// Why a `width` x `height` thumbnail is too large to make, if it is.
pub fn check_size(width: u32, height: u32) -> Result<(), String> {
    let pixels = u64::from(width) * u64::from(height);
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "a {width}x{height} thumbnail is too large: each side is at most {MAX_SIDE} pixels"
        ));
    }
    if pixels > MAX_PIXELS {
        return Err(format!(
            "a {width}x{height} thumbnail ({pixels} pixels) is too large: at most {MAX_PIXELS} pixels \
             (8192x8192); lower width and height"
        ));
    }
    Ok(())
}

/// The folder a location pattern writes into (`.` for a bare file name).
pub fn folder_of(location: &str) -> PathBuf {
    match Path::new(location).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Why `folder` cannot take thumbnails, if it cannot: missing, not a
/// folder, or a probe file cannot be created in it (exclusively, as
/// [`write_atomically`] creates its files, so nothing there is touched).
pub fn check_folder(folder: &Path) -> Result<(), String> {
    match std::fs::metadata(folder) {
        Err(err) => return Err(format!("folder {} is not usable: {err}", folder.display())),
        Ok(meta) if !meta.is_dir() => return Err(format!("{} is not a folder", folder.display())),
        Ok(_) => {}
    }
    match create_beside(&folder.join(".zcthumbnail-probe")) {
        Ok((_, probe)) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(err) => Err(format!(
            "folder {} is not writable: {err}",
            folder.display()
        )),
    }
}

/// How many names [`create_beside`] tries before giving up.
const TEMP_ATTEMPTS: u32 = 16;

/// Create a new file next to `target`, named `.<name>.<pid>-<n>.tmp`:
/// exclusively (`O_CREAT|O_EXCL`: never an existing file, never through a
/// symlink, which `O_NOFOLLOW` refuses too), with mode 0666 less the umask.
/// A name already taken (by anyone) is skipped for the next.
fn create_beside(target: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);

    let name = target.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", target.display()),
        )
    })?;
    let mut last = None;
    for _ in 0..TEMP_ATTEMPTS {
        let mut temp = std::ffi::OsString::from(".");
        temp.push(name);
        temp.push(format!(
            ".{}-{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let path = target.with_file_name(temp);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(file) => return Ok((file, path)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last = Some(err),
            Err(err) => {
                return Err(std::io::Error::new(
                    err.kind(),
                    format!("creating {}: {err}", path.display()),
                ));
            }
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AlreadyExists)))
}

/// Write `bytes` to `path` atomically: into a new temporary file in the same
/// folder (see [`create_beside`]: created exclusively, never through a
/// symlink), synced, then renamed over `path`. A regular file at `path` is
/// replaced (like multifilesink overwriting its own outputs); a symlink there
/// is replaced, never followed. The temporary file is removed again if
/// anything fails, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    fn io(what: &'static str, p: &Path) -> impl FnOnce(std::io::Error) -> OutputError + use<> {
        let p = p.to_path_buf();
        move |source| OutputError::Io {
            path: p,
            what,
            source,
        }
    }
    let (mut file, tmp) = create_beside(path).map_err(io("creating a temporary file for", path))?;
    let result = (|| {
        file.write_all(bytes).map_err(io("writing", &tmp))?;
        file.sync_data().map_err(io("syncing", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io("renaming into", path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32, rgb: [u8; 3]) -> Rgb {
        Rgb {
            width: w,
            height: h,
            data: (0..w * h).flat_map(|_| rgb).collect(),
        }
    }

    #[test]
    fn location_tokens() {
        let expand = |p: &str, i: u64, t: Option<u64>| expand_location(p, i, t).expect(p);
        assert_eq!(expand("thumb-%05d.jpg", 7, None), "thumb-00007.jpg");
        assert_eq!(expand("%d.png", 12, None), "12.png");
        assert_eq!(expand("at-%t.jpg", 0, Some(10_500_000_000)), "at-10500.jpg");
        assert_eq!(
            expand("at-%08t-%03d.jpg", 2, Some(1_000_000)),
            "at-00000001-002.jpg"
        );
        assert_eq!(expand("100%%-%x-%", 1, None), "100%-%x-%");
        assert_eq!(expand("/tmp/ünï/%d", 3, None), "/tmp/ünï/3");
        assert_eq!(expand("%032d", u64::MAX, None), format!("{:032}", u64::MAX));
        // Digits not followed by d or t are kept as written, however many.
        assert_eq!(expand("%070000x", 1, None), "%070000x");
    }

    #[test]
    fn field_widths_over_the_limit_are_refused() {
        for (pattern, spec) in [
            ("t%033d.jpg", "%033d"),
            ("t%070000d.jpg", "%070000d"),
            ("%99999999999999999999999t", "%99999999999999999999999t"),
        ] {
            let err = expand_location(pattern, 0, None).expect_err(pattern);
            assert_eq!(
                err,
                LocationError::FieldWidth {
                    spec: spec.to_owned()
                }
            );
            let text = err.to_string();
            assert!(text.contains(spec) && text.contains("at most 32"), "{text}");
        }
    }

    #[test]
    fn sizes_over_the_limits_are_refused() {
        assert!(check_size(8192, 8192).is_ok());
        assert!(check_size(65535, 1).is_ok());
        let err = check_size(65535, 65535).expect_err("too many pixels");
        assert!(
            err.contains("65535x65535") && err.contains("67108864"),
            "{err}"
        );
        let err = check_size(65536, 1).expect_err("too wide");
        assert!(err.contains("at most 65535"), "{err}");
    }

    #[test]
    fn folders() {
        assert_eq!(folder_of("a.jpg"), PathBuf::from("."));
        assert_eq!(folder_of("/x/y/%05d.jpg"), PathBuf::from("/x/y"));
        let missing = check_folder(Path::new("/nonexistent/zc-thumbs")).expect_err("missing");
        assert!(missing.contains("/nonexistent/zc-thumbs"), "{missing}");
        let file = check_folder(Path::new("/proc/self/status")).expect_err("a file");
        assert!(file.contains("is not a folder"), "{file}");
        check_folder(&std::env::temp_dir()).expect("temp dir is writable");
    }

    #[test]
    fn files_are_created_exclusively_and_never_through_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("zc-output-excl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"keep").expect("victim");
        let target = dir.join("t.jpg");
        std::os::unix::fs::symlink(&victim, &target).expect("symlink");
        // Every name the next temporary files could take, planted too.
        let next = {
            let (_, probe) = create_beside(&dir.join("x")).expect("probe");
            std::fs::remove_file(&probe).expect("rm probe");
            let n: u64 = probe
                .to_string_lossy()
                .rsplit('-')
                .next()
                .and_then(|s| s.strip_suffix(".tmp"))
                .and_then(|s| s.parse().ok())
                .expect("counter in the name");
            n + 1
        };
        for n in next..next + 3 {
            let planted = dir.join(format!(".t.jpg.{}-{n}.tmp", std::process::id()));
            std::os::unix::fs::symlink(&victim, planted).expect("plant");
        }
        write_atomically(&target, b"thumbnail").expect("write");
        assert_eq!(std::fs::read(&victim).expect("victim"), b"keep");
        let meta = std::fs::symlink_metadata(&target).expect("target");
        assert!(meta.file_type().is_file());
        assert_eq!(std::fs::read(&target).expect("target"), b"thumbnail");
        // 0666 less the umask: never more than the umask allows, never executable.
        assert_eq!(meta.permissions().mode() & 0o111, 0);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn png_round_trips_exactly() {
        let img = Rgb {
            width: 3,
            height: 2,
            data: vec![
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
            ],
        };
        let bytes = encode(&img, ImageFormat::Png, 0).expect("png");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("frame");
        assert_eq!(
            (info.width, info.height, info.color_type),
            (3, 2, png::ColorType::Rgb)
        );
        assert_eq!(&buf[..info.buffer_size()], img.data.as_slice());
    }

    #[test]
    fn jpeg_has_markers_and_quality_changes_size() {
        let mut img = image(64, 64, [200, 30, 30]);
        for (i, b) in img.data.iter_mut().enumerate() {
            *b = b.wrapping_add((i * 7 % 13) as u8);
        }
        let low = encode(&img, ImageFormat::Jpeg, 10).expect("jpeg");
        let high = encode(&img, ImageFormat::Jpeg, 95).expect("jpeg");
        assert_eq!(&low[..2], &[0xFF, 0xD8]);
        assert_eq!(&low[low.len() - 2..], &[0xFF, 0xD9]);
        assert!(low.len() < high.len());
        assert!(encode(&image(1, 1, [0, 0, 0]), ImageFormat::Jpeg, 85).is_ok());
    }

    #[test]
    fn bad_images_are_refused() {
        let bad = Rgb {
            width: 2,
            height: 2,
            data: vec![0; 5],
        };
        assert!(matches!(
            encode(&bad, ImageFormat::Png, 0),
            Err(OutputError::Encode(_))
        ));
        assert!(matches!(
            encode(&image(70_000, 1, [0; 3]), ImageFormat::Jpeg, 50),
            Err(OutputError::Encode(_))
        ));
    }

    #[test]
    fn atomic_write_leaves_no_temporary_behind() {
        let dir = std::env::temp_dir().join(format!("zc-output-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("a.png");
        write_atomically(&path, b"hello").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"hello");
        // A regular file there is replaced.
        write_atomically(&path, b"again").expect("overwrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"again");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.png")]);
        let err = write_atomically(&dir.join("missing/b.png"), b"x").expect_err("no such folder");
        let text = err.to_string();
        assert!(
            text.contains("missing/b.png") && text.contains("missing/.b.png."),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
