#define _GNU_SOURCE
#include "csctp_internal.h"

int csctp_prepare_receive(int fd, int ipv6, int coalesce) {
    int on = 1;
    if (ipv6) {
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof(on)) != 0) return -errno;
    } else {
        if (setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on)) != 0) return -errno;
    }
#if defined(__linux__)
    if (coalesce && setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) != 0) return -errno;
#else
    (void)coalesce;
#endif
    return 0;
}

#include <pthread.h>

void csctp_name_thread(const char *name) {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), name);
#elif defined(__APPLE__)
    pthread_setname_np(name);
#else
    (void)name;
#endif
}

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>

int csctp_poll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static uint32_t interest(int readable, int writable) {
    return (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
}

int csctp_poll_set(int poll_fd, int fd, int add, int readable, int writable) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = interest(readable, writable);
    event.data.fd = fd;
    return epoll_ctl(poll_fd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event) == 0 ? 0 : -errno;
}

int csctp_poll_remove(int poll_fd, int fd) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    return epoll_ctl(poll_fd, EPOLL_CTL_DEL, fd, &event) == 0 ? 0 : -errno;
}

enum { WAIT_BATCH = 64 };

/* Whether epoll_pwait2 (nanosecond timeouts, Linux 5.11) is known to be missing. */
static volatile int no_pwait2 = 0;

int csctp_poll_wait(int poll_fd, int *fds, uint32_t *events, int max, int64_t timeout_ns) {
    struct epoll_event ready[WAIT_BATCH];
    if (max > WAIT_BATCH) max = WAIT_BATCH;
    int got = -1;
#ifdef SYS_epoll_pwait2
    if (!no_pwait2 && timeout_ns > 0) {
        struct timespec timeout = { (time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000) };
        got = (int)syscall(SYS_epoll_pwait2, poll_fd, ready, max, &timeout, NULL, 0);
        if (got < 0 && errno == EINTR) return 0;
        /* Missing (ENOSYS) or refused by a seccomp filter (EPERM, ...): epoll_wait from now on. */
        if (got < 0) no_pwait2 = 1;
    }
#endif
    if (got < 0) {
        int milliseconds = timeout_ns < 0 ? -1
            : timeout_ns > (int64_t)2000000000 * 1000000 ? 2000000000
            : (int)((timeout_ns + 999999) / 1000000);
        got = epoll_wait(poll_fd, ready, max, milliseconds);
        if (got < 0) return errno == EINTR ? 0 : -errno;
    }
    for (int i = 0; i < got; i++) {
        fds[i] = ready[i].data.fd;
        uint32_t e = ready[i].events;
        events[i] = ((e & EPOLLIN) ? 1u : 0u) | ((e & EPOLLOUT) ? 2u : 0u) | ((e & (EPOLLERR | EPOLLHUP)) ? 4u : 0u);
    }
    return got;
}

int csctp_wake_create(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void csctp_wake_signal(int wake_fd) {
    uint64_t one = 1;
    ssize_t written;
    do { written = write(wake_fd, &one, sizeof(one)); } while (written < 0 && errno == EINTR);
}

void csctp_wake_drain(int wake_fd) {
    uint64_t value;
    ssize_t got;
    do { got = read(wake_fd, &value, sizeof(value)); } while (got < 0 && errno == EINTR);
}
#else
int csctp_poll_create(void) { return -ENOSYS; }
int csctp_poll_set(int poll_fd, int fd, int add, int readable, int writable) {
    (void)poll_fd; (void)fd; (void)add; (void)readable; (void)writable;
    return -ENOSYS;
}
int csctp_poll_remove(int poll_fd, int fd) { (void)poll_fd; (void)fd; return -ENOSYS; }
int csctp_poll_wait(int poll_fd, int *fds, uint32_t *events, int max, int64_t timeout_ns) {
    (void)poll_fd; (void)fds; (void)events; (void)max; (void)timeout_ns;
    return -ENOSYS;
}
int csctp_wake_create(void) { return -ENOSYS; }
void csctp_wake_signal(int wake_fd) { (void)wake_fd; }
void csctp_wake_drain(int wake_fd) { (void)wake_fd; }
#endif
