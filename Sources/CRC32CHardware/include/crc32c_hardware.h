#ifndef HYGGE_CRC32C_HARDWARE_H
#define HYGGE_CRC32C_HARDWARE_H

#include <stddef.h>
#include <stdint.h>

/// Whether this processor has CRC-32C instructions (x86-64 SSE4.2, or the AArch64 CRC32 extension on Linux).
int hygge_crc32c_hardware_available(void);

/// Advances a CRC-32C register (`crc` is the running value, not inverted: callers pass `~initial`
/// and invert the result) over `length` bytes. Only call it when `hygge_crc32c_hardware_available()`.
uint32_t hygge_crc32c_hardware_update(uint32_t crc, const void *data, size_t length);

#endif
