// Counts heap allocations (the method of swift-nio's allocation-counter tests, without their
// hook library): this file defines malloc and its siblings, so the executable it is linked
// into exports them and every shared library (the Swift runtime, Foundation, libc itself)
// calls these instead of glibc's. Each one adds 1 to an atomic counter and forwards to
// glibc's internal entry points, which glibc exports for exactly this purpose.
#include "cmalloccounter.h"
#include <stddef.h>
#include <stdatomic.h>

#if defined(__linux__) && defined(__GLIBC__)
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static _Atomic uint64_t allocations;

static inline void count(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *pointer, size_t size) {
	if (size != 0) count();
	return __libc_realloc(pointer, size);
}
void free(void *pointer) { __libc_free(pointer); }
void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *valloc(size_t size) { count(); return __libc_valloc(size); }
void *pvalloc(size_t size) { count(); return __libc_pvalloc(size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
	if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0) return EINVAL;
	count();
	void *pointer = __libc_memalign(alignment, size);
	if (pointer == NULL && size != 0) return ENOMEM;
	*out = pointer;
	return 0;
}

uint64_t cmalloccounter_allocations(void) { return atomic_load_explicit(&allocations, memory_order_relaxed); }
int cmalloccounter_active(void) { return 1; }
#else
uint64_t cmalloccounter_allocations(void) { return 0; }
int cmalloccounter_active(void) { return 0; }
#endif
