/* The fuzz targets' round-trip check: what a parser accepted formats back to
   the very bytes it was given (the grammar is canonical); abort otherwise. */
#ifndef DOORMAT_FUZZ_CHECK_H
#define DOORMAT_FUZZ_CHECK_H

#include <stdlib.h>
#include <string.h>

/* made (made_len bytes, malloc'd) is given to the byte; it is freed. */
static inline void fuzz_same_bytes(char *made, size_t made_len, const char *given,
                                   size_t given_len) {
    if (made_len != given_len || memcmp(made, given, given_len) != 0)
        abort();
    free(made);
}

#endif
