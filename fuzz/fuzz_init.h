/* The libFuzzer initialisation of the targets that need the library and
   nothing else: DM_FUZZ_INITIALIZE defines LLVMFuzzerInitialize. */
#ifndef DOORMAT_FUZZ_INIT_H
#define DOORMAT_FUZZ_INIT_H

#include "doormat/vault.h"

#define DM_FUZZ_INITIALIZE                                                                         \
    int LLVMFuzzerInitialize(int *argc, char ***argv) {                                            \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        return dm_init() == DM_OK ? 0 : 1;                                                         \
    }

#endif
