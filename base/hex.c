/* Hex, the one encoder of the tree (ids, digests and keys in text formats). */
#include <sodium.h>

#include "doormat/base.h"

void dm_hex(const uint8_t *in, size_t n, char *out) {
    sodium_bin2hex(out, 2 * n + 1, in, n);
}
