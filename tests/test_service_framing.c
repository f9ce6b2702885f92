/* Where a request ends must not be in doubt (service/server.c,
 * dm_svc_framing_error): two Content-Length headers that differ, a
 * Transfer-Encoding other than one "chunked", or both framings at once are
 * refused; one length (even repeated) or one "chunked" is served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/keyvalq_struct.h>

#include "service_internal.h"
#include "unit_main.h"

/* A request with the headers given as "Key", "value" pairs, NULL-ended. */
static const char *framing(const char *first, ...) {
    static char why[128];
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    assert_non_null(req);
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    va_list ap;
    va_start(ap, first);
    for (const char *k = first; k != NULL; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        assert_int_equal(evhttp_add_header(h, k, v), 0);
    }
    va_end(ap);
    const char *r = dm_svc_framing_error(req);
    snprintf(why, sizeof why, "%s", r ? r : "");
    evhttp_request_free(req);
    return why;
}

static void test_content_length(void **state) {
    (void)state;
    assert_string_equal(framing("Host", "x", NULL), "");
    assert_string_equal(framing("Content-Length", "5", NULL), "");
    assert_string_equal(framing("Content-Length", "5", "content-length", "5", NULL), "");
    assert_string_equal(framing("Content-Length", "5", "Content-Length", "31", NULL),
                        "conflicting Content-Length headers");
    assert_string_equal(framing("content-length", "31", "Host", "x", "CONTENT-LENGTH", "5", NULL),
                        "conflicting Content-Length headers");
}

static void test_transfer_encoding(void **state) {
    (void)state;
    assert_string_equal(framing("Transfer-Encoding", "chunked", NULL), "");
    assert_string_equal(framing("Transfer-Encoding", "Chunked", NULL), "");
    assert_string_equal(framing("Transfer-Encoding", "gzip", NULL),
                        "unsupported Transfer-Encoding (only \"chunked\")");
    assert_string_equal(framing("Transfer-Encoding", "gzip, chunked", NULL),
                        "unsupported Transfer-Encoding (only \"chunked\")");
    assert_string_equal(
        framing("Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked", NULL),
        "unsupported Transfer-Encoding (only \"chunked\")");
    assert_string_equal(framing("Transfer-Encoding", "chunked", "Content-Length", "5", NULL),
                        "both Transfer-Encoding and Content-Length");
    assert_string_equal(framing("Content-Length", "5", "transfer-encoding", "chunked", NULL),
                        "both Transfer-Encoding and Content-Length");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_content_length),
    cmocka_unit_test(test_transfer_encoding),
};

DM_UNIT_MAIN("service_framing", tests, NULL, NULL)
