/* The unit tests' temporary directories: removed with everything in them. */
#ifndef DOORMAT_TESTS_TMPDIR_H
#define DOORMAT_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static int test_dir_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the directory at path and everything below it: 0, or -1 if
   anything could not be removed. */
static inline int test_dir_remove(const char *path) {
    return nftw(path, test_dir_rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

#endif
