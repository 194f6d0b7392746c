# The compiled core's hashes: MurmurHash3 x64_128 for the source-refs (RefTable), a quick
# 64-bit one for the in-memory tables. Part of ext/_core.pyx (included).

cdef inline uint64_t _rotl(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _fmix(uint64_t k) noexcept nogil:
    k ^= k >> 33
    k *= CL_F1
    k ^= k >> 33
    k *= CL_F2
    k ^= k >> 33
    return k


cdef void hash128(const unsigned char *data, Py_ssize_t n, uint64_t *out) noexcept nogil:
    """MurmurHash3 x64_128 of ``data`` (seeded): two 64-bit halves in out[0], out[1]."""
    cdef uint64_t h1 = CL_SEED2, h2 = CL_SEED2 ^ CL_GOLD, k1, k2
    cdef unsigned char tail[16]
    cdef Py_ssize_t i, nblocks = n // 16, rem = n & 15
    for i in range(nblocks):
        memcpy(&k1, data + 16 * i, 8)
        memcpy(&k2, data + 16 * i + 8, 8)
        k1 *= CL_C1
        k1 = _rotl(k1, 31)
        k1 *= CL_C2
        h1 ^= k1
        h1 = _rotl(h1, 27)
        h1 += h2
        h1 = h1 * 5 + 0x52dce729
        k2 *= CL_C2
        k2 = _rotl(k2, 33)
        k2 *= CL_C1
        h2 ^= k2
        h2 = _rotl(h2, 31)
        h2 += h1
        h2 = h2 * 5 + 0x38495ab5
    if rem:
        memset(tail, 0, 16)
        memcpy(tail, data + 16 * nblocks, rem)
        memcpy(&k1, tail, 8)
        memcpy(&k2, tail + 8, 8)
        if rem > 8:
            k2 *= CL_C2
            k2 = _rotl(k2, 33)
            k2 *= CL_C1
            h2 ^= k2
        k1 *= CL_C1
        k1 = _rotl(k1, 31)
        k1 *= CL_C2
        h1 ^= k1
    h1 ^= <uint64_t>n
    h2 ^= <uint64_t>n
    h1 += h2
    h2 += h1
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 += h2
    h2 += h1
    out[0] = h1
    out[1] = h2


cdef inline uint64_t hash64(const unsigned char *data, Py_ssize_t n) noexcept nogil:
    """A quick 64-bit hash for the in-memory tables (object keys, label names)."""
    cdef uint64_t h = CL_GOLD ^ (<uint64_t>n * CL_C1), w
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        memcpy(&w, data + i, 8)
        h = (h ^ w) * CL_C2
        h ^= h >> 31
        i += 8
    if i < n:
        w = 0
        memcpy(&w, data + i, n - i)
        h = (h ^ w) * CL_C2
        h ^= h >> 31
    return _fmix(h)
