/* The constants of the compiled core's hashes (ext/_hash.pxi): MurmurHash3 x64_128's
   multipliers (C1, C2) and finalizer (F1, F2) from Appleby's smhasher, the 64-bit golden ratio
   (Knuth's multiplicative hashing) and, as the seed, xorshift64*'s multiplier (Vigna). */
#ifndef CL_HASH_H
#define CL_HASH_H

#define CL_C1 0x87c37b91114253d5ULL
#define CL_C2 0x4cf5ad432745937fULL
#define CL_F1 0xff51afd7ed558ccdULL
#define CL_F2 0xc4ceb9fe1a85ec53ULL
#define CL_GOLD 0x9e3779b97f4a7c15ULL
#define CL_SEED2 0x2545f4914f6cdd1dULL

#endif /* CL_HASH_H */
