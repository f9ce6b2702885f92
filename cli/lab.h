/* doormat lab: what the lab command's files share (cli/lab.c parses the
 * flags and runs the labs of the vault; cli/lab_access.c the labs of the
 * access systems; cli/lab_print.c the numbers in words, the JSON documents of
 * docs/labs.md and the service room's client for the network labs). */
#ifndef DOORMAT_CLI_LAB_H
#define DOORMAT_CLI_LAB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "labs.h"

typedef struct lab_args {
    const char *name;
    const char *dir;
    int json;
    unsigned long users, files, bytes, bits, min, max, digits, devices, requests;
    unsigned long long shamir_tries;
    double budget, population;
    int all, real;
    int quick;               /* no option asked for full-size runs */
    unsigned long port_base; /* insider, volume: services on ports from here (0: free ports) */
    double t_start;
} lab_args;

/* "0.42 s", "3.1 min", "2.5 h", "4.1 days", "3.2 years", in buf. */
const char *lab_human(double s, char *buf, size_t cap);
#define H(s) lab_human((s), (char[32]){0}, 32)
/* A lab's exit code: rc, or the error of writing standard output. */
int lab_finish(int rc);

/* The JSON documents (cli/lab_print.c says how figures are written). */
json_t *lab_fig(double v, int digits);
#define J6(v) lab_fig((v), 6)
#define J17(v) lab_fig((v), 17)
#define JU(v) json_integer((json_int_t)(v))
/* A count, or null when the row has none. */
json_t *lab_ju_or_null(bool have, unsigned long long v);
/* json_pack, noting a document that could not be made. */
json_t *lab_pack(const char *fmt, ...);
/* The lab, the schema, quick and seconds_total: every document's start. */
json_t *lab_json_head(const lab_args *a);
/* Adds the members of more (consumed) to doc, in order. */
void lab_jadd(json_t *doc, json_t *more);
/* Prints doc on one line and releases it: lab_finish's exit code. */
int lab_json_print(json_t *doc, const char *what);

/* The doormat binary and the service room's client, for a network lab. */
int lab_net_for(const lab_args *a, char *self, size_t cap, dm_lab_net *net);

/* The labs of cli/lab_access.c. */
int lab_ghost(lab_args *a);
int lab_clear(lab_args *a);
int lab_subst(lab_args *a);
int lab_retro(lab_args *a);
int lab_volume(lab_args *a);
int lab_insider(lab_args *a);
int lab_unbound(lab_args *a);

#endif
