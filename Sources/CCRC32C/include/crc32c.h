#pragma once
#include <stdint.h>
#include <stddef.h>

/// Raw CRC32C (Castagnoli) register update: no inversion on entry or exit.
/// A complete checksum is `~crc32c_update(0xFFFFFFFF, buf, len)`.
/// Uses the SSE4.2 `crc32` instruction when the CPU has it, else slicing-by-8 tables.
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);

/// Same as `crc32c_update`, always through the portable table path (for tests).
uint32_t crc32c_update_portable(uint32_t crc, const void *buf, size_t len);

/// 1 when `crc32c_update` uses the SSE4.2 instruction, else 0.
int crc32c_hardware_accelerated(void);
