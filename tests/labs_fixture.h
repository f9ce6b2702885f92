/* The lab unit tests' working directory: one made for each test, and removed
   with everything in it. */
#ifndef DOORMAT_TESTS_LABS_FIXTURE_H
#define DOORMAT_TESTS_LABS_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doormat/vault.h"

static int lab_dir_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A setup's body: the library initialised and *state a fresh directory made
   from template (a mkdtemp template). */
static inline int lab_dir_make(void **state, const char *template) {
    char *dir = strdup(template);
    if (dm_init() != DM_OK || !dir || !mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

/* The teardown of lab_dir_make. */
static inline int lab_dir_remove(void **state) {
    nftw(*state, lab_dir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(*state);
    return 0;
}

#endif
