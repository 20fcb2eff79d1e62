// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used for iSCSI header and data digests
// (RFC 7143 §13.1; test vectors RFC 3720 §B.4).
//
// Convention: `crc32c_update` is the raw register update. It does NOT invert on entry or exit.
// A complete checksum is `~crc32c_update(0xFFFFFFFF, buf, len)`; an incremental one threads the
// register through several calls and inverts once at the end (see Checksums/CRC32C.swift).
//
// Two implementations: the SSE4.2 `crc32` instruction (8 bytes per instruction) when the CPU has
// it, detected once at run time, and a portable slicing-by-8 table fallback.
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u

// MARK: - Portable slicing-by-8

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

static void crc32c_init_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ CRC32C_POLY : (c >> 1);
        }
        crc32c_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = crc32c_table[0][n];
        for (int t = 1; t < 8; t++) {
            c = crc32c_table[0][c & 0xFFu] ^ (c >> 8);
            crc32c_table[t][n] = c;
        }
    }
}

static inline uint64_t load_le64(const unsigned char *p) {
    // Byte-wise assembly: no unaligned access, no host-endianness assumption.
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24) |
           ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t len) {
    pthread_once(&crc32c_table_once, crc32c_init_table);
    while (len >= 8) {
        uint64_t word = load_le64(p) ^ (uint64_t)crc;
        crc = crc32c_table[7][word & 0xFFu] ^
              crc32c_table[6][(word >> 8) & 0xFFu] ^
              crc32c_table[5][(word >> 16) & 0xFFu] ^
              crc32c_table[4][(word >> 24) & 0xFFu] ^
              crc32c_table[3][(word >> 32) & 0xFFu] ^
              crc32c_table[2][(word >> 40) & 0xFFu] ^
              crc32c_table[1][(word >> 48) & 0xFFu] ^
              crc32c_table[0][word >> 56];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        crc = crc32c_table[0][(crc ^ *p) & 0xFFu] ^ (crc >> 8);
        p++;
        len--;
    }
    return crc;
}

// MARK: - SSE4.2

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t len) {
    // Bring the pointer to 8-byte alignment one byte at a time, then 8 bytes per instruction.
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        crc = _mm_crc32_u8(crc, *p);
        p++;
        len--;
    }
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8); // aligned here; memcpy keeps it free of aliasing UB (x86 is little-endian)
        c = _mm_crc32_u64(c, word);
        p += 8;
        len -= 8;
    }
    crc = (uint32_t)c;
    while (len > 0) {
        crc = _mm_crc32_u8(crc, *p);
        p++;
        len--;
    }
    return crc;
}

// -1 unknown, 0 no, 1 yes. Races are benign: every thread computes the same value.
static int crc32c_have_sse42 = -1;

static int crc32c_detect(void) {
    int have = __atomic_load_n(&crc32c_have_sse42, __ATOMIC_RELAXED);
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        __atomic_store_n(&crc32c_have_sse42, have, __ATOMIC_RELAXED);
    }
    return have;
}
#endif

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len) {
    if (len == 0 || buf == NULL) {
        return crc;
    }
#if defined(__x86_64__)
    if (crc32c_detect()) {
        return crc32c_hw(crc, (const unsigned char *)buf, len);
    }
#endif
    return crc32c_sw(crc, (const unsigned char *)buf, len);
}

uint32_t crc32c_update_portable(uint32_t crc, const void *buf, size_t len) {
    if (len == 0 || buf == NULL) {
        return crc;
    }
    return crc32c_sw(crc, (const unsigned char *)buf, len);
}

int crc32c_hardware_accelerated(void) {
#if defined(__x86_64__)
    return crc32c_detect();
#else
    return 0;
#endif
}
