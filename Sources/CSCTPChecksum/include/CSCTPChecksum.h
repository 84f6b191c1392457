/*
 * CSCTPChecksum -- CRC32c (Castagnoli) for SCTP.
 *
 * CRC32c is the checksum of SCTP packets (RFC 9260 section 6.8 and
 * Appendix A, originally RFC 3309).  It is the CRC with the reflected
 * generator polynomial 0x82F63B78 (0x1EDC6F41 unreflected), an initial
 * register of 0xFFFFFFFF and a final inversion -- the same CRC as iSCSI
 * (RFC 3720 Appendix B.4).
 *
 * The implementation is chosen once, at run time, from:
 *   - "sse4.2+pclmul"    x86-64 SSE4.2 crc32 instruction, three interleaved
 *                        streams combined with PCLMULQDQ;
 *   - "sse4.2"           x86-64 SSE4.2 crc32 instruction, three interleaved
 *                        streams combined with tables (CPUs without PCLMULQDQ);
 *   - "armv8-crc+pmull"  ARMv8 CRC32 instructions, three streams combined
 *                        with PMULL;
 *   - "armv8-crc"        ARMv8 CRC32 instructions, three streams combined
 *                        with tables;
 *   - "table"            portable slicing-by-8 table code.
 *
 * All functions are thread-safe and keep no state between calls other than
 * the implementation choice, which is made once on first use.  `data` may be
 * NULL when `length` is 0.
 *
 * Plain C99.
 */
#ifndef CSCTP_CHECKSUM_H
#define CSCTP_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Extends a CRC32c over `length` bytes at `data`, zlib style.
 *
 * Start a new CRC with `crc` = 0.  The value returned is the finished CRC
 * (the initial 0xFFFFFFFF and the final inversion are applied inside), and
 * it can be passed back in to continue, so that
 *
 *     csctp_crc32c_extend(csctp_crc32c_extend(0, a, n), b, m)
 *
 * equals the CRC32c of the concatenation a||b.  For example the CRC32c of the
 * nine ASCII bytes "123456789" is 0xE3069283.
 *
 * Uses the fastest implementation available on the running CPU (see
 * csctp_crc32c_implementation()).
 */
uint32_t csctp_crc32c_extend(uint32_t crc, const void *data, size_t length);

/*
 * Same result as csctp_crc32c_extend(), always computed with the portable
 * table code (slicing-by-8).  Available on every platform; intended for
 * cross-checking the hardware path in tests.
 */
uint32_t csctp_crc32c_extend_portable(uint32_t crc, const void *data, size_t length);

/*
 * Same result as csctp_crc32c_extend(), computed with the CPU's CRC32c
 * instructions (SSE4.2 on x86-64, the ARMv8 CRC32 extension on arm64).
 * Falls back to the portable code when the CPU or the build lacks them.
 */
uint32_t csctp_crc32c_extend_hardware(uint32_t crc, const void *data, size_t length);

/*
 * Names the implementation that csctp_crc32c_extend() uses on this CPU:
 * "sse4.2+pclmul", "sse4.2", "armv8-crc+pmull", "armv8-crc" or "table".
 * The string is static; do not free it.
 */
const char *csctp_crc32c_implementation(void);

/*
 * SCTP packets.
 *
 * The checksum field is bytes 8..11 of the 12-byte SCTP common header
 * (source port, destination port, verification tag, checksum).  The CRC32c is
 * computed over the whole packet with those four bytes taken as zero, and
 * is stored in the field least-significant byte first, i.e. as a
 * little-endian 32-bit value:
 *
 *     packet[8]  = (uint8_t)(crc);
 *     packet[9]  = (uint8_t)(crc >> 8);
 *     packet[10] = (uint8_t)(crc >> 16);
 *     packet[11] = (uint8_t)(crc >> 24);
 *
 * (For example a CRC of 0xE3069283 is stored as the bytes 83 92 06 E3.)
 * Note that this is NOT network byte order: do not pass the value through
 * htonl() or read the field with ntohl().
 */

/*
 * Returns the CRC32c of the `length` bytes at `packet` computed as if the
 * checksum field (bytes 8..11) were zero.  The packet is neither copied nor
 * modified.  If `length` < 12 the CRC covers the bytes there are, with those
 * of bytes 8..11 that are present taken as zero.
 */
uint32_t csctp_sctp_packet_crc32c(const void *packet, size_t length);

/*
 * Computes the packet's CRC32c (as csctp_sctp_packet_crc32c()) and stores it
 * in bytes 8..11, least-significant byte first.  Does nothing if `length`
 * < 12.
 */
void csctp_sctp_packet_set_crc32c(void *packet, size_t length);

/*
 * Returns 1 if `length` >= 12 and the checksum stored in bytes 8..11 (read
 * least-significant byte first) equals csctp_sctp_packet_crc32c(packet,
 * length); returns 0 otherwise.
 */
int csctp_sctp_packet_crc32c_is_valid(const void *packet, size_t length);

#ifdef __cplusplus
}
#endif

#endif /* CSCTP_CHECKSUM_H */
