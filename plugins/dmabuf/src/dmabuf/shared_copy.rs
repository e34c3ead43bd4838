//! Copies in and out of shared memory with volatile accesses: what
//! [`super::CpuAccess`] uses so that memory others may write is never a Rust
//! slice.

const WORD: usize = std::mem::size_of::<u64>();

/// Copy `dst.len()` bytes from shared memory at `src` with volatile reads
/// (aligned words in the middle), so a concurrent writer in another process
/// or a device cannot make the copy undefined behaviour; bytes may be torn.
///
/// # Safety
/// `src` must be valid for reads of `dst.len()` bytes for the whole call,
/// and must not overlap `dst`.
pub unsafe fn copy_from_shared(src: *const u8, dst: &mut [u8]) {
    let len = dst.len();
    let mut i = 0;
    while i < len && !(src as usize).wrapping_add(i).is_multiple_of(WORD) {
        // SAFETY: `i < len`, inside the caller's range.
        dst[i] = unsafe { src.add(i).read_volatile() };
        i += 1;
    }
    while len - i >= WORD {
        // SAFETY: `i + WORD <= len`, and `src + i` is word-aligned (above).
        let word = unsafe { src.add(i).cast::<u64>().read_volatile() };
        dst[i..i + WORD].copy_from_slice(&word.to_ne_bytes());
        i += WORD;
    }
    while i < len {
        // SAFETY: `i < len`.
        dst[i] = unsafe { src.add(i).read_volatile() };
        i += 1;
    }
}

/// Copy `src` into shared memory at `dst` with volatile writes (the mirror
/// of [`copy_from_shared`]).
///
/// # Safety
/// `dst` must be valid for writes of `src.len()` bytes for the whole call,
/// and must not overlap `src`.
pub unsafe fn copy_to_shared(src: &[u8], dst: *mut u8) {
    let len = src.len();
    let mut i = 0;
    while i < len && !(dst as usize).wrapping_add(i).is_multiple_of(WORD) {
        // SAFETY: `i < len`, inside the caller's range.
        unsafe { dst.add(i).write_volatile(src[i]) };
        i += 1;
    }
    while len - i >= WORD {
        let mut word = [0u8; WORD];
        word.copy_from_slice(&src[i..i + WORD]);
        // SAFETY: `i + WORD <= len`, and `dst + i` is word-aligned (above).
        unsafe {
            dst.add(i)
                .cast::<u64>()
                .write_volatile(u64::from_ne_bytes(word))
        };
        i += WORD;
    }
    while i < len {
        // SAFETY: `i < len`.
        unsafe { dst.add(i).write_volatile(src[i]) };
        i += 1;
    }
}
