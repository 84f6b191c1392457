#include "cmallocinfo.h"
#include <stdio.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

size_t cmallocinfo_heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 info = mallinfo2();
	return info.uordblks + info.hblkhd;
#else
	return 0;
#endif
}

size_t cmallocinfo_resident_bytes(void) {
	long pages = 0, resident = 0;
	FILE *file = fopen("/proc/self/statm", "r");
	if (!file) return 0;
	if (fscanf(file, "%ld %ld", &pages, &resident) != 2) resident = 0;
	fclose(file);
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}
