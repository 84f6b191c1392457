#define _GNU_SOURCE
#include "csctp_internal.h"

#if defined(__linux__)
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>

int csctp_prepare_path_mtu(int fd, int ipv6) {
    int on = 1;
    if (ipv6) {
        int probe = IPV6_PMTUDISC_PROBE;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe, sizeof(probe)) != 0) return -errno;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on)) != 0) return -errno;
    } else {
        int probe = IP_PMTUDISC_PROBE;
        if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe)) != 0) return -errno;
        if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) != 0) return -errno;
    }
    return 0;
}

int csctp_read_packet_too_big(int fd, uint8_t *buffer, size_t capacity, csctp_packet_too_big *out) {
    struct sockaddr_storage name;
    char control[512];
    struct iovec iov = { .iov_base = buffer, .iov_len = capacity };
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &name;
    msg.msg_namelen = sizeof(name);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t got = recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (got < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        int ip = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
        int ip6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!ip && !ip6) continue;
        if (c->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err))) continue;
        struct sock_extended_err ee;
        memcpy(&ee, CMSG_DATA(c), sizeof(ee));
        int too_big = (ee.ee_origin == SO_EE_ORIGIN_ICMP && ee.ee_type == ICMP_DEST_UNREACH && ee.ee_code == ICMP_FRAG_NEEDED)
            || (ee.ee_origin == SO_EE_ORIGIN_ICMP6 && ee.ee_type == ICMP6_PACKET_TOO_BIG)
            || (ee.ee_origin == SO_EE_ORIGIN_LOCAL && ee.ee_errno == EMSGSIZE);
        if (!too_big) return 0;
        memset(out, 0, sizeof(*out));
        out->mtu = ee.ee_info;
        out->length = (int)got;
        out->local = ee.ee_origin == SO_EE_ORIGIN_LOCAL;
        if (name.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&name;
            out->family = 4;
            memcpy(out->address, &a->sin_addr, 4);
            out->port = ntohs(a->sin_port);
        } else if (name.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&name;
            out->family = 6;
            memcpy(out->address, &a->sin6_addr, 16);
            out->port = ntohs(a->sin6_port);
        } else {
            return 0;
        }
        return 1;
    }
    return 0;
}
#else
int csctp_prepare_path_mtu(int fd, int ipv6) { (void)fd; (void)ipv6; return -ENOSYS; }
int csctp_read_packet_too_big(int fd, uint8_t *buffer, size_t capacity, csctp_packet_too_big *out) {
    (void)fd; (void)buffer; (void)capacity; (void)out;
    return -ENOSYS;
}
#endif
