/* The recipients' unit tests' check of what a wrap produced: one stanza of
   the expected shape. Include after cmocka.h and vault.h. */
#ifndef DOORMAT_TESTS_STANZA_CHECK_H
#define DOORMAT_TESTS_STANZA_CHECK_H

#include <string.h>

/* l holds one stanza alone, of type, with nargs arguments (the first
   first_arg_len characters long) and a body of body_len bytes. */
static inline void assert_lone_stanza(const dm_stanza_list *l, const char *type, size_t nargs,
                                      size_t first_arg_len, size_t body_len) {
    assert_int_equal(l->len, 1);
    assert_string_equal(l->items[0].type, type);
    assert_int_equal(l->items[0].nargs, nargs);
    assert_int_equal(strlen(l->items[0].args[0]), first_arg_len);
    assert_int_equal(l->items[0].body_len, body_len);
}

#endif
