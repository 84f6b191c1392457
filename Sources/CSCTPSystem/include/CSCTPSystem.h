/*
 * CSCTPSystem -- the few system calls the drivers make without SwiftNIO.
 *
 * csctp_send_datagrams writes a series of datagrams to one socket with as few system
 * calls as the kernel allows (sendmmsg on Linux, sendmsg elsewhere), each datagram with
 * its own destination, ECN field (IP_TOS / IPV6_TCLASS) and, on Linux, UDP GSO segment size
 * (UDP_SEGMENT).
 */
#ifndef CSCTP_SYSTEM_H
#define CSCTP_SYSTEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
    /* The bytes to send and their count. */
    const void *data;
    size_t length;
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

#endif
