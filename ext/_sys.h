/* What the compiled core asks of the system beyond the C library: prefetching, big zeroed
   tables (huge pages on Linux), the last newline of a buffer (memrchr on glibc). */
#ifndef CL_SYS_H
#define CL_SYS_H

#include <Python.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define CL_PREFETCH(p) __builtin_prefetch(p)
#else
#define CL_PREFETCH(p) ((void)0)
#endif
/* Tables of 2 MB and more: anonymous memory, zeroed, backed by huge pages where the system
   allows (fewer TLB misses on random probes). */
#if defined(__linux__)
#include <sys/mman.h>
static void *cl_big_calloc(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}
static void cl_big_free(void *p, size_t size) { if (p) munmap(p, size); }
#else
static void *cl_big_calloc(size_t size) { return calloc(size, 1); }
static void cl_big_free(void *p, size_t size) { (void)size; free(p); }
#endif
/* The last '\n' in s[0:n], or NULL. */
#if defined(__GLIBC__)
#define cl_memrchr_nl(s, n) ((const unsigned char *)memrchr((s), 10, (n)))
#else
static const unsigned char *cl_memrchr_nl(const unsigned char *s, Py_ssize_t n) {
    while (n > 0) { if (s[--n] == 10) return s + n; }
    return NULL;
}
#endif

#endif /* CL_SYS_H */
