#define _GNU_SOURCE
#include "csctp_internal.h"

enum { RECEIVE_BATCH = 64 };

/* Room for the control messages a datagram can carry: its TOS / traffic class and its
 * GRO segment size. */
typedef union {
    char bytes[CMSG_SPACE(sizeof(int)) * 2 + CMSG_SPACE(sizeof(uint16_t)) + 64];
    struct cmsghdr align;
} control_space;

static void read_control(struct msghdr *m, csctp_received *out) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS && c->cmsg_len >= CMSG_LEN(1)) {
            uint8_t tos;
            memcpy(&tos, CMSG_DATA(c), 1);
            out->ecn = tos & 3;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int tclass;
            memcpy(&tclass, CMSG_DATA(c), sizeof(tclass));
            out->ecn = (uint8_t)(tclass & 3);
#if defined(__linux__)
        } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(uint16_t))) {
            /* The kernel writes an int; its low 16 bits hold the size. */
            if (c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                int size;
                memcpy(&size, CMSG_DATA(c), sizeof(size));
                out->segment_size = (uint16_t)size;
            } else {
                uint16_t size;
                memcpy(&size, CMSG_DATA(c), sizeof(size));
                out->segment_size = size;
            }
#endif
        }
    }
}

static void read_source(const struct sockaddr_storage *source, socklen_t length, csctp_received *out) {
    if (source->ss_family == AF_INET && length >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)source;
        out->family = 4;
        memcpy(out->address, &v4->sin_addr, 4);
        out->port = ntohs(v4->sin_port);
    } else if (source->ss_family == AF_INET6 && length >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)source;
        out->family = 6;
        memcpy(out->address, &v6->sin6_addr, 16);
        out->port = ntohs(v6->sin6_port);
    }
}

#if defined(__linux__)
int csctp_receive_datagrams(int fd, uint8_t *buffer, size_t slot, csctp_received *received, int count) {
    struct mmsghdr headers[RECEIVE_BATCH];
    struct iovec vectors[RECEIVE_BATCH];
    struct sockaddr_storage sources[RECEIVE_BATCH];
    control_space controls[RECEIVE_BATCH];
    if (count > RECEIVE_BATCH) count = RECEIVE_BATCH;
    if (count <= 0) return 0;
    memset(headers, 0, sizeof(headers[0]) * (size_t)count);
    for (int i = 0; i < count; i++) {
        vectors[i].iov_base = buffer + (size_t)i * slot;
        vectors[i].iov_len = slot;
        struct msghdr *m = &headers[i].msg_hdr;
        m->msg_name = &sources[i];
        m->msg_namelen = sizeof(sources[i]);
        m->msg_iov = &vectors[i];
        m->msg_iovlen = 1;
        m->msg_control = controls[i].bytes;
        m->msg_controllen = sizeof(controls[i].bytes);
    }
    int got;
    do {
        got = recvmmsg(fd, headers, (unsigned)count, MSG_DONTWAIT, NULL);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (int i = 0; i < got; i++) {
        csctp_received *out = &received[i];
        memset(out, 0, sizeof(*out));
        struct msghdr *m = &headers[i].msg_hdr;
        out->length = headers[i].msg_len > slot ? slot : headers[i].msg_len;
        out->truncated = (m->msg_flags & MSG_TRUNC) != 0;
        read_source(&sources[i], m->msg_namelen, out);
        read_control(m, out);
    }
    return got;
}
#else
int csctp_receive_datagrams(int fd, uint8_t *buffer, size_t slot, csctp_received *received, int count) {
    int done = 0;
    while (done < count) {
        struct iovec vector = { buffer + (size_t)done * slot, slot };
        struct sockaddr_storage source;
        control_space control;
        struct msghdr m;
        memset(&m, 0, sizeof(m));
        m.msg_name = &source;
        m.msg_namelen = sizeof(source);
        m.msg_iov = &vector;
        m.msg_iovlen = 1;
        m.msg_control = control.bytes;
        m.msg_controllen = sizeof(control.bytes);
        ssize_t length = recvmsg(fd, &m, MSG_DONTWAIT);
        if (length < 0) {
            if (errno == EINTR) continue;
            if (done > 0 || errno == EAGAIN || errno == EWOULDBLOCK) return done;
            return -errno;
        }
        csctp_received *out = &received[done];
        memset(out, 0, sizeof(*out));
        out->length = (size_t)length > slot ? slot : (size_t)length;
        out->truncated = (m.msg_flags & MSG_TRUNC) != 0;
        read_source(&source, m.msg_namelen, out);
        read_control(&m, out);
        done++;
    }
    return done;
}
#endif
