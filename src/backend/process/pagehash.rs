//! The hash of one page: xxh3-64, with the wide-vector loop chosen at run time.
//!
//! xxhash-rust picks its vector loop when it is compiled, and a portable build targets the
//! x86-64 baseline, so it runs the SSE2 loop even on a CPU with AVX2: about 70 % of a plain
//! read of memory on our machines, where the scan should be limited by memory, not by the
//! hash. Here the long-input path of xxh3 (every page is longer than 240 bytes) is written
//! once more with AVX2 intrinsics and used when the CPU has AVX2; the value is bit-for-bit
//! xxh3_64 (the tests compare it with xxhash-rust for many inputs), so hashes from either path
//! compare equal and nothing else changes. Any other length or CPU goes to xxhash-rust.

use xxhash_rust::xxh3::xxh3_64;

/// xxh3-64 of `page`, as `xxhash_rust::xxh3::xxh3_64` computes it, but faster on AVX2.
#[inline]
pub fn page_hash(page: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if page.len() > avx2::MID_SIZE_MAX && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above; the check is cached by std).
        return unsafe { avx2::xxh3_64_long(page) };
    }
    xxh3_64(page)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Inputs up to this length take xxh3's short paths, which we leave to xxhash-rust.
    pub const MID_SIZE_MAX: usize = 240;
    const STRIPE_LEN: usize = 64;
    const SECRET_CONSUME_RATE: usize = 8;
    const SECRET_MERGEACCS_START: usize = 11;
    const SECRET_LASTACC_START: usize = 7;
    const STRIPES_PER_BLOCK: usize = (SECRET.len() - STRIPE_LEN) / SECRET_CONSUME_RATE;
    const BLOCK_LEN: usize = STRIPE_LEN * STRIPES_PER_BLOCK;
    /// Bytes ahead of the stripe being hashed to prefetch; the reference uses 384 on x86.
    const PREFETCH_DISTANCE: usize = 384;

    const PRIME32_1: u64 = 0x9E37_79B1;
    const PRIME32_2: u64 = 0x85EB_CA77;
    const PRIME32_3: u64 = 0xC2B2_AE3D;
    const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
    const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;
    const PRIME64_4: u64 = 0x85EB_CA77_C2B2_AE63;
    const PRIME64_5: u64 = 0x27D4_EB2F_1656_67C5;

    /// xxh3's default secret (the reference implementation's `XXH3_kSecret`).
    const SECRET: [u8; 192] = [
        0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad,
        0x1c, 0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3,
        0x67, 0x1f, 0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc,
        0xff, 0x72, 0x21, 0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6,
        0x81, 0x3a, 0x26, 0x4c, 0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65,
        0x8b, 0x1b, 0x53, 0x2e, 0xa3, 0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19,
        0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8, 0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9,
        0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d, 0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31,
        0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64, 0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb,
        0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb, 0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0,
        0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e, 0x2b, 0x16, 0xbe, 0x58, 0x7d,
        0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce, 0x45, 0xcb, 0x3a, 0x8f,
        0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
    ];

    /// xxh3's long-input hash (`XXH3_hashLong_64b` with the default secret and seed 0).
    ///
    /// # Safety
    /// The CPU must support AVX2, and `input.len()` must exceed `MID_SIZE_MAX`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn xxh3_64_long(input: &[u8]) -> u64 {
        debug_assert!(input.len() > MID_SIZE_MAX);
        let mut acc = [
            _mm256_set_epi64x(
                PRIME64_3 as i64,
                PRIME64_2 as i64,
                PRIME64_1 as i64,
                PRIME32_3 as i64,
            ),
            _mm256_set_epi64x(
                PRIME32_1 as i64,
                PRIME64_5 as i64,
                PRIME32_2 as i64,
                PRIME64_4 as i64,
            ),
        ];
        let data = input.as_ptr();
        let secret = SECRET.as_ptr();
        let blocks = (input.len() - 1) / BLOCK_LEN;
        for block in 0..blocks {
            accumulate(&mut acc, data.add(block * BLOCK_LEN), STRIPES_PER_BLOCK);
            scramble(&mut acc, secret.add(SECRET.len() - STRIPE_LEN));
        }
        let stripes = ((input.len() - 1) - BLOCK_LEN * blocks) / STRIPE_LEN;
        accumulate(&mut acc, data.add(blocks * BLOCK_LEN), stripes);
        accumulate_stripe(
            &mut acc,
            data.add(input.len() - STRIPE_LEN),
            secret.add(SECRET.len() - STRIPE_LEN - SECRET_LASTACC_START),
        );
        merge(&acc, (input.len() as u64).wrapping_mul(PRIME64_1))
    }

    #[target_feature(enable = "avx2")]
    unsafe fn accumulate(acc: &mut [__m256i; 2], data: *const u8, stripes: usize) {
        for stripe in 0..stripes {
            // Ask for memory ahead of the dependent multiply chain, as the reference
            // implementation does (XXH_PREFETCH_DIST): a page being hashed comes from memory.
            // wrapping_add: the address may lie past the input, which a prefetch may name but
            // `add` may not.
            _mm_prefetch::<_MM_HINT_T0>(
                data.wrapping_add(stripe * STRIPE_LEN + PREFETCH_DISTANCE)
                    .cast(),
            );
            accumulate_stripe(
                acc,
                data.add(stripe * STRIPE_LEN),
                SECRET.as_ptr().add(stripe * SECRET_CONSUME_RATE),
            );
        }
    }

    /// `XXH3_accumulate_512_avx2`: one 64-byte stripe into the eight 64-bit lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn accumulate_stripe(acc: &mut [__m256i; 2], data: *const u8, secret: *const u8) {
        for (lane, acc) in acc.iter_mut().enumerate() {
            let data_vec = _mm256_loadu_si256(data.add(lane * 32).cast());
            let key_vec = _mm256_loadu_si256(secret.add(lane * 32).cast());
            let data_key = _mm256_xor_si256(data_vec, key_vec);
            let data_key_hi = _mm256_srli_epi64::<32>(data_key);
            let product = _mm256_mul_epu32(data_key, data_key_hi);
            // Swap the two 64-bit halves of each 128-bit lane: _MM_SHUFFLE(1, 0, 3, 2).
            let data_swap = _mm256_shuffle_epi32::<0b01_00_11_10>(data_vec);
            *acc = _mm256_add_epi64(product, _mm256_add_epi64(*acc, data_swap));
        }
    }

    /// `XXH3_scrambleAcc_avx2`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn scramble(acc: &mut [__m256i; 2], secret: *const u8) {
        let prime32 = _mm256_set1_epi32(PRIME32_1 as u32 as i32);
        for (lane, acc) in acc.iter_mut().enumerate() {
            let shifted = _mm256_srli_epi64::<47>(*acc);
            let data_vec = _mm256_xor_si256(*acc, shifted);
            let key_vec = _mm256_loadu_si256(secret.add(lane * 32).cast());
            let data_key = _mm256_xor_si256(data_vec, key_vec);
            let data_key_hi = _mm256_srli_epi64::<32>(data_key);
            let product_lo = _mm256_mul_epu32(data_key, prime32);
            let product_hi = _mm256_mul_epu32(data_key_hi, prime32);
            *acc = _mm256_add_epi64(product_lo, _mm256_slli_epi64::<32>(product_hi));
        }
    }

    /// `XXH3_mergeAccs` and the final avalanche, in scalar code.
    #[target_feature(enable = "avx2")]
    unsafe fn merge(acc: &[__m256i; 2], start: u64) -> u64 {
        let mut lanes = [0u64; 8];
        _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc[0]);
        _mm256_storeu_si256(lanes.as_mut_ptr().add(4).cast(), acc[1]);
        let secret = |at: usize| {
            u64::from_le_bytes(
                SECRET[SECRET_MERGEACCS_START + at..SECRET_MERGEACCS_START + at + 8]
                    .try_into()
                    .expect("8 bytes"),
            )
        };
        let mut result = start;
        for pair in 0..4 {
            let product = u128::from(lanes[2 * pair] ^ secret(16 * pair))
                * u128::from(lanes[2 * pair + 1] ^ secret(16 * pair + 8));
            result = result.wrapping_add(product as u64 ^ (product >> 64) as u64);
        }
        result ^= result >> 37;
        result = result.wrapping_mul(0x1656_6791_9E37_79F9);
        result ^ (result >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes without pulling in a random-number crate.
    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn equals_xxh3_for_pages_and_odd_lengths() {
        let lengths = [
            0,
            1,
            16,
            17,
            128,
            129,
            240,
            241,
            255,
            256,
            1023,
            1024,
            1025,
            2048,
            4095,
            4096,
            4097,
            8192,
            16384,
            65536,
            2 << 20,
        ];
        for (i, len) in lengths.into_iter().enumerate() {
            let data = bytes(len, i as u64 + 1);
            assert_eq!(page_hash(&data), xxh3_64(&data), "length {len}");
        }
    }

    #[test]
    fn equals_xxh3_for_many_random_pages() {
        for seed in 0..2_000u64 {
            let page = bytes(4096, seed);
            assert_eq!(page_hash(&page), xxh3_64(&page), "seed {seed}");
        }
        assert_eq!(page_hash(&[0u8; 4096]), xxh3_64(&[0u8; 4096]));
        assert_eq!(page_hash(&[0xffu8; 4096]), xxh3_64(&[0xffu8; 4096]));
    }

    #[test]
    fn every_length_near_the_block_boundaries_matches() {
        let data = bytes(3 * 1024 + 200, 7);
        for len in (241..data.len()).step_by(13) {
            assert_eq!(
                page_hash(&data[..len]),
                xxh3_64(&data[..len]),
                "length {len}"
            );
        }
    }

    /// The AVX2 path must really run on a CPU that has AVX2, or the benchmark measures the
    /// fallback; compare it directly rather than through the dispatcher.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_path_itself_matches_when_the_cpu_has_it() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            crate::note!("no AVX2 on this CPU: the fallback is xxhash-rust itself");
            return;
        }
        for seed in 0..64u64 {
            let page = bytes(4096 + seed as usize * 64, seed);
            // SAFETY: AVX2 is present (checked above) and the input is longer than 240 bytes.
            assert_eq!(unsafe { avx2::xxh3_64_long(&page) }, xxh3_64(&page));
        }
    }
}
