/* The service room's own pieces: the release request and answer texts
 * (strict, canonical base64), authority.pub's network section (tls:, url:,
 * outside the id) and the TLS pins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doormat/escrow.h"
#include "doormat/service.h"
#include "service_internal.h"
#include "unit_main.h"

static const char recipient[] = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

static void test_request_round_trip(void **state) {
    (void)state;
    const uint8_t header[] = "age-encryption.org/v1\n--- abc\n";
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(
        dm_svc_release_req_format(recipient, "W\n", 2, header, sizeof header - 1, &body, &len),
        DM_OK);
    const char want[] =
        "doormat-escrow-release-request/v1\n"
        "recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"
        "warrant: Vwo=\n"
        "header: YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0tLSBhYmMK\n";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(body, want, len);
    dm_svc_release_req r;
    assert_int_equal(dm_svc_release_req_parse(body, len, &r), DM_OK);
    assert_string_equal(r.recipient, recipient);
    assert_int_equal(r.warrant_len, 2);
    assert_memory_equal(r.warrant, "W\n", 2);
    assert_int_equal(r.header_len, sizeof header - 1);
    assert_memory_equal(r.header, header, r.header_len);
    dm_svc_release_req_clear(&r);
    free(body);
}

static void refused(const char *text, const char *why) {
    dm_svc_release_req r;
    assert_int_equal(dm_svc_release_req_parse(text, strlen(text), &r), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), why));
    assert_null(r.warrant);
    assert_null(r.header);
}

static void test_request_strict(void **state) {
    (void)state;
    refused("", "not a release request");
    refused("doormat-escrow-release-request/v2\n", "not a release request");
    refused("doormat-escrow-release-request/v1\nwarrant: Vwo=\n", "line 2");
    refused("doormat-escrow-release-request/v1\nrecipient: age1x\nwarrant: Vwo\nheader: Vwo=\n",
            "line 3");
    /* "Vwp=" decodes to the same byte as "Vwo=" with other padding bits: not canonical. */
    refused("doormat-escrow-release-request/v1\nrecipient: age1x\nwarrant: Vwp=\nheader: Vwo=\n",
            "line 3");
    refused("doormat-escrow-release-request/v1\nrecipient: age1x\nwarrant: Vwo=\nheader: Vwo=",
            "line 4");
    refused("doormat-escrow-release-request/v1\nrecipient: age1x\nwarrant: Vwo=\nheader: Vwo=\nx\n",
            "unexpected bytes");
    refused("doormat-escrow-release-request/v1\r\nrecipient: age1x\nwarrant: Vwo=\nheader: Vwo=\n",
            "not a release request");
}

static void test_answer(void **state) {
    (void)state;
    char *body = NULL;
    size_t len = 0;
    const uint8_t sealed[] = {0, 1, 2, 3, 255};
    assert_int_equal(dm_svc_release_format("doj", sealed, sizeof sealed, "", 0, &body, &len),
                     DM_OK);
    assert_string_equal(body,
                        "doormat-escrow-release/v1\nagent: doj\nsealed: AAECA/8=\nreceipt: \n");
    dm_svc_release rel;
    assert_int_equal(dm_svc_release_parse(body, len, &rel), DM_OK);
    assert_string_equal(rel.agent, "doj");
    assert_int_equal(rel.sealed_len, sizeof sealed);
    assert_memory_equal(rel.sealed, sealed, sizeof sealed);
    assert_int_equal(rel.receipt_len, 0);
    dm_svc_release_clear(&rel);
    assert_int_equal(dm_svc_release_parse(body, len - 1, &rel), DM_ERR_USAGE);
    free(body);
}

static void test_tls_pin(void **state) {
    (void)state;
    char *pem = NULL;
    size_t len = 0;
    char pin[DM_ESCROW_TLS_PIN_LEN + 1], again[DM_ESCROW_TLS_PIN_LEN + 1];
    assert_int_equal(dm_service_tls_new("doj.test", &pem, &len, pin), DM_OK);
    assert_int_equal(strlen(pin), DM_ESCROW_TLS_PIN_LEN);
    assert_memory_equal(pin, "sha256//", 8);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
    assert_int_equal(dm_service_tls_pin(pem, len, again), DM_OK);
    assert_string_equal(pin, again);
    dm_secret_free(pem);
    assert_int_equal(dm_service_tls_pin("nothing", 7, again), DM_ERR_USAGE);
    char *path = dm_service_tls_path_for("fbi/agents/doj.key");
    assert_string_equal(path, "fbi/agents/doj.tls.pem");
    free(path);
}

static void test_network_section(void **state) {
    (void)state;
    const char *agents[] = {"doj", "court"};
    dm_escrow_authority *auth = NULL;
    dm_escrow_agent_key **keys = NULL;
    dm_escrow_court_key *court = NULL;
    assert_int_equal(dm_escrow_authority_new("FBI", agents, 2, 2, &auth, &keys, &court), DM_OK);
    char id[2 * DM_ESCROW_ID_LEN + 1];
    strcpy(id, dm_escrow_authority_id_hex(auth));
    const char pin[] = "sha256//KK0OcDHbq7y6on0XbwoJ6XgfYNg4HCHLyo9jxKmDOUc=";
    assert_int_equal(dm_escrow_authority_set_endpoint(auth, "doj", pin, "https://127.0.0.1:8441"),
                     DM_OK);
    assert_int_equal(dm_escrow_authority_set_endpoint(auth, "nobody", pin, NULL), DM_ERR_USAGE);
    assert_int_equal(dm_escrow_authority_set_endpoint(auth, "doj", "sha256//short", NULL),
                     DM_ERR_USAGE);
    assert_int_equal(dm_escrow_authority_set_endpoint(auth, "doj", NULL, "http://x:1"),
                     DM_ERR_USAGE);
    assert_int_equal(dm_escrow_authority_set_endpoint(auth, "doj", NULL, "https://a b"),
                     DM_ERR_USAGE);
    assert_string_equal(dm_escrow_authority_id_hex(auth), id); /* not in the id */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(dm_escrow_authority_format(auth, &text, &len), DM_OK);
    assert_non_null(strstr(text, "\ntls: doj sha256//KK0OcDHbq7y6on0XbwoJ6XgfYNg4HCHLyo9jxKmDOUc=\n"
                                 "url: doj https://127.0.0.1:8441\n"));
    dm_escrow_authority *back = NULL;
    size_t line = 0;
    assert_int_equal(dm_escrow_authority_parse(text, len, &back, &line), DM_OK);
    assert_string_equal(dm_escrow_authority_agent_tls_pin(back, 0), pin);
    assert_string_equal(dm_escrow_authority_agent_url(back, 0), "https://127.0.0.1:8441");
    assert_null(dm_escrow_authority_agent_url(back, 1));
    assert_null(dm_escrow_authority_endpoint_pin(back, "court"));
    dm_escrow_authority_free(back);
    /* A second url: line for one name, and a line for no one, are refused by line. */
    char *twice = malloc(len + 64);
    snprintf(twice, len + 64, "%surl: doj https://127.0.0.1:9\n", text);
    assert_int_equal(dm_escrow_authority_parse(twice, strlen(twice), &back, &line), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "second \"url:\""));
    snprintf(twice, len + 64, "%stls: vendor %s\n", text, pin);
    assert_int_equal(dm_escrow_authority_parse(twice, strlen(twice), &back, &line), DM_ERR_USAGE);
    assert_non_null(strstr(dm_err_detail(), "not an agent or a witness"));
    free(twice);
    free(text);
    for (size_t i = 0; i < 2; i++)
        dm_escrow_agent_key_free(keys[i]);
    free(keys);
    dm_escrow_court_key_free(court);
    dm_escrow_authority_free(auth);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_request_round_trip),
    cmocka_unit_test(test_request_strict),
    cmocka_unit_test(test_answer),
    cmocka_unit_test(test_tls_pin),
    cmocka_unit_test(test_network_section),
};

DM_UNIT_MAIN("service_wire", tests, NULL, NULL)
