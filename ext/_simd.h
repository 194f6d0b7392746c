/* Several bytes at a time, for the JSON tape parser (ext/_tape.pxi): SSE2 string runs,
   SWAR (8 bytes in a word) where the platform is little-endian GCC/Clang, and the
   constants of the SWAR digit tricks. */
#ifndef CL_SIMD_H
#define CL_SIMD_H

#include <Python.h>

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CL_SWAR 1
#define CL_CTZ(x) __builtin_ctzll(x)
#else
#define CL_SWAR 0
#define CL_CTZ(x) 0
#endif
/* Sixteen bytes at a time with SSE2 (every x86-64 has it): the position of the first
   quote, backslash, control byte (< 0x20) or non-ASCII byte (>= 0x80) in s[i:i + 16 * k], or
   the first i with i + 16 > n. One signed compare, v < 0x20, catches both of the last two
   kinds (bytes >= 0x80 are negative). */
#if defined(__SSE2__)
#include <emmintrin.h>
#define CL_SSE2 1
static inline Py_ssize_t cl_str_run16(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    const __m128i quote = _mm_set1_epi8(0x22), slash = _mm_set1_epi8(0x5C);
    const __m128i space = _mm_set1_epi8(0x20);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                              _mm_cmpeq_epi8(v, slash)),
                                 _mm_cmplt_epi8(v, space));
        int bits = _mm_movemask_epi8(m);
        if (bits) return i + __builtin_ctz((unsigned)bits);
        i += 16;
    }
    return i;
}
#else
#define CL_SSE2 0
static inline Py_ssize_t cl_str_run16(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    (void)s; (void)n; return i;
}
#endif
/* SWAR: every byte 0x01, every byte 0x80; the lanes and multipliers that add 8 digits
   up in three steps (digits_value). */
#define CL_ONES 0x0101010101010101ULL
#define CL_HIGHS 0x8080808080808080ULL
#define CL_LANES 0x000000FF000000FFULL
#define CL_MUL1 (100ULL + (1000000ULL << 32))
#define CL_MUL2 (1ULL + (10000ULL << 32))

#endif /* CL_SIMD_H */
