#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
#include <stdint.h>
/// Heap allocations made so far by the whole process: every call of malloc, calloc, realloc
/// (with a non-null size), posix_memalign, aligned_alloc, memalign, valloc and pvalloc.
/// Linking this target into an executable replaces those functions (glibc only: they count,
/// then forward to glibc's own `__libc_malloc` etc.); elsewhere the count stays 0.
uint64_t cmalloccounter_allocations(void);
/// 1 when the functions above are replaced (the count means something), else 0.
int cmalloccounter_active(void);
#endif
