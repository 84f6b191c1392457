/*
 * CSCTPHash -- SHA-1, SHA-256 and HMAC over them, for SCTP chunk
 * authentication (RFC 4895: HMAC identifiers 1 = SHA-1, 3 = SHA-256).
 *
 * Written for the AUTH chunk's per-packet cost: a key's inner and outer
 * hash states are computed once (csctp_hmac_init) and kept in a plain
 * struct, so a MAC allocates nothing, and the HMAC field inside the
 * authenticated bytes can be taken as zero without copying the packet.
 *
 * The compression function is chosen once, at run time, from:
 *   - "x86-sha"   the x86-64 SHA extensions (SHA1RNDS4, SHA256RNDS2, ...);
 *   - "portable"  plain C.
 *
 * All functions are thread-safe; the only mutable global is the
 * implementation choice, made once on first use (or by
 * csctp_hash_select, for tests).
 *
 * Plain C99 (the x86 paths use GCC/Clang target attributes).
 */
#ifndef CSCTP_HASH_H
#define CSCTP_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The RFC 4895 HMAC identifiers. */
enum {
    CSCTP_HASH_SHA1 = 1,
    CSCTP_HASH_SHA256 = 3,
};

/* A key's precomputed HMAC states (RFC 2104: the hash states after the
   key block XOR ipad and XOR opad). */
typedef struct {
    uint32_t inner[8];
    uint32_t outer[8];
    int algorithm;
} csctp_hmac_key;

/* The digest length of `algorithm` (20 or 32), 0 for an unknown one. */
size_t csctp_hash_length(int algorithm);

/* The hash of `length` bytes at `data` into `digest` (csctp_hash_length
   bytes). Returns 0, or -1 for an unknown algorithm. */
int csctp_hash(int algorithm, const uint8_t *data, size_t length, uint8_t *digest);

/* Prepares `key` for HMAC with `algorithm` under `secret` (any length; a
   secret longer than the 64-byte block is hashed first). Returns 0, or -1
   for an unknown algorithm. */
int csctp_hmac_init(csctp_hmac_key *key, int algorithm, const uint8_t *secret, size_t secret_length);

/* The HMAC of the `length` bytes at `data`, with the `zero_length` bytes
   from `zero_offset` taken as zero whatever they hold (an AUTH chunk's
   HMAC field), into `mac` (csctp_hash_length bytes). The zero range may
   reach past `length` (the rest is ignored). */
void csctp_hmac(const csctp_hmac_key *key, const uint8_t *data, size_t length,
                size_t zero_offset, size_t zero_length, uint8_t *mac);

/* Two MACs under the same key at once, as two csctp_hmac calls would give
   them: the two messages' blocks go through the compression function side by
   side, which the SHA instructions' latency leaves room for (a signer with
   several packets to sign takes them two at a time). */
void csctp_hmac2(const csctp_hmac_key *key,
                 const uint8_t *data0, size_t length0, size_t zero_offset0, size_t zero_length0, uint8_t *mac0,
                 const uint8_t *data1, size_t length1, size_t zero_offset1, size_t zero_length1, uint8_t *mac1);

/* The implementation in use: "x86-sha" or "portable". */
const char *csctp_hash_implementation(void);

/* Selects an implementation by name (tests compare them); returns 0, or -1
   when it is unknown or this CPU cannot run it. */
int csctp_hash_select(const char *name);

#ifdef __cplusplus
}
#endif

#endif
