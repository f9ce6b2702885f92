/* The fetcher of published logs (service/fetch.c, dm_service_fetcher_new_ca):
 * only an https:// URL with a host, to which paths can be appended, is taken
 * (plain http://, other schemes, a query, a fragment, spaces: DM_ERR_USAGE,
 * before any connection); a CA file must hold a PEM certificate (DM_ERR_IO);
 * a server that does not answer is DM_ERR_IO naming the URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "service_fixture.h"
#include "service_internal.h"
#include "unit_main.h"

static int make(const char *url, const char *ca) {
    dm_tlog_fetcher f;
    int err = dm_service_fetcher_new_ca(url, ca, 2, &f);
    if (err == DM_OK) {
        assert_non_null(f.fetch);
        assert_non_null(f.destroy);
        dm_tlog_fetcher_clear(&f);
        assert_null(f.destroy);
    } else {
        assert_null(f.fetch);
        assert_null(f.destroy);
    }
    return err;
}

static void test_urls(void **state) {
    (void)state;
    assert_int_equal(make("https://127.0.0.1:8443/", NULL), DM_OK);
    assert_int_equal(make("https://logs.example", NULL), DM_OK);
    assert_int_equal(make("https://logs.example/fbi/logs", NULL), DM_OK);
    assert_int_equal(make("https://[::1]:8443/logs/", NULL), DM_OK);

    assert_int_equal(make("http://127.0.0.1:8443/", NULL), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "plain http:// is refused"));
    const char *bad[] = {"",
                         "https://",
                         "https:///logs",
                         "https://127.0.0.1/logs?x=1",
                         "https://127.0.0.1/logs#top",
                         "https://127.0.0.1/a b",
                         "https://127.0.0.1/\x7f",
                         "ftp://127.0.0.1/logs",
                         "HTTPS://127.0.0.1/",
                         "127.0.0.1:8443",
                         "https://[::1/",
                         "https://127.0.0.1:99999/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(make(bad[i], NULL), DM_ERR_USAGE);
        assert_non_null(strstr(dm_err_detail(), "is not an https://HOST[:PORT][/PATH] URL"));
    }
    char longest[DM_SVC_MAX_BASE_URL + 2];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    memcpy(longest, "https://h/", 10);
    longest[DM_SVC_MAX_BASE_URL] = '\0';
    assert_int_equal(make(longest, NULL), DM_OK);
    longest[DM_SVC_MAX_BASE_URL] = 'a';
    assert_int_equal(make(longest, NULL), DM_ERR_USAGE);
}

static void test_ca_file(void **state) {
    (void)state;
    char dir[] = "/tmp/doormat-test-fetch.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char notpem[64], missing[64];
    snprintf(notpem, sizeof notpem, "%s/notpem", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    FILE *f = fopen(notpem, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    assert_int_equal(make("https://127.0.0.1/", missing), DM_ERR_IO);
    assert_non_null(strstr(dm_err_detail(), "cannot be read"));
    assert_int_equal(make("https://127.0.0.1/", notpem), DM_ERR_IO);
    assert_non_null(strstr(dm_err_detail(), "no PEM certificate in it"));
    /* The URL is checked first: a bad URL is a usage error whatever the file. */
    assert_int_equal(make("http://127.0.0.1/", missing), DM_ERR_USAGE);
    unlink(notpem);
    rmdir(dir);
}

static void test_no_server(void **state) {
    (void)state;
    char url[64], want[96];
    int port = closed_port();
    snprintf(url, sizeof url, "https://127.0.0.1:%d/logs/", port);
    dm_tlog_fetcher f;
    assert_int_equal(dm_service_fetcher_new_ca(url, NULL, 2, &f), DM_OK);
    uint8_t *data = (uint8_t *)"x";
    size_t len = 1;
    assert_int_equal(f.fetch(f.ctx, "doj/checkpoint", &data, &len), DM_ERR_IO);
    assert_null(data);
    assert_int_equal(len, 0);
    snprintf(want, sizeof want, "https://127.0.0.1:%d/logs/doj/checkpoint: ", port);
    assert_non_null(strstr(dm_err_detail(), want));
    dm_tlog_fetcher_clear(&f);
    assert_null(f.fetch);
}

/* Both kinds of HTTPS fetcher release their client through destroy, called
 * directly or by dm_tlog_fetcher_clear (valgrind sees no leak). */
static void test_destroy(void **state) {
    (void)state;
    dm_tlog_fetcher f;
    assert_int_equal(dm_service_fetcher_new_ca("https://logs.example/", NULL, 2, &f), DM_OK);
    assert_non_null(f.destroy);
    f.destroy(f.ctx);
    assert_int_equal(dm_service_fetcher_new_ca("https://logs.example/", NULL, 2, &f), DM_OK);
    dm_tlog_fetcher_clear(&f);
    assert_null(f.fetch);
    assert_null(f.destroy);
    assert_int_equal(
        dm_service_fetcher_new("https://127.0.0.1:8443/log",
                               "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 2, &f),
        DM_OK);
    assert_non_null(f.destroy);
    f.destroy(f.ctx);
    memset(&f, 0, sizeof f);
    dm_tlog_fetcher_clear(&f);
    dm_tlog_fetcher_clear(NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_urls),
    cmocka_unit_test(test_ca_file),
    cmocka_unit_test(test_no_server),
    cmocka_unit_test(test_destroy),
};

DM_UNIT_MAIN("service_fetch", tests, NULL, NULL)
