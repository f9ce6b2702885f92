/* The libFuzzer initialisation of the targets that need the library and
   nothing else: DM_FUZZ_INITIALIZE defines LLVMFuzzerInitialize;
   DM_FUZZ_EACH(check, ...) defines it and an LLVMFuzzerTestOneInput that
   hands every input to each check in turn. */
#ifndef DOORMAT_FUZZ_INIT_H
#define DOORMAT_FUZZ_INIT_H

#include "doormat/vault.h"

#define DM_FUZZ_INITIALIZE                                                                         \
    int LLVMFuzzerInitialize(int *argc, char ***argv) {                                            \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        return dm_init() == DM_OK ? 0 : 1;                                                         \
    }

/* Each check: void check(const uint8_t *data, size_t size). */
#define DM_FUZZ_EACH(...)                                                                          \
    DM_FUZZ_INITIALIZE                                                                             \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {                                 \
        void (*const checks[])(const uint8_t *, size_t) = {__VA_ARGS__};                           \
        for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)                              \
            checks[i](data, size);                                                                 \
        return 0;                                                                                  \
    }

#endif
