/* The main of a CMocka unit test: the library initialised, then one group run. */
#ifndef DOORMAT_TESTS_UNIT_MAIN_H
#define DOORMAT_TESTS_UNIT_MAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "doormat/vault.h"

/* Defines main(): the statement first, then init_ok (exit 1 if it is false),
   then the group table tests (a CMUnitTest array), named name, with its group
   setup and teardown. */
#define DM_UNIT_MAIN_WITH(first, init_ok, name, table, group_setup, group_teardown)                \
    int main(void) {                                                                               \
        first;                                                                                     \
        if (!(init_ok))                                                                            \
            return 1;                                                                              \
        return cmocka_run_group_tests_name(name, table, group_setup, group_teardown);              \
    }

/* Defines main(): dm_init (exit 1 if it fails), then the group. */
#define DM_UNIT_MAIN(name, table, group_setup, group_teardown)                                     \
    DM_UNIT_MAIN_WITH((void)0, dm_init() == DM_OK, name, table, group_setup, group_teardown)

#endif
