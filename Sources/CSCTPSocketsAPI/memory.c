#define _GNU_SOURCE
#include "swiftsctp.h"

#include <errno.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/uio.h>
#endif

/*
 * EFAULT checks for the C interface. A kernel copies user memory with a fault handler; a
 * library cannot, so before it touches memory a caller handed it, it asks the kernel to
 * read one byte of every page of the range (process_vm_readv on itself): an unmapped page
 * fails with EFAULT instead of crashing the process. Elsewhere only NULL is caught.
 */
int swiftsctp_readable_memory(const void *pointer, size_t length) {
    if (pointer == NULL) return length == 0;
    if (length == 0) return 1;
#if defined(__linux__)
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    uintptr_t start = (uintptr_t)pointer;
    if (start + length < start) return 0; /* wraps around */
    uintptr_t last = start + length - 1;
    uintptr_t at = start;
    char sink[32];
    struct iovec local = { .iov_base = sink, .iov_len = 0 };
    struct iovec remote[32];
    while (at <= last) {
        int count = 0;
        while (count < 32 && at <= last) {
            remote[count].iov_base = (void *)at;
            remote[count].iov_len = 1;
            count++;
            uintptr_t next = (at & ~(uintptr_t)(page - 1)) + (uintptr_t)page;
            if (next <= at) break; /* top of the address space */
            at = next;
        }
        local.iov_len = (size_t)count;
        ssize_t got = process_vm_readv(getpid(), &local, 1, remote, (unsigned long)count, 0);
        if (got < 0) {
            if (errno == EFAULT) return 0;
            return 1; /* not allowed to look (seccomp, ENOSYS): assume readable */
        }
        if (got < count) return 0;
        if (count < 32 && at <= last) break;
    }
    return 1;
#else
    return 1;
#endif
}

int swiftsctp_writable_memory(void *pointer, size_t length) {
    /* A mapped page that is read-only is not told apart: the write then faults as it would
     * with any library that writes into a caller's buffer. */
    return swiftsctp_readable_memory(pointer, length);
}
