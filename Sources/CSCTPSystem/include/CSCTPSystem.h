/*
 * CSCTPSystem -- the few system calls the drivers make without SwiftNIO.
 *
 * csctp_send_datagrams writes a series of datagrams to one socket with as few system
 * calls as the kernel allows (sendmmsg on Linux, sendmsg elsewhere), each datagram with
 * its own destination, ECN field (IP_TOS / IPV6_TCLASS) and, on Linux, UDP GSO segment size
 * (UDP_SEGMENT). csctp_receive_datagrams is its counterpart for reading (recvmmsg), with each
 * datagram's source, ECN field and UDP GRO segment size.
 */
#ifndef CSCTP_SYSTEM_H
#define CSCTP_SYSTEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

typedef struct {
    /* The bytes to send and their count; or, when `part_count` > 0, the bytes are gathered
     * from parts[0..<part_count] instead (a UDP GSO run of packets sent without a copy). */
    const void *data;
    size_t length;
    const struct iovec *parts;
    int part_count;
    /* The destination (a sockaddr_in or sockaddr_in6) and its length. */
    const struct sockaddr *address;
    socklen_t address_length;
    /* UDP GSO: the size of each segment `data` is cut into by the kernel; 0 for none. */
    uint16_t segment_size;
    /* The ECN field of the IP header (RFC 3168: 2 is ECT(0)); 0 leaves the socket's. */
    uint8_t ecn;
} csctp_datagram;

/*
 * Sends datagrams[0..<count] on `fd` (non-blocking). Returns how many were consumed: sent,
 * or dropped because the kernel refused that one datagram (such as ENETUNREACH, EMSGSIZE,
 * EPERM: SCTP recovers a lost packet). Stops early, without consuming the datagram, when
 * the socket cannot take more now (EAGAIN, EWOULDBLOCK, ENOBUFS); then *stopped is that
 * errno, else 0. *dropped counts the datagrams dropped.
 */
int csctp_send_datagrams(int fd, const csctp_datagram *datagrams, int count, int *stopped, int *dropped);

/* One datagram read by csctp_receive_datagrams. */
typedef struct {
    /* Its bytes start at buffer + index * slot; this many of them. */
    size_t length;
    /* The source: 4 for IPv4 (address[0..<4]), 6 for IPv6 (address[0..<16]), 0 if unknown. */
    uint8_t family;
    uint8_t address[16];
    /* The source port, host byte order. */
    uint16_t port;
    /* The IP header's ECN field (RFC 3168: 3 is CE). */
    uint8_t ecn;
    /* Whether the datagram was longer than a slot (its end is cut off). */
    uint8_t truncated;
    /* UDP GRO: the size of each datagram of a coalesced run; 0 for a single datagram. */
    uint16_t segment_size;
} csctp_received;

/*
 * Reads up to `count` datagrams (at most 64) from `fd` without blocking, the i-th into
 * buffer + i * slot. Returns how many were read (0 when none is waiting), or -errno.
 */
int csctp_receive_datagrams(int fd, uint8_t *buffer, size_t slot, csctp_received *received, int count);

/*
 * Asks the kernel to report, with each datagram read from `fd`, its ECN field
 * (IP_RECVTOS, IPV6_RECVTCLASS) and, when `coalesce` is set, to hand over runs of
 * datagrams as one (UDP_GRO, Linux). Returns 0, or -errno of the first option refused.
 */
int csctp_prepare_receive(int fd, int ipv6, int coalesce);

/*
 * Path MTU discovery support (RFC 8899) for UDP sockets. csctp_prepare_path_mtu sets the
 * socket so that the kernel never fragments what it sends and ignores its own PMTU cache
 * (IP_MTU_DISCOVER / IPV6_MTU_DISCOVER = *_PMTUDISC_PROBE: oversize probes are dropped on
 * the way, not cut into fragments), and queues ICMP errors (IP_RECVERR / IPV6_RECVERR).
 * Returns 0 or -errno. Linux only; elsewhere -ENOSYS.
 */
int csctp_prepare_path_mtu(int fd, int ipv6);

/* A Packet Too Big read from a socket's error queue (csctp_read_packet_too_big). */
typedef struct {
    /* The destination of the datagram that was too big: 4 or 6, then its address and port. */
    int family;
    uint8_t address[16];
    uint16_t port;
    /* The MTU the ICMP message (or the local stack, ICMP origin 0) reports, IP header included. */
    uint32_t mtu;
    /* Bytes of the datagram's payload quoted (in the buffer). */
    int length;
    /* The local stack refused the datagram (EMSGSIZE: larger than the link or route allows);
       such a report quotes nothing. */
    int local;
} csctp_packet_too_big;

/*
 * Reads one entry of `fd`'s error queue (MSG_ERRQUEUE) without blocking. Returns 1 when it
 * was an ICMP "fragmentation needed", an ICMPv6 "packet too big" or a local EMSGSIZE
 * (`out` filled, the quoted payload in `buffer`), 0 when it was another error (consumed and
 * ignored), -EAGAIN when the queue is empty, or -errno.
 */
int csctp_read_packet_too_big(int fd, uint8_t *buffer, size_t capacity, csctp_packet_too_big *out);

/*
 * Readiness for the driver's own event loop (epoll on Linux; elsewhere every function
 * returns -ENOSYS). csctp_poll_create returns a poll descriptor or -errno.
 */
int csctp_poll_create(void);
/* Adds `fd` (add != 0) or changes its interest: readable, writable. Returns 0 or -errno. */
int csctp_poll_set(int poll_fd, int fd, int add, int readable, int writable);
/* Removes `fd`. Returns 0 or -errno. */
int csctp_poll_remove(int poll_fd, int fd);
/*
 * Waits until a descriptor is ready or `timeout_ns` passed (-1: no limit; the wait is
 * rounded up to whole milliseconds where the kernel has no finer one). Fills fds[i] and
 * events[i] (bit 0 readable, bit 1 writable, bit 2 error or hang-up) for up to `max`
 * descriptors. Returns how many, 0 on timeout or signal, or -errno.
 */
int csctp_poll_wait(int poll_fd, int *fds, uint32_t *events, int max, int64_t timeout_ns);
/* An eventfd to wake the loop (non-blocking), or -errno. */
int csctp_wake_create(void);
/* Makes `wake_fd` readable. */
void csctp_wake_signal(int wake_fd);
/* Makes `wake_fd` not readable again. */
void csctp_wake_drain(int wake_fd);
/* SO_REUSEPORT on `fd` (before bind). Returns 0 or -errno (-ENOSYS off Linux). */
int csctp_reuse_port(int fd);
/*
 * Steers the datagrams of `fd`'s reuse-port group (the sockets bound to the same address and
 * port with SO_REUSEPORT, in the order they were bound) by SCTP verification tag: a packet
 * whose tag is not 0 goes to socket (tag mod shards), an INIT (tag 0) to socket (SCTP source
 * port mod shards). Linux's SO_ATTACH_REUSEPORT_CBPF. Returns 0 or -errno.
 */
int csctp_attach_tag_steering(int fd, uint32_t shards);
/* Names the calling thread (shown by top, perf and debuggers); a no-op where unsupported. */
void csctp_name_thread(const char *name);

#endif
