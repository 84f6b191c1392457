/* LD_PRELOAD shim for benchmarks: Debian's tsctp switches all of usrsctp's debug output on,
 * which halves its speed and floods stdout. This forces the debug mask to 0 whatever the
 * program asks, so that usrsctp is measured at its best. Build:
 *   cc -shared -fPIC -O2 usrsctp-nodebug.c -o nodebug.so -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>

int usrsctp_sysctl_set_sctp_debug_on(uint32_t value) {
    (void)value;
    int (*real)(uint32_t) = (int (*)(uint32_t))dlsym(RTLD_NEXT, "usrsctp_sysctl_set_sctp_debug_on");
    return real ? real(0) : 0;
}
