/* The lab unit tests' working directory: one made for each test, and removed
   with everything in it. */
#ifndef DOORMAT_TESTS_LABS_FIXTURE_H
#define DOORMAT_TESTS_LABS_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "doormat/vault.h"
#include "tmpdir.h"

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
    test_dir_remove(*state);
    free(*state);
    return 0;
}

/* A test run in a directory of its own: made by the test file's setup (a
   lab_dir_make), removed by lab_dir_remove. */
#define LAB_TEST(f) cmocka_unit_test_setup_teardown(f, setup, lab_dir_remove)

#endif
