#ifndef CMALLOCINFO_H
#define CMALLOCINFO_H
#include <stddef.h>
/// Bytes of heap in use (glibc mallinfo2().uordblks + hblkhd: small blocks and mmapped
/// blocks); 0 where glibc is not the allocator.
size_t cmallocinfo_heap_in_use(void);
/// Resident set size of the process in bytes (/proc/self/statm), 0 where unknown.
size_t cmallocinfo_resident_bytes(void);
#endif
