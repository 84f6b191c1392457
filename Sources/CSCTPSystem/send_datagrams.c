#define _GNU_SOURCE
#include "csctp_internal.h"

enum { BATCH = 64 };

static int would_block(int error) {
    return error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS;
}

#if defined(__linux__)
int csctp_send_datagrams(int fd, const csctp_datagram *datagrams, int count, int *stopped, int *dropped) {
    struct mmsghdr headers[BATCH];
    struct iovec vectors[BATCH];
    union {
        char bytes[CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } controls[BATCH];
    int done = 0;
    *stopped = 0;
    *dropped = 0;
    while (done < count) {
        int batch = count - done < BATCH ? count - done : BATCH;
        memset(headers, 0, sizeof(headers[0]) * (size_t)batch);
        for (int i = 0; i < batch; i++) {
            const csctp_datagram *d = &datagrams[done + i];
            vectors[i].iov_base = (void *)d->data;
            vectors[i].iov_len = d->length;
            struct msghdr *m = &headers[i].msg_hdr;
            m->msg_name = (void *)d->address;
            m->msg_namelen = d->address_length;
            if (d->part_count > 0) {
                m->msg_iov = (struct iovec *)d->parts;
                m->msg_iovlen = (size_t)d->part_count;
            } else {
                m->msg_iov = &vectors[i];
                m->msg_iovlen = 1;
            }
            if (d->segment_size > 0 || d->ecn != 0) {
                memset(&controls[i], 0, sizeof(controls[i]));
                m->msg_control = controls[i].bytes;
                m->msg_controllen = sizeof(controls[i].bytes);
                struct cmsghdr *c = CMSG_FIRSTHDR(m);
                size_t used = 0;
                if (d->segment_size > 0) {
                    c->cmsg_level = SOL_UDP;
                    c->cmsg_type = UDP_SEGMENT;
                    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                    uint16_t size = d->segment_size;
                    memcpy(CMSG_DATA(c), &size, sizeof(size));
                    used += CMSG_SPACE(sizeof(uint16_t));
                    c = CMSG_NXTHDR(m, c);
                }
                if (d->ecn != 0) {
                    int tos = d->ecn & 0x03;
                    int v6 = d->address != NULL && d->address->sa_family == AF_INET6;
                    c->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
                    c->cmsg_type = v6 ? IPV6_TCLASS : IP_TOS;
                    c->cmsg_len = CMSG_LEN(sizeof(int));
                    memcpy(CMSG_DATA(c), &tos, sizeof(tos));
                    used += CMSG_SPACE(sizeof(int));
                }
                m->msg_controllen = used;
            }
        }
        int sent = sendmmsg(fd, headers, (unsigned int)batch, 0);
        if (sent > 0) {
            done += sent;
            continue;
        }
        if (sent < 0 && errno == EINTR) continue;
        int error = sent < 0 ? errno : EIO;
        if (would_block(error)) {
            *stopped = error;
            return done;
        }
        /* This datagram alone is refused: drop it and go on with the next. */
        done += 1;
        *dropped += 1;
    }
    return done;
}
#else
int csctp_send_datagrams(int fd, const csctp_datagram *datagrams, int count, int *stopped, int *dropped) {
    int done = 0;
    *stopped = 0;
    *dropped = 0;
    while (done < count) {
        const csctp_datagram *d = &datagrams[done];
        struct iovec vector = {(void *)d->data, d->length};
        struct msghdr m;
        memset(&m, 0, sizeof(m));
        m.msg_name = (void *)d->address;
        m.msg_namelen = d->address_length;
        m.msg_iov = d->part_count > 0 ? (struct iovec *)d->parts : &vector;
        m.msg_iovlen = d->part_count > 0 ? d->part_count : 1;
        ssize_t sent = sendmsg(fd, &m, 0);
        if (sent >= 0) {
            done += 1;
            continue;
        }
        if (errno == EINTR) continue;
        if (would_block(errno)) {
            *stopped = errno;
            return done;
        }
        done += 1;
        *dropped += 1;
    }
    return done;
}
#endif
