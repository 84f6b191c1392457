/*
 * SHA-1 (FIPS 180-4 section 6.1), SHA-256 (section 6.2) and HMAC (RFC 2104)
 * -- see include/CSCTPHash.h.
 *
 * A message is run through the compression function block by block, straight
 * from the caller's buffer where whole 64-byte blocks lie outside the range
 * taken as zero; the blocks that touch that range, and the final padded
 * block(s), are copied to a local buffer first. Hash states are arrays of
 * 32-bit words (5 used for SHA-1, 8 for SHA-256), copied by value.
 */
#include "CSCTPHash.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CSCTP_HASH_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define CSCTP_HASH_X86 0
#endif

/* Runs `blocks` consecutive 64-byte blocks at `p` into `state`. */
typedef void (*csctp_compress_fn)(uint32_t *state, const uint8_t *p, size_t blocks);

/* Runs one block into each of two states: two independent chains, which the
   SHA instructions' latency leaves room to interleave. */
typedef void (*csctp_compress2_fn)(uint32_t *state0, const uint8_t *p0, uint32_t *state1, const uint8_t *p1);

struct implementation {
    const char *name;
    csctp_compress_fn sha1;
    csctp_compress_fn sha256;
    csctp_compress2_fn sha1_2;
    csctp_compress2_fn sha256_2;
};

/* ---------------------------------------------------------------------- */
/* Portable C                                                              */

static inline uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t rotl32(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }
static inline uint32_t rotr32(uint32_t v, int n) { return (v >> n) | (v << (32 - n)); }

static void sha1_portable(uint32_t *state, const uint8_t *p, size_t blocks) {
    for (; blocks > 0; blocks--, p += 64) {
        uint32_t w[80];
        for (int t = 0; t < 16; t++) w[t] = load_be32(p + 4 * t);
        for (int t = 16; t < 80; t++) w[t] = rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
        for (int t = 0; t < 80; t++) {
            uint32_t f, k;
            if (t < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999u;
            } else if (t < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1u;
            } else if (t < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDCu;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6u;
            }
            uint32_t temp = rotl32(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = rotl32(b, 30);
            b = a;
            a = temp;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
    }
}

static const uint32_t sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static void sha256_portable(uint32_t *state, const uint8_t *p, size_t blocks) {
    for (; blocks > 0; blocks--, p += 64) {
        uint32_t w[64];
        for (int t = 0; t < 16; t++) w[t] = load_be32(p + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = rotr32(w[t - 15], 7) ^ rotr32(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = rotr32(w[t - 2], 17) ^ rotr32(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t++) {
            uint32_t s1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
            uint32_t ch = (e & f) ^ (~e & g);
            uint32_t t1 = h + s1 + ch + sha256_k[t] + w[t];
            uint32_t s0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
            uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            uint32_t t2 = s0 + maj;
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
    }
}

static void sha1_portable_2(uint32_t *state0, const uint8_t *p0, uint32_t *state1, const uint8_t *p1) {
    sha1_portable(state0, p0, 1);
    sha1_portable(state1, p1, 1);
}

static void sha256_portable_2(uint32_t *state0, const uint8_t *p0, uint32_t *state1, const uint8_t *p1) {
    sha256_portable(state0, p0, 1);
    sha256_portable(state1, p1, 1);
}

static const struct implementation portable = {"portable", sha1_portable, sha256_portable, sha1_portable_2,
                                               sha256_portable_2};

/* ---------------------------------------------------------------------- */
/* x86-64 SHA extensions                                                   */

#if CSCTP_HASH_X86

#define CSCTP_X86_SHA __attribute__((target("sha,sse4.1,ssse3")))

/* SHA-1: the four state words A..D in one register (A in the top lane), E in
   the top lane of another. The message schedule is kept as groups of four
   words, W[g] = words 4g..4g+3, word 4g in the top lane; group g >= 4 is
   SHA1MSG2(SHA1MSG1(W[g-4], W[g-3]) ^ W[g-2], W[g-1]). Rounds go four at a
   time (SHA1RNDS4, its function chosen by the group / 5); the E input of
   group g > 0 is SHA1NEXTE(the A..D register before group g-1, W[g]). */
#define SHA1_SCHEDULE(W, g)                                                                            \
    if ((g) >= 4)                                                                                      \
    W[(g) & 3] = _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32(W[(g) & 3], W[((g) + 1) & 3]),    \
                                                  W[((g) + 2) & 3]),                                   \
                                    W[((g) + 3) & 3])
#define SHA1_ROUNDS(W, ABCD, PREVIOUS, E, g, f)                                                         \
    do {                                                                                               \
        __m128i e_in = (g) == 0 ? _mm_add_epi32(E, W[0]) : _mm_sha1nexte_epu32(PREVIOUS, W[(g) & 3]);  \
        PREVIOUS = ABCD;                                                                               \
        ABCD = _mm_sha1rnds4_epu32(ABCD, e_in, f);                                                     \
    } while (0)
/* All 80 rounds as GROUP(g, f) for g = 0..19. */
#define SHA1_ALL_GROUPS(GROUP)                                                                         \
    GROUP(0, 0); GROUP(1, 0); GROUP(2, 0); GROUP(3, 0); GROUP(4, 0);                                   \
    GROUP(5, 1); GROUP(6, 1); GROUP(7, 1); GROUP(8, 1); GROUP(9, 1);                                   \
    GROUP(10, 2); GROUP(11, 2); GROUP(12, 2); GROUP(13, 2); GROUP(14, 2);                              \
    GROUP(15, 3); GROUP(16, 3); GROUP(17, 3); GROUP(18, 3); GROUP(19, 3)

/* Reverses the 16 bytes of a block's row: big-endian words, first word on top. */
#define SHA1_REVERSE _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL)

CSCTP_X86_SHA
static inline void sha1_x86_load(const uint8_t *p, __m128i *w) {
    for (int i = 0; i < 4; i++) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), SHA1_REVERSE);
}

CSCTP_X86_SHA
static inline void sha1_x86_load_state(const uint32_t *state, __m128i *abcd, __m128i *e) {
    *abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0x1B);
    *e = _mm_set_epi32((int)state[4], 0, 0, 0);
}

CSCTP_X86_SHA
static inline void sha1_x86_store_state(uint32_t *state, __m128i abcd, __m128i e) {
    _mm_storeu_si128((__m128i *)state, _mm_shuffle_epi32(abcd, 0x1B));
    state[4] = (uint32_t)_mm_extract_epi32(e, 3);
}

CSCTP_X86_SHA
static void sha1_x86(uint32_t *state, const uint8_t *p, size_t blocks) {
    __m128i abcd, e0;
    sha1_x86_load_state(state, &abcd, &e0);
    for (; blocks > 0; blocks--, p += 64) {
        const __m128i abcd_saved = abcd;
        const __m128i e_saved = e0;
        __m128i w[4];
        __m128i previous = abcd;
        sha1_x86_load(p, w);
#define GROUP(g, f)                                                                                    \
    do {                                                                                               \
        SHA1_SCHEDULE(w, g);                                                                           \
        SHA1_ROUNDS(w, abcd, previous, e0, g, f);                                                      \
    } while (0)
        SHA1_ALL_GROUPS(GROUP);
#undef GROUP
        /* The new E: the old one plus A rotated, from the register before group 19. */
        e0 = _mm_sha1nexte_epu32(previous, e_saved);
        abcd = _mm_add_epi32(abcd, abcd_saved);
    }
    sha1_x86_store_state(state, abcd, e0);
}

CSCTP_X86_SHA
static void sha1_x86_2(uint32_t *state0, const uint8_t *p0, uint32_t *state1, const uint8_t *p1) {
    __m128i abcd0, abcd1, e0, e1;
    sha1_x86_load_state(state0, &abcd0, &e0);
    sha1_x86_load_state(state1, &abcd1, &e1);
    const __m128i abcd0_saved = abcd0, abcd1_saved = abcd1, e0_saved = e0, e1_saved = e1;
    __m128i w0[4], w1[4];
    __m128i previous0 = abcd0, previous1 = abcd1;
    sha1_x86_load(p0, w0);
    sha1_x86_load(p1, w1);
#define GROUP(g, f)                                                                                    \
    do {                                                                                               \
        SHA1_SCHEDULE(w0, g);                                                                          \
        SHA1_SCHEDULE(w1, g);                                                                          \
        SHA1_ROUNDS(w0, abcd0, previous0, e0, g, f);                                                   \
        SHA1_ROUNDS(w1, abcd1, previous1, e1, g, f);                                                   \
    } while (0)
    SHA1_ALL_GROUPS(GROUP);
#undef GROUP
    sha1_x86_store_state(state0, _mm_add_epi32(abcd0, abcd0_saved), _mm_sha1nexte_epu32(previous0, e0_saved));
    sha1_x86_store_state(state1, _mm_add_epi32(abcd1, abcd1_saved), _mm_sha1nexte_epu32(previous1, e1_saved));
}

/* SHA-256: the state as (A, B, E, F) and (C, D, G, H), each with the first
   named word in the top lane, as SHA256RNDS2 wants; two rounds per
   instruction, the message words plus constants in the register's low half
   (then its high half moved down). Group g >= 4 of the schedule is
   SHA256MSG2(SHA256MSG1(W[g-4], W[g-3]) + (words 4g-7..4g-4), W[g-1]). */
#define SHA256_SCHEDULE(W, g)                                                                          \
    if ((g) >= 4)                                                                                      \
    W[(g) & 3] = _mm_sha256msg2_epu32(                                                                 \
        _mm_add_epi32(_mm_sha256msg1_epu32(W[(g) & 3], W[((g) + 1) & 3]),                              \
                      _mm_alignr_epi8(W[((g) + 3) & 3], W[((g) + 2) & 3], 4)),                         \
        W[((g) + 3) & 3])
#define SHA256_ROUNDS(W, ABEF, CDGH, g)                                                                 \
    do {                                                                                               \
        __m128i wk = _mm_add_epi32(W[(g) & 3], _mm_loadu_si128((const __m128i *)(sha256_k + 4 * (g)))); \
        CDGH = _mm_sha256rnds2_epu32(CDGH, ABEF, wk);                                                  \
        ABEF = _mm_sha256rnds2_epu32(ABEF, CDGH, _mm_shuffle_epi32(wk, 0x0E));                         \
    } while (0)
#define SHA256_ALL_GROUPS(GROUP)                                                                       \
    GROUP(0); GROUP(1); GROUP(2); GROUP(3); GROUP(4); GROUP(5); GROUP(6); GROUP(7);                    \
    GROUP(8); GROUP(9); GROUP(10); GROUP(11); GROUP(12); GROUP(13); GROUP(14); GROUP(15)

/* Byte-swaps each 32-bit word, keeping the word order. */
#define SHA256_SWAP _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL)

CSCTP_X86_SHA
static inline void sha256_x86_load_state(const uint32_t *state, __m128i *abef, __m128i *cdgh) {
    __m128i cdab = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0xB1);       /* lanes: B A D C */
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(state + 4)), 0x1B); /* lanes: H G F E */
    *abef = _mm_alignr_epi8(cdab, efgh, 8);                                                /* lanes: F E B A */
    *cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);                                             /* lanes: H G D C */
}

CSCTP_X86_SHA
static inline void sha256_x86_store_state(uint32_t *state, __m128i abef, __m128i cdgh) {
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);                                      /* lanes: A B E F */
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);                                      /* lanes: G H C D */
    _mm_storeu_si128((__m128i *)state, _mm_blend_epi16(feba, dchg, 0xF0));            /* A B C D */
    _mm_storeu_si128((__m128i *)(state + 4), _mm_alignr_epi8(dchg, feba, 8));         /* E F G H */
}

CSCTP_X86_SHA
static inline void sha256_x86_load(const uint8_t *p, __m128i *w) {
    for (int i = 0; i < 4; i++) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), SHA256_SWAP);
}

CSCTP_X86_SHA
static void sha256_x86(uint32_t *state, const uint8_t *p, size_t blocks) {
    __m128i abef, cdgh;
    sha256_x86_load_state(state, &abef, &cdgh);
    for (; blocks > 0; blocks--, p += 64) {
        const __m128i abef_saved = abef;
        const __m128i cdgh_saved = cdgh;
        __m128i w[4];
        sha256_x86_load(p, w);
#define GROUP(g)                                                                                       \
    do {                                                                                               \
        SHA256_SCHEDULE(w, g);                                                                         \
        SHA256_ROUNDS(w, abef, cdgh, g);                                                               \
    } while (0)
        SHA256_ALL_GROUPS(GROUP);
#undef GROUP
        abef = _mm_add_epi32(abef, abef_saved);
        cdgh = _mm_add_epi32(cdgh, cdgh_saved);
    }
    sha256_x86_store_state(state, abef, cdgh);
}

CSCTP_X86_SHA
static void sha256_x86_2(uint32_t *state0, const uint8_t *p0, uint32_t *state1, const uint8_t *p1) {
    __m128i abef0, cdgh0, abef1, cdgh1;
    sha256_x86_load_state(state0, &abef0, &cdgh0);
    sha256_x86_load_state(state1, &abef1, &cdgh1);
    const __m128i abef0_saved = abef0, cdgh0_saved = cdgh0, abef1_saved = abef1, cdgh1_saved = cdgh1;
    __m128i w0[4], w1[4];
    sha256_x86_load(p0, w0);
    sha256_x86_load(p1, w1);
#define GROUP(g)                                                                                       \
    do {                                                                                               \
        SHA256_SCHEDULE(w0, g);                                                                        \
        SHA256_SCHEDULE(w1, g);                                                                        \
        SHA256_ROUNDS(w0, abef0, cdgh0, g);                                                            \
        SHA256_ROUNDS(w1, abef1, cdgh1, g);                                                            \
    } while (0)
    SHA256_ALL_GROUPS(GROUP);
#undef GROUP
    sha256_x86_store_state(state0, _mm_add_epi32(abef0, abef0_saved), _mm_add_epi32(cdgh0, cdgh0_saved));
    sha256_x86_store_state(state1, _mm_add_epi32(abef1, abef1_saved), _mm_add_epi32(cdgh1, cdgh1_saved));
}

static const struct implementation x86_sha = {"x86-sha", sha1_x86, sha256_x86, sha1_x86_2, sha256_x86_2};

/* CPUID: SHA (leaf 7, EBX bit 29), SSSE3 and SSE4.1 (leaf 1, ECX bits 9, 19). */
static int x86_has_sha(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (!(ecx & (1u << 9)) || !(ecx & (1u << 19))) return 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (ebx & (1u << 29)) != 0;
}

#endif

/* ---------------------------------------------------------------------- */
/* Selection                                                               */

static const struct implementation *chosen;

static const struct implementation *implementation(void) {
    const struct implementation *current = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (current) return current;
    current = &portable;
#if CSCTP_HASH_X86
    if (x86_has_sha()) current = &x86_sha;
#endif
    __atomic_store_n(&chosen, current, __ATOMIC_RELEASE);
    return current;
}

const char *csctp_hash_implementation(void) { return implementation()->name; }

int csctp_hash_select(const char *name) {
    if (strcmp(name, "portable") == 0) {
        __atomic_store_n(&chosen, &portable, __ATOMIC_RELEASE);
        return 0;
    }
#if CSCTP_HASH_X86
    if (strcmp(name, "x86-sha") == 0 && x86_has_sha()) {
        __atomic_store_n(&chosen, &x86_sha, __ATOMIC_RELEASE);
        return 0;
    }
#endif
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Messages                                                                */

static const uint32_t sha1_iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
static const uint32_t sha256_iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                      0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};

size_t csctp_hash_length(int algorithm) {
    switch (algorithm) {
    case CSCTP_HASH_SHA1: return 20;
    case CSCTP_HASH_SHA256: return 32;
    default: return 0;
    }
}

static csctp_compress_fn compressor(int algorithm) {
    return algorithm == CSCTP_HASH_SHA1 ? implementation()->sha1 : implementation()->sha256;
}

static void initial_state(int algorithm, uint32_t *state) {
    if (algorithm == CSCTP_HASH_SHA1) {
        memcpy(state, sha1_iv, sizeof(sha1_iv));
    } else {
        memcpy(state, sha256_iv, sizeof(sha256_iv));
    }
}

/* Clears the bytes of `block` (which holds message bytes base..base+count-1)
   that fall in the zero range [zero_start, zero_end). */
static void clear_range(uint8_t *block, size_t base, size_t count, size_t zero_start, size_t zero_end) {
    size_t from = zero_start > base ? zero_start : base;
    size_t to = zero_end < base + count ? zero_end : base + count;
    if (from < to) memset(block + (from - base), 0, to - from);
}

/* Writes a message's padded tail into `block` (128 bytes): its last `rest`
   bytes (at `data`, message bytes from `position` on, the zero range
   [zero_start, zero_end) cleared), the 0x80 byte, zeros, and the message's
   length in bits (`total_length` bytes) at the end of the last block. Returns
   the tail's blocks: 1, or 2 when the length no longer fits after the bytes. */
static size_t pad_tail(uint8_t *block, const uint8_t *data, size_t rest, size_t position, size_t zero_start,
                       size_t zero_end, uint64_t total_length) {
    if (rest > 0) memcpy(block, data, rest);
    clear_range(block, position, rest, zero_start, zero_end);
    block[rest] = 0x80;
    size_t total = rest + 1 + 8 <= 64 ? 64 : 128;
    memset(block + rest + 1, 0, total - rest - 1 - 8);
    uint64_t bits = total_length * 8;
    for (int i = 0; i < 8; i++) block[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    return total / 64;
}

/* Runs `length` bytes at `data` (the zero range taken as zero), then the
   padding, into `state`: `prefix` bytes of the message went in before. */
static void run_message(csctp_compress_fn compress, uint32_t *state, const uint8_t *data, size_t length,
                        size_t zero_offset, size_t zero_length, uint64_t prefix) {
    uint8_t block[128];
    size_t zero_end = zero_offset + zero_length;
    if (zero_length == 0 || zero_end < zero_offset) zero_offset = zero_end = 0;
    size_t position = 0;
    while (length - position >= 64) {
        if (zero_offset == zero_end || position >= zero_end || position + 64 <= zero_offset) {
            /* Whole blocks up to the zero range (or the end) go straight from the buffer. */
            size_t limit = (zero_offset != zero_end && position < zero_offset && zero_offset < length) ? zero_offset : length;
            size_t count = (limit - position) / 64;
            compress(state, data + position, count);
            position += count * 64;
        } else {
            memcpy(block, data + position, 64);
            clear_range(block, position, 64, zero_offset, zero_end);
            compress(state, block, 1);
            position += 64;
        }
    }
    size_t blocks = pad_tail(block, data + position, length - position, position, zero_offset, zero_end,
                             prefix + (uint64_t)length);
    compress(state, block, blocks);
}

/* A message's blocks one at a time (for two messages run side by side): straight
   from the buffer, or copied to `buffer` where they touch the zero range, then
   the padded tail. A block handed out must be used before the next call. */
struct block_reader {
    const uint8_t *data;
    size_t length, position, zero_offset, zero_end;
    uint64_t prefix;
    int in_tail;
    size_t tail_blocks, tail_next;
    uint8_t buffer[128];
};

static void block_reader_init(struct block_reader *r, const uint8_t *data, size_t length, size_t zero_offset,
                              size_t zero_length, uint64_t prefix) {
    r->data = data;
    r->length = length;
    r->position = 0;
    r->zero_offset = zero_offset;
    r->zero_end = zero_offset + zero_length;
    if (zero_length == 0 || r->zero_end < zero_offset) r->zero_offset = r->zero_end = 0;
    r->prefix = prefix;
    r->in_tail = 0;
    r->tail_blocks = r->tail_next = 0;
}

static const uint8_t *block_reader_next(struct block_reader *r) {
    if (!r->in_tail) {
        if (r->length - r->position >= 64) {
            const uint8_t *block = r->data + r->position;
            if (r->zero_offset != r->zero_end && r->position < r->zero_end && r->position + 64 > r->zero_offset) {
                memcpy(r->buffer, block, 64);
                clear_range(r->buffer, r->position, 64, r->zero_offset, r->zero_end);
                block = r->buffer;
            }
            r->position += 64;
            return block;
        }
        r->tail_blocks = pad_tail(r->buffer, r->data + r->position, r->length - r->position, r->position,
                                  r->zero_offset, r->zero_end, r->prefix + (uint64_t)r->length);
        r->in_tail = 1;
    }
    if (r->tail_next < r->tail_blocks) return r->buffer + 64 * r->tail_next++;
    return NULL;
}

/* Runs two messages (their block readers) into two states, a block of each at a
   time while both have one, then the rest of the longer one. */
static void run_two(csctp_compress_fn compress, csctp_compress2_fn compress2, uint32_t *state0,
                    struct block_reader *r0, uint32_t *state1, struct block_reader *r1) {
    for (;;) {
        const uint8_t *p0 = block_reader_next(r0);
        const uint8_t *p1 = block_reader_next(r1);
        if (p0 && p1) {
            compress2(state0, p0, state1, p1);
            continue;
        }
        for (; p0; p0 = block_reader_next(r0)) compress(state0, p0, 1);
        for (; p1; p1 = block_reader_next(r1)) compress(state1, p1, 1);
        return;
    }
}

static void write_digest(int algorithm, const uint32_t *state, uint8_t *digest) {
    size_t words = csctp_hash_length(algorithm) / 4;
    for (size_t i = 0; i < words; i++) store_be32(digest + 4 * i, state[i]);
}

int csctp_hash(int algorithm, const uint8_t *data, size_t length, uint8_t *digest) {
    if (csctp_hash_length(algorithm) == 0) return -1;
    uint32_t state[8];
    initial_state(algorithm, state);
    run_message(compressor(algorithm), state, data, length, 0, 0, 0);
    write_digest(algorithm, state, digest);
    return 0;
}

int csctp_hmac_init(csctp_hmac_key *key, int algorithm, const uint8_t *secret, size_t secret_length) {
    if (csctp_hash_length(algorithm) == 0) return -1;
    uint8_t block[64] = {0};
    if (secret_length > 64) {
        csctp_hash(algorithm, secret, secret_length, block);
    } else if (secret_length > 0) {
        memcpy(block, secret, secret_length);
    }
    uint8_t padded[64];
    csctp_compress_fn compress = compressor(algorithm);
    for (int i = 0; i < 64; i++) padded[i] = block[i] ^ 0x36;
    initial_state(algorithm, key->inner);
    compress(key->inner, padded, 1);
    for (int i = 0; i < 64; i++) padded[i] = block[i] ^ 0x5c;
    initial_state(algorithm, key->outer);
    compress(key->outer, padded, 1);
    key->algorithm = algorithm;
    memset(block, 0, sizeof(block));
    memset(padded, 0, sizeof(padded));
    return 0;
}

void csctp_hmac(const csctp_hmac_key *key, const uint8_t *data, size_t length,
                size_t zero_offset, size_t zero_length, uint8_t *mac) {
    csctp_compress_fn compress = compressor(key->algorithm);
    size_t digest_length = csctp_hash_length(key->algorithm);
    uint32_t state[8];
    uint8_t inner_digest[32];
    memcpy(state, key->inner, sizeof(state));
    run_message(compress, state, data, length, zero_offset, zero_length, 64);
    write_digest(key->algorithm, state, inner_digest);
    memcpy(state, key->outer, sizeof(state));
    run_message(compress, state, inner_digest, digest_length, 0, 0, 64);
    write_digest(key->algorithm, state, mac);
}

void csctp_hmac2(const csctp_hmac_key *key,
                 const uint8_t *data0, size_t length0, size_t zero_offset0, size_t zero_length0, uint8_t *mac0,
                 const uint8_t *data1, size_t length1, size_t zero_offset1, size_t zero_length1, uint8_t *mac1) {
    const struct implementation *chosen_implementation = implementation();
    int sha1 = key->algorithm == CSCTP_HASH_SHA1;
    csctp_compress_fn compress = sha1 ? chosen_implementation->sha1 : chosen_implementation->sha256;
    csctp_compress2_fn compress2 = sha1 ? chosen_implementation->sha1_2 : chosen_implementation->sha256_2;
    size_t digest_length = csctp_hash_length(key->algorithm);
    uint32_t state0[8], state1[8];
    uint8_t digest0[32], digest1[32];
    struct block_reader r0, r1;
    memcpy(state0, key->inner, sizeof(state0));
    memcpy(state1, key->inner, sizeof(state1));
    block_reader_init(&r0, data0, length0, zero_offset0, zero_length0, 64);
    block_reader_init(&r1, data1, length1, zero_offset1, zero_length1, 64);
    run_two(compress, compress2, state0, &r0, state1, &r1);
    write_digest(key->algorithm, state0, digest0);
    write_digest(key->algorithm, state1, digest1);
    memcpy(state0, key->outer, sizeof(state0));
    memcpy(state1, key->outer, sizeof(state1));
    block_reader_init(&r0, digest0, digest_length, 0, 0, 64);
    block_reader_init(&r1, digest1, digest_length, 0, 0, 64);
    run_two(compress, compress2, state0, &r0, state1, &r1);
    write_digest(key->algorithm, state0, mac0);
    write_digest(key->algorithm, state1, mac1);
}
