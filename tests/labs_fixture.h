/* The lab unit tests' working directory: one made for each test, and removed
   with everything in it; and the check of a lab's counts. Include after
   cmocka.h. */
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

/* A count in a lab's result, by its field's name, and the value it must have. */
typedef struct lab_count {
    const char *name;
    long long got, want;
} lab_count;

#define LAB_COUNT(r, field, value)                                                                 \
    { #field, (long long)(r).field, (value) }

/* Every count is as it must be; a failure names the field. */
static inline void lab_counts_are(const lab_count *c, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (c[i].got != c[i].want)
            fail_msg("%s is %lld, want %lld", c[i].name, c[i].got, c[i].want);
}

/* LAB_COUNTS_ARE(LAB_COUNT(r, field, value), ...): lab_counts_are on the list. */
#define LAB_COUNTS_ARE(...)                                                                        \
    do {                                                                                           \
        const lab_count lab_counts_[] = {__VA_ARGS__};                                             \
        lab_counts_are(lab_counts_, sizeof lab_counts_ / sizeof lab_counts_[0]);                   \
    } while (0)

#endif
