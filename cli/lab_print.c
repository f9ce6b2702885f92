/* doormat lab: the numbers in words, the JSON documents of docs/labs.md
 * (through jansson), and the service room's client as the network labs take
 * it (dm_lab_net). */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cli_service.h"
#include "lab.h"

/* "0.42 s", "3.1 min", "2.5 h", "4.1 days", "3.2 years". */
const char *lab_human(double s, char *buf, size_t cap) {
    if (s < 1e-3)
        snprintf(buf, cap, "%.1f us", s * 1e6);
    else if (s < 1)
        snprintf(buf, cap, "%.1f ms", s * 1e3);
    else if (s < 120)
        snprintf(buf, cap, "%.2f s", s);
    else if (s < 7200)
        snprintf(buf, cap, "%.1f min", s / 60);
    else if (s < 3 * 86400)
        snprintf(buf, cap, "%.1f h", s / 3600);
    else if (s < 2 * 365.25 * 86400)
        snprintf(buf, cap, "%.1f days", s / 86400);
    else if (s < 1e6 * 365.25 * 86400)
        snprintf(buf, cap, "%.1f years", s / (365.25 * 86400));
    else
        snprintf(buf, cap, "%.2g years", s / (365.25 * 86400));
    return buf;
}

int lab_finish(int rc) {
    if (rc != DM_EXIT_OK) {
        fflush(stdout);
        return rc;
    }
    return cli_flush_stdout("the lab's results");
}

/* ------------------------------------------------------------ JSON */

/* The documents of docs/labs.md, through jansson. A figure is the number
 * "%.<digits>g" names (6 significant digits for times and rates, 17 for
 * counts held in a double): an integer when that text is whole and has no
 * exponent, as the schema has always had it; else that number as a real. A
 * document is written with 15 significant digits (DBL_DIG: any figure of 6
 * digits comes out as those digits), or with 17 when it holds a real of 17
 * (the leaf lab's 2^64 and 2^80), so that a reader gets back exactly the
 * number the text used to name. Not a number is null. */
static bool json_needs_17;
json_t *lab_fig(double v, int digits) {
    if (!isfinite(v))
        return json_null();
    char text[64];
    snprintf(text, sizeof text, "%.*g", digits, v);
    if (strpbrk(text, ".e") == NULL)
        return json_integer(strtoll(text, NULL, 10));
    if (digits > DBL_DIG)
        json_needs_17 = true;
    return json_real(strtod(text, NULL));
}

/* A count, or null when the row has none. */
json_t *lab_ju_or_null(bool have, unsigned long long v) {
    return have ? JU(v) : json_null();
}

/* json_pack, noting a document that could not be made (lab_json_print says so). */
static char json_broken[JSON_ERROR_TEXT_LENGTH];
json_t *lab_pack(const char *fmt, ...) {
    va_list ap;
    json_error_t e;
    va_start(ap, fmt);
    json_t *v = json_vpack_ex(&e, 0, fmt, ap);
    va_end(ap);
    if (!v && !json_broken[0])
        snprintf(json_broken, sizeof json_broken, "%s", e.text[0] ? e.text : "out of memory");
    return v;
}

/* Every document starts with the lab, the schema, quick and seconds_total. */
json_t *lab_json_head(const lab_args *a) {
    return lab_pack("{s:s, s:i, s:b, s:o}", "lab", a->name, "schema", 1, "quick", a->quick != 0,
                    "seconds_total", J6(dm_lab_now() - a->t_start));
}

/* Adds the members of more (a json_pack result, consumed) to doc, in order. */
void lab_jadd(json_t *doc, json_t *more) {
    if (doc && more)
        json_object_update(doc, more);
    json_decref(more);
}

/* Prints doc on one line (compact, keys in the order they were added) and
 * releases it; lab_finish()'s exit code. */
int lab_json_print(json_t *doc, const char *what) {
    char *text =
        doc && !json_broken[0]
            ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(json_needs_17 ? 17 : DBL_DIG))
            : NULL;
    json_decref(doc);
    if (!text)
        return cli_fail(dm_fail(DM_ERR_INTERNAL, "the JSON document: %s",
                                json_broken[0] ? json_broken : "out of memory"),
                        "lab %s", what);
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return lab_finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ the network labs */

/* The service room's client, as the network labs take it (dm_lab_net). */
static int net_request(void *ctx, const dm_escrow_authority *auth, const char *warrant,
                       size_t warrant_len, const uint8_t *hdr, size_t hdr_len, const char *identity,
                       uint8_t *file_key) {
    const cli_service_api *svc = ctx;
    dm_service_answer answers[DM_ESCROW_MAX_AGENTS];
    return svc->request(auth, warrant, warrant_len, hdr, hdr_len, identity, strlen(identity), 10,
                        file_key, answers);
}

static int net_tls_new(void *ctx, const char *name, char **pem, size_t *pem_len,
                       char pin[DM_ESCROW_TLS_PIN_LEN + 1]) {
    const cli_service_api *svc = ctx;
    return svc->tls_new(name, pem, pem_len, pin);
}

/* The doormat binary and the service library, for a network lab. */
int lab_net_for(const lab_args *a, char *self, size_t cap, dm_lab_net *net) {
    int err = dm_lab_self_path(self, cap);
    if (err != DM_OK)
        return err;
    const cli_service_api *svc = cli_service(a->name);
    if (svc == NULL)
        return dm_fail(DM_ERR_IO, "the service library could not be loaded");
    *net = (dm_lab_net){.self = self,
                        .port_base = a->port_base,
                        .request = net_request,
                        .tls_new = net_tls_new,
                        .ctx = (void *)svc};
    return DM_OK;
}
