#define _GNU_SOURCE
#include "csctp_internal.h"

#if defined(__linux__)
#include <linux/filter.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

int csctp_reuse_port(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == 0 ? 0 : -errno;
}

/*
 * The program: for UDP, the kernel runs it with the data starting at the UDP payload, the
 * SCTP common header (source port, destination port, verification tag, checksum).
 *   A = the verification tag (offset 4, network order as a number)
 *   A != 0: return A mod shards
 *   A == 0 (an INIT): return the SCTP source port mod shards
 * A datagram too short to load from ends the program with 0, and the kernel then picks by
 * its own hash: such a datagram is no SCTP packet anyway.
 */
int csctp_attach_tag_steering(int fd, uint32_t shards) {
    if (shards == 0) return -EINVAL;
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, shards),
        BPF_STMT(BPF_RET | BPF_A, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, shards),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog program = { .len = (unsigned short)(sizeof(code) / sizeof(code[0])), .filter = code };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof(program)) == 0 ? 0 : -errno;
}

#else

int csctp_reuse_port(int fd) { (void)fd; return -ENOSYS; }
int csctp_attach_tag_steering(int fd, uint32_t shards) { (void)fd; (void)shards; return -ENOSYS; }

#endif
