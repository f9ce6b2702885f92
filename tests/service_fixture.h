/* What the service unit tests share: loopback ports and TLS key files. */
#ifndef DOORMAT_TESTS_SERVICE_FIXTURE_H
#define DOORMAT_TESTS_SERVICE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "doormat/escrow.h"
#include "doormat/service.h"
#include "doormat/vault.h"

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
static inline int closed_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* A fresh TLS key and certificate for the name "test", written to path. */
static inline void write_tls_pem(const char *path) {
    char *pem = NULL;
    size_t pem_len = 0;
    char pin[DM_ESCROW_TLS_PIN_LEN + 1];
    assert_int_equal(dm_service_tls_new("test", &pem, &pem_len, pin), DM_OK);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(pem, 1, pem_len, f), pem_len);
    assert_int_equal(fclose(f), 0);
    dm_secret_free(pem);
}

#endif
