//! Byte classes of a block of JSON text, 64 bytes at a time, for the reader's fast path
//! ([`scan`](super::scan)): where its strings may end, and where bytes that JSON forbids raw
//! in a string are.
//!
//! Finding a string's end by a search from its start (`memchr2`) costs a setup per string, and
//! most strings of a record are short keys and values. Classifying the line once, in blocks,
//! looks at each byte once.

/// Bytes classified at once: one bit each in a `u64`.
pub(super) const BLOCK: usize = 64;

/// The classes of up to [`BLOCK`] bytes: bit `i` stands for byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Classes {
    /// `"` and `\`: the bytes that end a string's plain text.
    pub specials: u64,
    /// Control bytes (below 0x20).
    pub controls: u64,
}

/// The classes of the first [`BLOCK`] bytes of `bytes` (fewer at its end).
pub(super) fn classify(bytes: &[u8]) -> Classes {
    match bytes.first_chunk::<BLOCK>() {
        Some(block) => classify_block(block),
        None => {
            // Padded with a byte of no class, the tail is classified as fast as a block.
            let mut block = [b' '; BLOCK];
            block[..bytes.len()].copy_from_slice(bytes);
            classify_block(&block)
        }
    }
}

/// One byte at a time: the reference the vector form must agree with.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn classify_bytes(bytes: &[u8]) -> Classes {
    let bit = |set: bool, i: usize| u64::from(set) << i;
    bytes
        .iter()
        .enumerate()
        .fold(Classes::default(), |classes, (i, &b)| Classes {
            specials: classes.specials | bit(b == b'"' || b == b'\\', i),
            controls: classes.controls | bit(b < 0x20, i),
        })
}

/// A whole block, 16 bytes per SSE2 compare (every x86-64 CPU has SSE2). The compiler does not
/// find this form in [`classify_bytes`]: it shifts each byte's bit into place one by one.
#[cfg(target_arch = "x86_64")]
fn classify_block(block: &[u8; BLOCK]) -> Classes {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86-64 CPU, and each load reads 16 bytes of `block`, with
    // no alignment needed.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let last_control = _mm_set1_epi8(0x1f);
        let mut classes = Classes::default();
        for (lane, bytes) in block.chunks_exact(16).enumerate() {
            let lane_bytes = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
            let specials = _mm_or_si128(
                _mm_cmpeq_epi8(lane_bytes, quote),
                _mm_cmpeq_epi8(lane_bytes, backslash),
            );
            // b <= 0x1f (unsigned) exactly when min(b, 0x1f) == b.
            let controls = _mm_cmpeq_epi8(_mm_min_epu8(lane_bytes, last_control), lane_bytes);
            let mask = |hits| u64::from(_mm_movemask_epi8(hits) as u16) << (16 * lane);
            classes.specials |= mask(specials);
            classes.controls |= mask(controls);
        }
        classes
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn classify_block(block: &[u8; BLOCK]) -> Classes {
    classify_bytes(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_classified_as_byte_by_byte() {
        let mut block = [b'a'; BLOCK];
        for (at, byte) in [
            (0, b'"'),
            (15, b'\\'),
            (16, 0x00),
            (31, 0x1f),
            (40, 0x20),
            (47, 0x80),
        ] {
            block[at] = byte;
        }
        block[63] = 0xff;
        block[62] = b'"';
        let classes = classify(&block);
        assert_eq!(classes, classify_bytes(&block));
        assert_eq!(classes.specials, 1 | 1 << 15 | 1 << 62);
        assert_eq!(classes.controls, 1 << 16 | 1 << 31);
        // Every byte value, in every lane position.
        for byte in 0..=255u8 {
            let mut block = [b'a'; BLOCK];
            for at in (usize::from(byte) % 16..BLOCK).step_by(17) {
                block[at] = byte;
            }
            assert_eq!(classify(&block), classify_bytes(&block), "byte {byte:#x}");
        }
    }

    #[test]
    fn a_short_tail_has_bits_only_for_its_bytes() {
        assert_eq!(
            classify(b"a\"\\\n"),
            Classes {
                specials: 0b0110,
                controls: 0b1000
            }
        );
        assert_eq!(classify(b""), Classes::default());
    }
}
