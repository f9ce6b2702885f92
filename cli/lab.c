/* doormat lab NAME: the classroom labs. The work is in the lab cores
 * (labs/labs.h); this file parses flags, makes the working
 * directory, runs the outside programs the strip lab compares (age, and
 * doormat itself as a separate process), and prints the narration and table,
 * or the JSON of docs/labs.md. */
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_service.h"
#include "labs.h"

static const char lab_usage[] =
    "Usage:\n"
    "  doormat lab list\n"
    "  doormat lab blast-radius [--users U] [--files F] [--bytes B] [common options]\n"
    "  doormat lab leaf-forge [--bits N] [--budget S] [--all] [--shamir-tries T] [common]\n"
    "  doormat lab strip [common options]\n"
    "  doormat lab crumple [--min C] [--max C] [--budget S] [--all] [--population P] [common]\n"
    "  doormat lab passcode [--digits D] [--real] [common options]\n"
    "  doormat lab substitution [--files F] [common options]\n"
    "  doormat lab ghost [--files F] [common options]\n"
    "  doormat lab clear [--devices D] [--digits D] [common options]\n"
    "  doormat lab retroactive [--files F] [--bytes B] [common options]\n"
    "  doormat lab insider [--files F] [--port-base N] [common options]\n"
    "  doormat lab volume [--requests N] [--port-base N] [common options]\n"
    "  doormat lab unbound-id [common options]\n"
    "\n"
    "Classroom labs: how exceptional access fails, measured. Each lab does the real\n"
    "thing with the real vault and escrow code, makes its own keys, authority and\n"
    "files, and prints a short narrated result with a table; with the defaults it\n"
    "finishes in seconds. Figures not run for real are computed from a rate measured\n"
    "in the same run and are labelled \"extrapolated\". docs/labs.md explains each lab\n"
    "for a teacher, and the JSON.\n"
    "\n"
    "Labs:\n"
    "  blast-radius  steal one user's key, the escrow master key, one or two agents\n"
    "                of 2-of-3: how many files of a population each set really opens\n"
    "  leaf-forge    Clipper mode (--leaf-bits): forge an escrow field that passes the\n"
    "                compliant check yet gives the authority garbage (Blaze, 1994)\n"
    "  strip         a rogue sender removes or corrupts the escrow: age still decrypts,\n"
    "                doormat decrypt --require-escrow refuses (exit 7)\n"
    "  crumple       crumple zones (--crumple-bits): what one recovery costs, and a\n"
    "                whole population (Wright and Varia, 2018)\n"
    "  passcode      a PIN entangled with a device key through scrypt at ~80 ms a try,\n"
    "                with and without the erase-after-10 limit (San Bernardino, 2016)\n"
    "  substitution  a sender's authority.pub swapped for the attacker's (same name,\n"
    "                agents, threshold): files opened without a warrant, who notices,\n"
    "                pinning the authority's id (PGP's ADK flaw, 2000)\n"
    "  ghost         a client silently adds one more recipient to every file: what the\n"
    "                ghost opens, what the receiver and doormat inspect see (GCHQ, 2018)\n"
    "  clear         devices whose passcodes are encrypted to one vendor key: time to\n"
    "                open one and all, against brute force (Ozzie's CLEAR, 2018)\n"
    "  retroactive   an archive written before a mandate gets escrow added with rekey:\n"
    "                files per second, header bytes rewritten against the archive\n"
    "  insider       agents log every release; an insider uses key files directly or\n"
    "                goes through the procedure, for 1-of-1 and 2 of 3: what the\n"
    "                owner's monitor sees\n"
    "  volume        an agent's HTTPS service on loopback, timed: its release rate\n"
    "                against the FBI's 7,800 claimed and 1,200-2,000 actual devices\n"
    "  unbound-id    a requester rebuilds an escrowed file's header (a new header id)\n"
    "                and gets a warrant for it: with the old binding the shares open\n"
    "                the file and the owner's monitor sees nothing; with the stanzas\n"
    "                binding the file key's id the agents refuse, or log the real file\n"
    "\n"
    "Common options:\n"
    "  --dir DIR         keep the lab's keys and files in DIR (a new or empty directory)\n"
    "                    instead of a temporary directory removed at the end\n"
    "  --json            print the figures as one JSON object (docs/labs.md), no narration\n"
    "  -h, --help        this text\n"
    "\n"
    "Lab options:\n"
    "  --users U, --files F, --bytes B\n"
    "                    blast-radius population: U users (8) with F files (4) of B bytes\n"
    "                    (1024) each\n"
    "  --files F         substitution, ghost: messages sent (8); insider: files per row\n"
    "                    (4, at most 64); retroactive: files in\n"
    "                    the archive (32)\n"
    "  --bytes B         retroactive: bytes of each archived file (65536, up to 64 MiB)\n"
    "  --devices D       clear: devices in the population (100)\n"
    "  --requests N      volume: release requests timed (20)\n"
    "  --port-base N     insider, volume: the services listen on 127.0.0.1 ports N,\n"
    "                    N+1, ... (default: free ports the system picks)\n"
    "  --bits N          leaf-forge: the checksum size of the demonstrated forgery (16)\n"
    "  --budget S        leaf-forge, crumple: run a row for real when it should take at\n"
    "                    most S seconds (2 and 3); others are extrapolated\n"
    "  --all             leaf-forge, crumple: run every row for real (N = 24 and C = 24\n"
    "                    take a minute or more)\n"
    "  --shamir-tries T  leaf-forge: random fields tried against the default escrow\n"
    "                    (4096; 65536 with --all)\n"
    "  --min C, --max C  crumple: the range of puzzle bits (12 to 24)\n"
    "  --population P    crumple: files in the population priced (1000000)\n"
    "  --digits D        passcode: length of the PIN cracked live (4); clear: of the\n"
    "                    devices' PINs (4)\n"
    "  --real            passcode: crack with the calibrated ~80 ms setting, not the fast\n"
    "                    one (a 4-digit PIN then takes up to about 13 minutes)\n"
    "\n"
    "Examples:\n"
    "  doormat lab leaf-forge\n"
    "  doormat lab crumple --json > crumple.json\n"
    "  doormat lab strip --dir strip-lab && ls strip-lab\n";

enum {
    OPT_DIR = 256,
    OPT_JSON,
    OPT_USERS,
    OPT_FILES,
    OPT_BYTES,
    OPT_BITS,
    OPT_BUDGET,
    OPT_ALL,
    OPT_SHAMIR_TRIES,
    OPT_MIN,
    OPT_MAX,
    OPT_POPULATION,
    OPT_DIGITS,
    OPT_REAL,
    OPT_DEVICES,
    OPT_REQUESTS,
    OPT_PORT_BASE,
};

static const struct option lab_longopts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"json", no_argument, NULL, OPT_JSON},
    {"users", required_argument, NULL, OPT_USERS},
    {"files", required_argument, NULL, OPT_FILES},
    {"bytes", required_argument, NULL, OPT_BYTES},
    {"bits", required_argument, NULL, OPT_BITS},
    {"budget", required_argument, NULL, OPT_BUDGET},
    {"all", no_argument, NULL, OPT_ALL},
    {"shamir-tries", required_argument, NULL, OPT_SHAMIR_TRIES},
    {"min", required_argument, NULL, OPT_MIN},
    {"max", required_argument, NULL, OPT_MAX},
    {"population", required_argument, NULL, OPT_POPULATION},
    {"digits", required_argument, NULL, OPT_DIGITS},
    {"real", no_argument, NULL, OPT_REAL},
    {"devices", required_argument, NULL, OPT_DEVICES},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"port-base", required_argument, NULL, OPT_PORT_BASE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

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

/* ------------------------------------------------------------ helpers */

/* DM_EXIT_OK, or the usage error's exit code. */
static int parse_ulong(const char *name, const char *arg, unsigned long lo, unsigned long hi,
                       unsigned long *out) {
    if (cli_parse_ulong(arg, lo, hi, out) != DM_OK)
        return cli_usage_error("lab %s: wants a number from %lu to %lu, not \"%s\"", name, lo, hi,
                               arg);
    return DM_EXIT_OK;
}

static int parse_double(const char *name, const char *arg, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || !(v >= lo) || !(v <= hi))
        return cli_usage_error("lab %s: wants a number from %g to %g, not \"%s\"", name, lo, hi,
                               arg);
    *out = v;
    return DM_EXIT_OK;
}

/* "0.42 s", "3.1 min", "2.5 h", "4.1 days", "3.2 years". */
static const char *human(double s, char *buf, size_t cap) {
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
#define H(s) human((s), (char[32]){0}, 32)

static int finish(int rc) {
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
static json_t *jfig(double v, int digits) {
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
#define J6(v) jfig((v), 6)
#define J17(v) jfig((v), 17)
#define JU(v) json_integer((json_int_t)(v))

/* A count, or null when the row has none. */
static json_t *ju_or_null(bool have, unsigned long long v) {
    return have ? JU(v) : json_null();
}

/* json_pack, noting a document that could not be made (json_print says so). */
static char json_broken[JSON_ERROR_TEXT_LENGTH];
static json_t *jpack(const char *fmt, ...) {
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
static json_t *json_head(const lab_args *a) {
    return jpack("{s:s, s:i, s:b, s:o}", "lab", a->name, "schema", 1, "quick", a->quick != 0,
                 "seconds_total", J6(dm_lab_now() - a->t_start));
}

/* Adds the members of more (a json_pack result, consumed) to doc, in order. */
static void jadd(json_t *doc, json_t *more) {
    if (doc && more)
        json_object_update(doc, more);
    json_decref(more);
}

/* Prints doc on one line (compact, keys in the order they were added) and
 * releases it; finish()'s exit code. */
static int json_print(json_t *doc, const char *what) {
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
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ blast-radius */

static int lab_blast(lab_args *a) {
    dm_lab_blast_opts o = {.users = (unsigned)a->users,
                           .files_per_user = (unsigned)a->files,
                           .file_bytes = a->bytes,
                           .dir = a->dir};
    dm_lab_blast_result r;
    int err = dm_lab_blast(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab blast-radius");
    if (a->json) {
        json_t *doc = json_head(a), *pops = json_array(), *enc = json_object(),
               *rows = json_array();
        for (int p = 0; p < DM_LAB_N_POPS; p++) {
            json_array_append_new(pops, jpack("{s:s, s:o}", "name", dm_lab_pop_names[p], "files",
                                              JU(r.pop_files[p])));
            json_object_set_new(enc, dm_lab_pop_names[p], J6(r.encrypt_seconds[p]));
        }
        for (int s = 0; s < DM_LAB_N_STOLEN; s++) {
            const dm_lab_blast_row *w = &r.rows[s];
            json_t *by = json_object();
            for (int p = 0; p < DM_LAB_N_POPS; p++)
                json_object_set_new(by, dm_lab_pop_names[p], JU(w->by_pop[p]));
            json_array_append_new(
                rows, jpack("{s:s, s:s, s:o, s:o, s:o, s:o, s:b}", "stolen", dm_lab_stolen_names[s],
                            "label", dm_lab_stolen_labels[s], "files_exposed", JU(w->exposed),
                            "share", J6((double)w->exposed / (double)r.total_files), "seconds",
                            J6(w->seconds), "by_population", by, "measured", 1));
        }
        jadd(doc,
             jpack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "users", JU(o.users), "files_per_user",
                   JU(o.files_per_user), "file_bytes", JU(o.file_bytes), "populations", pops,
                   "population_files", JU(r.total_files), "encrypt_seconds", enc, "rows", rows));
        return json_print(doc, a->name);
    }
    printf("Blast radius: what one stolen key set opens\n\n"
           "A population of %u users with %u files each (%zu random bytes per file) is\n"
           "encrypted three times: in the plain vault (each file to its owner), with escrow\n"
           "to a single master key (1-of-1), and with escrow to three agencies, any two of\n"
           "which can recover a file (2-of-3): %zu files in all. A thief then really tries\n"
           "every file with each stolen key set; a file counts as exposed only if it\n"
           "decrypted and matched its plaintext.\n\n",
           o.users, o.files_per_user, o.file_bytes, r.total_files);
    printf("%-30s %7s %12s %12s %11s %7s %10s\n", "stolen keys", "vault", "escrow-1of1",
           "escrow-2of3", "exposed", "share", "time");
    for (int s = 0; s < DM_LAB_N_STOLEN; s++) {
        const dm_lab_blast_row *w = &r.rows[s];
        char frac[32];
        snprintf(frac, sizeof frac, "%zu/%zu", w->exposed, r.total_files);
        printf("%-30s %7zu %12zu %12zu %11s %6.1f%% %10s\n", dm_lab_stolen_labels[s], w->by_pop[0],
               w->by_pop[1], w->by_pop[2], frac, 100.0 * (double)w->exposed / (double)r.total_files,
               H(w->seconds));
    }
    printf("\nOne user's key opens that user's files, nothing more. The master key opens\n"
           "every escrowed file of every user, with no warrant and no trace in any audit\n"
           "log; two agents' keys do the same for the 2-of-3 escrow. Splitting the key\n"
           "(one agent opens nothing) helps only until enough of the few key holders are\n"
           "breached -- \"Keys Under Doormats\" (Abelson et al., 2015): escrow concentrates\n"
           "the risk of a whole population in a few keys.\n");
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ leaf-forge */

/* The forged file through the real command, as separate processes: Bob's
 * compliant client releases it, the authority's recovery fails its MAC. */
static int leaf_real_command(const lab_args *a, unsigned bits, int *decrypt_exit,
                             int *recover_exit) {
    char self[4096];
    int err = dm_lab_self_path(self, sizeof self);
    if (err != DM_OK)
        return cli_fail(err, "lab leaf-forge");
    dm_lab_cmd_leaf(self, a->dir, bits, decrypt_exit, recover_exit);
    if (*decrypt_exit != 0 || *recover_exit != DM_EXIT_HMAC)
        return cli_fail(dm_fail(DM_ERR_INTERNAL,
                                "the forged file through the command: decrypt exits %d (want 0), "
                                "escrow recover exits %d (want %d)",
                                *decrypt_exit, *recover_exit, DM_EXIT_HMAC),
                        "lab leaf-forge");
    return DM_EXIT_OK;
}

static int lab_leaf(lab_args *a) {
    dm_lab_leaf_opts o = {.forge_bits = (unsigned)a->bits,
                          .budget = a->budget,
                          .all = a->all,
                          .shamir_tries = a->shamir_tries,
                          .dir = a->dir};
    dm_lab_leaf_result r;
    int err = dm_lab_leaf(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab leaf-forge");
    int decrypt_exit, recover_exit;
    int rc = leaf_real_command(a, r.forge_bits, &decrypt_exit, &recover_exit);
    if (rc != DM_EXIT_OK)
        return rc;
    char akey[33], fkey[33];
    dm_hex(r.authority_key, DM_FILE_KEY_LEN, akey);
    dm_hex(r.file_key, DM_FILE_KEY_LEN, fkey);
    if (a->json) {
        json_t *doc = json_head(a), *rows = json_array(), *beyond = json_array();
        for (int i = 0; i < DM_LAB_LEAF_ROWS; i++) {
            const dm_lab_leaf_row *w = &r.rows[i];
            json_array_append_new(
                rows, jpack("{s:o, s:b, s:o, s:o, s:o}", "bits", JU(w->bits), "measured",
                            w->measured, "tries", ju_or_null(w->measured, w->tries), "seconds",
                            J6(w->seconds), "expected_tries", J17(w->expected_tries)));
        }
        for (int i = 0; i < DM_LAB_LEAF_BEYOND; i++)
            json_array_append_new(beyond,
                                  jpack("{s:o, s:o, s:o, s:b}", "bits", JU(r.beyond[i].bits),
                                        "expected_tries", J17(r.beyond[i].expected_tries),
                                        "seconds", J6(r.beyond[i].seconds), "measured", 0));
        jadd(doc, jpack("{s:o, s:o, s:o, s:o, s:o}", "budget_seconds", J6(o.budget),
                        "seconds_per_try", J6(r.seconds_per_try), "rate_tries", JU(r.rate_tries),
                        "rows", rows, "beyond", beyond));
        jadd(doc, jpack("{s:{s:o, s:o, s:o, s:b, s:i, s:s, s:s}, s:{s:o, s:o, s:o, s:i}}",
                        "forgery", "bits", JU(r.forge_bits), "tries", JU(r.forge_tries), "seconds",
                        J6(r.forge_seconds), "passes_require_escrow",
                        r.forged_passes_check && decrypt_exit == 0, "recovery_exit", recover_exit,
                        "authority_key_hex", akey, "file_key_hex", fkey, "shamir", "tries",
                        JU(r.shamir_tries), "passed", JU(r.shamir_passed), "seconds",
                        J6(r.shamir_seconds), "forgery_chance_log2", -128));
        return json_print(doc, a->name);
    }
    printf("Clipper mode and the LEAF forgery\n\n"
           "History (Matt Blaze, \"Protocol Failure in the Escrowed Encryption Standard\",\n"
           "1994): the Clipper chip sent a Law Enforcement Access Field with every\n"
           "conversation, and the receiving chip refused to talk unless the LEAF's\n"
           "checksum was right. The checksum had 16 bits, so a rogue sender could feed\n"
           "random LEAFs to the chip until one passed -- about 2^16 tries, under an hour\n"
           "on the hardware of the time -- and then talk under a LEAF that gave the\n"
           "government nothing.\n\n"
           "doormat's Clipper mode (encrypt --escrow ... --leaf-bits N) does what the chip\n"
           "did: the escrow stanza holds randomly wrapped key material plus an N-bit\n"
           "checksum bound to the file key, and the compliant client checks only the\n"
           "checksum. The forger below replaces the stanza with one that wraps a random\n"
           "decoy key and tries random checksums, asking the compliance check each time.\n\n");
    printf("%6s %16s %14s %12s   %s\n", "bits", "expected tries", "tries", "time", "");
    for (int i = 0; i < DM_LAB_LEAF_ROWS; i++) {
        const dm_lab_leaf_row *w = &r.rows[i];
        char tries[32];
        if (w->measured)
            snprintf(tries, sizeof tries, "%llu", (unsigned long long)w->tries);
        else
            snprintf(tries, sizeof tries, "-");
        printf("%6u %16.0f %14s %12s   %s\n", w->bits, w->expected_tries, tries, H(w->seconds),
               w->measured ? "measured" : "extrapolated");
    }
    for (int i = 0; i < DM_LAB_LEAF_BEYOND; i++)
        printf("%6u %16.4g %14s %12s   extrapolated\n", r.beyond[i].bits,
               r.beyond[i].expected_tries, "-", H(r.beyond[i].seconds));
    printf("\nMeasured: %.2f us per try on this machine (over %llu checks); extrapolated\n"
           "rows are expected tries (2^N) times that rate.\n\n",
           r.seconds_per_try * 1e6, (unsigned long long)r.rate_tries);
    printf("The forgery at %u bits took %llu tries (%s). The forged file:\n"
           "  passes the compliant client: doormat decrypt --require-escrow --leaf-bits %u\n"
           "  (run as a separate process) exits %d: the message is released\n"
           "  the authority, with a valid warrant, recovers the key  %s\n"
           "  the file's real key is                                 %s\n"
           "  so recovery fails: doormat escrow recover exits %d (header MAC mismatch)\n\n",
           r.forge_bits, (unsigned long long)r.forge_tries, H(r.forge_seconds), r.forge_bits,
           decrypt_exit, akey, fkey, recover_exit);
    printf("The default escrow, attacked the same way: %llu random fields, %llu passed (%s).\n"
           "Its check rebuilds every stanza from the file key and compares all of it, byte\n"
           "for byte, so a random field passes with a chance of about 2^-128 (the\n"
           "16-byte authentication tag alone) -- not 2^-%u.\n",
           (unsigned long long)r.shamir_tries, (unsigned long long)r.shamir_passed,
           H(r.shamir_seconds), r.forge_bits);
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ strip */

static int lab_strip(lab_args *a) {
    dm_lab_strip_result r;
    int err = dm_lab_strip(a->dir, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab strip");
    const bool have_age = dm_lab_age_available();
    char self[4096];
    if ((err = dm_lab_self_path(self, sizeof self)) != DM_OK)
        return cli_fail(err, "lab strip");
    char key[4096], auth[4096], msg[4096], out[4096];
    snprintf(key, sizeof key, "%s/user.key", a->dir);
    snprintf(auth, sizeof auth, "%s/authority/authority.pub", a->dir);
    snprintf(msg, sizeof msg, "%s/message.txt", a->dir);
    snprintf(out, sizeof out, "%s/age-output.txt", a->dir);
    int age_exit[DM_LAB_STRIP_N], doormat_exit[DM_LAB_STRIP_N];
    bool age_same[DM_LAB_STRIP_N];
    for (int t = 0; t < DM_LAB_STRIP_N; t++) {
        age_exit[t] = -1;
        age_same[t] = false;
        if (have_age)
            age_exit[t] = dm_lab_age_decrypt(key, r.paths[t], msg, out, &age_same[t]);
        doormat_exit[t] = dm_lab_cmd_decrypt(self, key, auth, 0, r.paths[t], NULL, NULL);
    }
    /* The claims, checked against the real processes. */
    if (doormat_exit[0] != 0 || doormat_exit[1] != DM_EXIT_POLICY ||
        doormat_exit[2] != DM_EXIT_POLICY ||
        (have_age && !(age_same[0] && age_same[1] && age_same[2])))
        return cli_fail(dm_fail(DM_ERR_INTERNAL,
                                "unexpected outcome: doormat exits %d/%d/%d, age %d/%d/%d",
                                doormat_exit[0], doormat_exit[1], doormat_exit[2], age_exit[0],
                                age_exit[1], age_exit[2]),
                        "lab strip");
    if (a->json) {
        json_t *doc = json_head(a), *rows = json_array();
        for (int t = 0; t < DM_LAB_STRIP_N; t++)
            json_array_append_new(
                rows,
                jpack("{s:s, s:o, s:o, s:i, s:s}", "file", dm_lab_strip_names[t], "age_exit",
                      have_age ? json_integer(age_exit[t]) : json_null(), "age_plaintext_matches",
                      have_age ? json_boolean(age_same[t]) : json_null(), "require_escrow_exit",
                      doormat_exit[t], "recovery", r.recovery[t]));
        jadd(doc, jpack("{s:b, s:o}", "age_available", have_age, "rows", rows));
        return json_print(doc, a->name);
    }
    printf("Stripping the escrow\n\n"
           "Alice encrypts a message to Bob with escrow to the FBI (original.age). She\n"
           "holds the file key, so she can rewrite the header as she likes and recompute\n"
           "its MAC: stripped.age has no escrow stanza left, corrupted.age has escrow\n"
           "stanzas full of random bytes (doormat escrow tamper --strip / --corrupt).\n\n");
    printf("%-12s %-22s %-30s %s\n", "file", "age -d (plain age)",
           "doormat decrypt --require-escrow", "the FBI, with a warrant");
    for (int t = 0; t < DM_LAB_STRIP_N; t++) {
        char agecol[40];
        if (have_age)
            snprintf(agecol, sizeof agecol, "exit %d, %s", age_exit[t],
                     age_same[t] ? "message out" : "no message");
        else
            snprintf(agecol, sizeof agecol, "(age not installed)");
        char dcol[40];
        snprintf(dcol, sizeof dcol, "exit %d, %s", doormat_exit[t],
                 doormat_exit[t] == 0 ? "message out" : "refused");
        const char *rec = strcmp(r.recovery[t], "ok") == 0           ? "recovers the message"
                          : strcmp(r.recovery[t], "no-stanza") == 0  ? "nothing to unwrap"
                          : strcmp(r.recovery[t], "unopenable") == 0 ? "stanza does not open"
                                                                     : r.recovery[t];
        printf("%-12s %-22s %-30s %s\n", dm_lab_strip_names[t], agecol, dcol, rec);
    }
    if (!have_age)
        printf("\n(/usr/bin/age is not installed, so the comparison with plain age was skipped;\n"
               "doormat's own vault, without the escrow check, decrypted all three files.)\n");
    printf("\nThe vault is still perfectly sound: plain age reads the stripped and corrupted\n"
           "files without a word, because a stanza it does not know is none of its\n"
           "business, and the header MAC is valid. Only a client that insists on escrow\n"
           "notices (exit 7) -- and only if both ends run it. Escrow binds cooperating\n"
           "software; anyone with something to hide uses the plain vault, or age.\n");
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ crumple */

static int lab_crumple(lab_args *a) {
    dm_lab_crumple_opts o = {.min_bits = (unsigned)a->min,
                             .max_bits = (unsigned)a->max,
                             .budget = a->budget,
                             .all = a->all,
                             .population = a->population,
                             .dir = a->dir};
    dm_lab_crumple_result r;
    int err = dm_lab_crumple(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab crumple");
    if (a->json) {
        json_t *doc = json_head(a), *rows = json_array();
        for (size_t i = 0; i < r.n_rows; i++) {
            const dm_lab_crumple_row *w = &r.rows[i];
            json_array_append_new(
                rows, jpack("{s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "bits", JU(w->bits),
                            "measured", w->measured, "tries", ju_or_null(w->measured, w->tries),
                            "seconds", w->measured ? J6(w->seconds) : json_null(), "found",
                            w->measured ? json_boolean(w->found) : json_null(), "expected_seconds",
                            J6(w->expected_seconds), "worst_seconds", J6(w->worst_seconds),
                            "population_seconds", J6(w->population_seconds)));
        }
        jadd(doc, jpack("{s:o, s:o, s:o, s:o, s:o, s:o}", "budget_seconds", J6(o.budget),
                        "population_files", J17(o.population), "encrypt_seconds",
                        J6(r.encrypt_seconds), "check_seconds", J6(r.check_seconds),
                        "seconds_per_try", J6(r.seconds_per_try), "rows", rows));
        return json_print(doc, a->name);
    }
    printf("Crumple zones: exceptional access that cannot scale\n\n"
           "Wright and Varia (\"Crypto Crumple Zones\", 2018) proposed making each\n"
           "exceptional access cost real computation: affordable for one warrant, ruinous\n"
           "for mass surveillance. doormat's crumple mode (--crumple-bits C) gives the\n"
           "agents the file key locked under a key with C bits withheld; the sender derives\n"
           "the puzzle from the file key, so encrypting stays fast and the compliant client\n"
           "still checks the escrow byte for byte. The authority below really recovers a\n"
           "file's key from its share by searching the puzzle.\n\n");
    printf("%5s %10s %12s %14s %14s %20s\n", "C", "tries", "time", "average", "worst",
           "population average");
    for (size_t i = 0; i < r.n_rows; i++) {
        const dm_lab_crumple_row *w = &r.rows[i];
        char tries[32], t[32];
        if (w->measured) {
            snprintf(tries, sizeof tries, "%llu", (unsigned long long)w->tries);
            human(w->seconds, t, sizeof t);
        } else {
            snprintf(tries, sizeof tries, "-");
            snprintf(t, sizeof t, "extrapolated");
        }
        printf("%5u %10s %12s %14s %14s %20s\n", w->bits, tries, t, H(w->expected_seconds),
               H(w->worst_seconds), H(w->population_seconds));
    }
    printf("\nMeasured: %.2f us per candidate on this machine (one core). \"average\" and\n"
           "\"worst\" are 2^(C-1) and 2^C candidates at that rate, and the population column\n"
           "is %.0f files at the average: all extrapolated from the measured rate.\n"
           "The sender's cost of one crumple escrow: %s; the compliant check: %s.\n\n",
           r.seconds_per_try * 1e6, o.population, H(r.encrypt_seconds), H(r.check_seconds));
    printf("Every bit doubles the cost of each recovery and leaves the sender's cost alone.\n"
           "Ask the class which C would make one warrant affordable and a million files not\n"
           "-- and whether an agency with a data centre, or tomorrow's hardware, agrees.\n");
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ passcode */

static int lab_passcode(lab_args *a) {
    dm_lab_passcode_opts o = {.digits = (unsigned)a->digits, .real = a->real, .dir = a->dir};
    dm_lab_passcode_result r;
    int err = dm_lab_passcode(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab passcode");
    if (a->json) {
        const char *kdf = r.crack_real ? "calibrated" : "fast";
        json_t *doc = json_head(a), *rows = json_array();
        jadd(doc, jpack("{s:{s:i, s:o, s:o, s:o, s:o}, s:{s:i, s:o, s:o, s:o}}", "calibrated",
                        "log_n", r.calibrated.log_n, "r", JU(r.calibrated.r), "p",
                        JU(r.calibrated.p), "target_ms", J6(r.target_ms), "ms_per_try",
                        J6(r.calibrated.ms_per_try), "fast", "log_n", r.fast.log_n, "r",
                        JU(r.fast.r), "p", JU(r.fast.p), "ms_per_try", J6(r.fast.ms_per_try)));
        jadd(doc, jpack("{s:{s:s, s:o, s:o, s:o, s:b}, s:{s:s, s:o, s:o, s:b, s:b, s:b}}", "crack",
                        "kdf", kdf, "digits", JU(r.digits), "tries", JU(r.crack_tries), "seconds",
                        J6(r.crack_seconds), "found", r.crack_found, "retry_limit", "kdf", kdf,
                        "limit", JU(r.limit), "tries", JU(r.limited_tries), "erased", r.erased,
                        "found", r.limited_found, "correct_pin_after_erase_fails",
                        r.correct_pin_after_erase_fails));
        for (int i = 0; i < DM_LAB_PASSCODE_ROWS; i++)
            json_array_append_new(rows, jpack("{s:s, s:o, s:b, s:o, s:o}", "space",
                                              dm_lab_passcode_spaces[i], "candidates",
                                              J17(dm_lab_passcode_candidates[i]), "measured", 0,
                                              "seconds_average", J6(r.rows_worst[i] / 2),
                                              "seconds_worst", J6(r.rows_worst[i])));
        json_object_set_new(doc, "rows", rows);
        return json_print(doc, a->name);
    }
    printf("The San Bernardino passcode\n\n"
           "History: Apple's iOS security guide says the passcode is entangled with a key\n"
           "fused into the device, each attempt costs about 80 ms by design, and the device\n"
           "can erase itself after 10 failed attempts. In 2016 the FBI asked Apple for\n"
           "software that removed the erasure and the delays and let passcodes be entered\n"
           "electronically.\n\n"
           "Our device: a %u-digit PIN, entangled with a 32-byte device secret through\n"
           "scrypt, unlocks a vault identity that decrypts the file on the device.\n\n",
           r.digits);
    printf("Calibrated on this machine: scrypt N=2^%d, r=%u, p=%u costs %.1f ms of CPU\n"
           "time a try (measured; target %.0f ms). Fast classroom setting: N=2^%d, r=%u:\n"
           "%.3f ms a try.\n\n",
           r.calibrated.log_n, r.calibrated.r, r.calibrated.p, r.calibrated.ms_per_try, r.target_ms,
           r.fast.log_n, r.fast.r, r.fast.ms_per_try);
    printf("With the retry limit (%s setting): %llu wrong PINs, then the device %s.\n%s",
           r.crack_real ? "calibrated" : "fast", (unsigned long long)r.limited_tries,
           r.erased ? "erased its key" : "opened (the PIN was among the first tries)",
           r.correct_pin_after_erase_fails
               ? "Even the right PIN fails now: the file is gone for everyone.\n"
               : "");
    printf("Without it (the software the FBI asked for, %s setting): PIN %s found after\n"
           "%llu tries in %s, and the file decrypted.\n\n",
           r.crack_real ? "calibrated" : "fast", r.pin, (unsigned long long)r.crack_tries,
           H(r.crack_seconds));
    printf("%-32s %14s %14s %14s   %s\n", "passcode space", "candidates", "average", "worst",
           "with the 10-try limit");
    for (int i = 0; i < DM_LAB_PASSCODE_ROWS; i++)
        printf("%-32s %14.0f %14s %14s   %.2g%% chance, then erased\n", dm_lab_passcode_spaces[i],
               dm_lab_passcode_candidates[i], H(r.rows_worst[i] / 2), H(r.rows_worst[i]),
               100.0 * 10 / dm_lab_passcode_candidates[i]);
    printf("\nThe times are extrapolated from the measured %.1f ms try, one try at a time,\n"
           "as on the device (the secret cannot leave it). The retry limit, not the\n"
           "passcode, is what protected the phone: removing it turns a 4-digit PIN into\n"
           "minutes of work.\n",
           r.calibrated.ms_per_try);
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ ghost */

static int lab_ghost(lab_args *a) {
    dm_lab_ghost_opts o = {.files = (unsigned)a->files, .dir = a->dir};
    dm_lab_ghost_result r;
    int err = dm_lab_ghost(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab ghost");
    const bool have_age = dm_lab_age_available();
    char self[4096], key[4096], msg[4096], out[4096];
    if ((err = dm_lab_self_path(self, sizeof self)) != DM_OK)
        return cli_fail(err, "lab ghost");
    snprintf(key, sizeof key, "%s/receiver.key", a->dir);
    snprintf(msg, sizeof msg, "%s/message-0001.txt", a->dir);
    snprintf(out, sizeof out, "%s/outside-check.txt", a->dir);
    /* What the receiver's tools say about the first file of each kind, as
     * separate processes: plain age, doormat decrypt, doormat inspect. */
    int age_exit[DM_LAB_GHOST_N], dec_exit[DM_LAB_GHOST_N];
    long inspected[DM_LAB_GHOST_N];
    bool age_same[DM_LAB_GHOST_N];
    for (int p = 0; p < DM_LAB_GHOST_N; p++) {
        age_exit[p] = -1;
        age_same[p] = false;
        if (have_age)
            age_exit[p] = dm_lab_age_decrypt(key, r.sample[p], msg, out, &age_same[p]);
        dec_exit[p] = dm_lab_cmd_decrypt(self, key, NULL, 0, r.sample[p], msg, out);
        inspected[p] = dm_lab_cmd_inspect_x25519(self, r.sample[p], out);
    }
    for (int p = 0; p < DM_LAB_GHOST_N; p++)
        if (dec_exit[p] != 0 || (have_age && !age_same[p]) ||
            inspected[p] != (long)r.rows[p].stanzas)
            return cli_fail(dm_fail(DM_ERR_INTERNAL,
                                    "unexpected outcome on the %s file: decrypt exit %d, age "
                                    "exit %d, inspect counts %ld stanzas",
                                    dm_lab_ghost_names[p], dec_exit[p], age_exit[p], inspected[p]),
                            "lab ghost");
    if (a->json) {
        json_t *doc = json_head(a), *rows = json_array();
        for (int p = 0; p < DM_LAB_GHOST_N; p++) {
            const dm_lab_ghost_row *w = &r.rows[p];
            json_t *row =
                jpack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:i}", "client",
                      dm_lab_ghost_names[p], "files", JU(w->files), "addressed", JU(w->addressed),
                      "stanzas", JU(w->stanzas), "receiver_opened", JU(w->receiver_opened),
                      "ghost_opened", JU(w->ghost_opened), "counted_flags", JU(w->counted_flags),
                      "encrypt_seconds", J6(w->encrypt_seconds), "inspect_stanzas",
                      (json_int_t)inspected[p], "decrypt_exit", dec_exit[p]);
            jadd(row,
                 jpack("{s:o, s:o}", "age_exit", have_age ? json_integer(age_exit[p]) : json_null(),
                       "age_plaintext_matches",
                       have_age ? json_boolean(age_same[p]) : json_null()));
            json_array_append_new(rows, row);
        }
        jadd(doc, jpack("{s:o, s:b, s:b, s:o}", "files", JU(o.files), "age_available", have_age,
                        "ghost_stanza_same_shape", r.ghost_stanza_same_shape, "rows", rows));
        return json_print(doc, a->name);
    }
    printf("The ghost user\n\n"
           "History: Ian Levy and Crispin Robinson of GCHQ (\"Principles for a More Informed\n"
           "Exceptional Access Debate\", Lawfare, November 2018) proposed that a provider\n"
           "silently add a law-enforcement participant to a conversation. The open letter\n"
           "in reply (47 signatories, 30 May 2019) said this requires suppressing\n"
           "notifications and undermines authentication.\n\n"
           "Here a sender writes %u messages to a receiver (and to herself) three ways:\n"
           "an honest client; an honest sender who adds a blind copy on purpose; and a\n"
           "client that silently adds one more X25519 recipient, the ghost, to every file.\n\n",
           o.files);
    printf("%-9s %9s %8s %11s %10s %13s %14s\n", "client", "addressed", "stanzas", "receiver",
           "ghost", "plain age", "count flags");
    for (int p = 0; p < DM_LAB_GHOST_N; p++) {
        const dm_lab_ghost_row *w = &r.rows[p];
        char rcv[32], gh[32], agecol[32], fl[32];
        snprintf(rcv, sizeof rcv, "%zu/%zu", w->receiver_opened, w->files);
        snprintf(gh, sizeof gh, "%zu/%zu", w->ghost_opened, w->files);
        snprintf(fl, sizeof fl, "%zu/%zu", w->counted_flags, w->files);
        if (have_age)
            snprintf(agecol, sizeof agecol, "exit %d%s", age_exit[p], age_same[p] ? ", opens" : "");
        else
            snprintf(agecol, sizeof agecol, "(no age)");
        printf("%-9s %9zu %8zu %11s %10s %13s %14s\n", dm_lab_ghost_names[p], w->addressed,
               w->stanzas, rcv, gh, agecol, fl);
    }
    printf("\n\"receiver\" and \"ghost\": files each really decrypted. The receiver's doormat\n"
           "decrypt and plain age open every file without a word. Each stanza is an\n"
           "ephemeral key and a wrapped file key that name nobody (a privacy feature of\n"
           "age): the ghost's stanza has %s shape as the receiver's. Only counting the\n"
           "stanzas (doormat inspect: %ld, %ld, %ld) against the people the sender meant\n"
           "to address shows that someone was added -- \"count flags\" -- and counting\n"
           "cannot tell a ghost from a blind copy the sender chose. Somebody has to count,\n"
           "and know what to expect: the ghost works because nobody does.\n",
           r.ghost_stanza_same_shape ? "the same" : "a different", inspected[0], inspected[1],
           inspected[2]);
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ clear */

static int lab_clear(lab_args *a) {
    dm_lab_clear_opts o = {
        .devices = (unsigned)a->devices, .digits = (unsigned)a->digits, .dir = a->dir};
    dm_lab_clear_result r;
    int err = dm_lab_clear(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab clear");
    if (a->json) {
        json_t *doc = json_head(a);
        jadd(doc, jpack("{s:o, s:o, s:o}", "devices", JU(r.devices), "digits", JU(r.digits),
                        "candidates", J17(pow(10.0, r.digits))));
        jadd(doc, jpack("{s:{s:i, s:o, s:o, s:o}, s:{s:i, s:o, s:o, s:o}}", "device_kdf", "log_n",
                        r.device_kdf.log_n, "r", JU(r.device_kdf.r), "p", JU(r.device_kdf.p),
                        "ms_per_try", J6(r.device_kdf.ms_per_try), "calibrated", "log_n",
                        r.calibrated.log_n, "r", JU(r.calibrated.r), "p", JU(r.calibrated.p),
                        "ms_per_try", J6(r.calibrated.ms_per_try)));
        jadd(doc, jpack("{s:{s:o, s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:b}, s:{s:o, s:o}}", "vendor",
                        "opened", JU(r.vendor_opened), "bricked", JU(r.bricked), "first_seconds",
                        J6(r.vendor_first_seconds), "all_seconds", J6(r.vendor_all_seconds),
                        "decrypt_seconds", J6(r.vendor_decrypt_seconds), "brute_force", "tries",
                        JU(r.brute_tries), "seconds", J6(r.brute_seconds), "found", r.brute_found,
                        "blast_radius", "one_passcode", JU(r.opened_by_one_passcode), "vendor_key",
                        JU(r.opened_by_vendor_key)));
        json_t *rows =
            jpack("[{s:s, s:s, s:b, s:o}, {s:s, s:s, s:b, s:o}, {s:s, s:s, s:b, s:o},"
                  " {s:s, s:s, s:b, s:o}, {s:s, s:s, s:b, s:o}, {s:s, s:s, s:b, s:o, s:o},"
                  " {s:s, s:s, s:b, s:o}]",
                  "method", "vendor-key", "target", "one", "measured", 1, "seconds",
                  J6(r.vendor_first_seconds), "method", "vendor-key", "target", "all", "measured",
                  1, "seconds", J6(r.vendor_all_seconds), "method", "vendor-key-real-device",
                  "target", "one", "measured", 0, "seconds", J6(r.vendor_one_real), "method",
                  "vendor-key-real-device", "target", "all", "measured", 0, "seconds",
                  J6(r.vendor_all_real), "method", "brute-force", "target", "one", "measured", 1,
                  "seconds", J6(r.brute_seconds), "method", "brute-force-real-device", "target",
                  "one", "measured", 0, "seconds", J6(r.brute_one_average), "seconds_worst",
                  J6(r.brute_one_worst), "method", "brute-force-real-device", "target", "all",
                  "measured", 0, "seconds", J6(r.brute_all_average));
        json_object_set_new(doc, "rows", rows);
        return json_print(doc, a->name);
    }
    printf("Ozzie's CLEAR: one vendor key for every device\n\n"
           "History: Ray Ozzie's CLEAR (2018): the device encrypts its passcode to the\n"
           "vendor's public key; under a warrant, with physical possession, the vendor\n"
           "decrypts it and the device is bricked. Critics (Matthew Green, Steven\n"
           "Bellovin, Eran Tromer) said it is a master key for every device, whose theft\n"
           "cannot be detected.\n\n"
           "Here: %u phone-like devices of the passcode lab (a %u-digit PIN entangled with\n"
           "a device secret through scrypt, erase after 10 failures), each with its PIN\n"
           "encrypted to one vendor X25519 key with the vault.\n\n",
           r.devices, r.digits);
    printf("%-48s %14s %14s\n", "", "one device", "all devices");
    printf("%-48s %14s %14s\n", "vendor key (measured, classroom devices)",
           H(r.vendor_first_seconds), H(r.vendor_all_seconds));
    printf("%-48s %14s %14s\n", "vendor key, at ~80 ms a try (extrapolated)", H(r.vendor_one_real),
           H(r.vendor_all_real));
    printf("%-48s %14s %14s\n", "brute force (measured, classroom devices)", H(r.brute_seconds),
           "-");
    printf("%-48s %14s %14s\n", "brute force, at ~80 ms a try (extrapolated)",
           H(r.brute_one_average), H(r.brute_all_average));
    printf("\nThe classroom devices cost %.3f ms a try (scrypt N=2^%d, r=%u); a real one\n"
           "about 80 ms (calibrated here: %.1f ms). The vendor's part, decrypting one\n"
           "passcode, took %s. The brute force found the PIN after %llu tries; every PIN\n"
           "takes %s at 80 ms a try, %s for half of them on average.\n\n",
           r.device_kdf.ms_per_try, r.device_kdf.log_n, r.device_kdf.r, r.calibrated.ms_per_try,
           H(r.vendor_decrypt_seconds), (unsigned long long)r.brute_tries, H(r.brute_one_worst),
           H(r.brute_one_average));
    printf("Blast radius: one device's passcode opened %zu of %u devices; the vendor key\n"
           "opened %zu of %u (%zu bricked, as the design wants). The passcode's retry limit,\n"
           "which the passcode lab shows is what protects a phone, does not apply to the\n"
           "vendor: one try per device. Whoever copies the vendor key opens every device\n"
           "they can hold, and nothing tells the vendor that its key was used.\n",
           r.opened_by_one_passcode, r.devices, r.opened_by_vendor_key, r.devices, r.bricked);
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ substitution */

static int lab_subst(lab_args *a) {
    dm_lab_subst_opts o = {.files = (unsigned)a->files, .dir = a->dir};
    dm_lab_subst_result r;
    int err = dm_lab_subst(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab substitution");
    const bool have_age = dm_lab_age_available();
    char self[4096], key[4096], msg[4096], out[4096], file[4096], genuine[4096], swapped[4096];
    if ((err = dm_lab_self_path(self, sizeof self)) != DM_OK)
        return cli_fail(err, "lab substitution");
    snprintf(key, sizeof key, "%s/receiver.key", a->dir);
    snprintf(msg, sizeof msg, "%s/message-0001.txt", a->dir);
    snprintf(out, sizeof out, "%s/outside-check.txt", a->dir);
    snprintf(file, sizeof file, "%s/files/message-0001.age", a->dir);
    snprintf(genuine, sizeof genuine, "%s/genuine/authority.pub", a->dir);
    snprintf(swapped, sizeof swapped, "%s/swapped.pub", a->dir);
    /* The receivers as separate processes, on the first file. */
    int age_exit = -1;
    bool age_same = false;
    if (have_age)
        age_exit = dm_lab_age_decrypt(key, file, msg, out, &age_same);
    int swapped_exit = dm_lab_cmd_decrypt(self, key, swapped, 0, file, NULL, NULL);
    int genuine_exit = dm_lab_cmd_decrypt(self, key, genuine, 0, file, NULL, NULL);
    if (swapped_exit != 0 || genuine_exit != DM_EXIT_POLICY || (have_age && !age_same))
        return cli_fail(dm_fail(DM_ERR_INTERNAL,
                                "unexpected outcome: require-escrow exits %d (swapped) and %d "
                                "(genuine), age %d",
                                swapped_exit, genuine_exit, age_exit),
                        "lab substitution");
    if (a->json) {
        json_t *doc = json_head(a), *rows = json_array();
        jadd(doc,
             jpack("{s:o, s:o, s:o, s:o, s:b, s:s, s:s, s:o, s:o, s:b, s:b}", "files", JU(r.files),
                   "attacker_opened", JU(r.attacker_opened), "genuine_opened", JU(r.genuine_opened),
                   "attacker_seconds", J6(r.attacker_seconds), "same_name", r.same_name,
                   "genuine_id", r.genuine_id, "swapped_id", r.swapped_id, "pinned_exposed",
                   JU(r.pinned_exposed), "logged_exposed", JU(r.logged_exposed), "genuine_in_log",
                   r.genuine_in_log, "age_available", have_age));
        for (int k = 0; k < DM_LAB_SUBST_N_RECEIVERS; k++)
            json_array_append_new(rows,
                                  jpack("{s:s, s:o, s:o, s:b}", "client", dm_lab_subst_names[k],
                                        "accepted", JU(r.accepted[k]), "refused", JU(r.refused[k]),
                                        "notices", r.refused[k] == r.files));
        jadd(doc,
             jpack("{s:o, s:i, s:i, s:o}", "age_exit",
                   have_age ? json_integer(age_exit) : json_null(), "require_escrow_swapped_exit",
                   swapped_exit, "require_escrow_genuine_exit", genuine_exit, "rows", rows));
        return json_print(doc, a->name);
    }
    printf("The swapped authority\n\n"
           "History: PGP 5.5.x to 6.5.3 honoured Additional Decryption Keys placed in the\n"
           "unsigned part of a public key, so anyone could add a decryption key to someone\n"
           "else's key (Ralf Senderek, August 2000; CERT VU#747124, October 2000).\n\n"
           "Here a sender's authority.pub is swapped, as a tampered update would do, for one\n"
           "with the same name (FBI), agents (doj, court, vendor) and threshold (2 of 3),\n"
           "whose agents are the attacker's. The sender then writes %zu files.\n\n",
           r.files);
    printf("The attacker's agents, without any warrant, opened %zu of %zu files (%s);\n"
           "the genuine FBI's agents opened %zu.\n\n",
           r.attacker_opened, r.files, H(r.attacker_seconds), r.genuine_opened);
    static const char *const labels[DM_LAB_SUBST_N_RECEIVERS] = {
        "plain age / doormat decrypt", "compliant client, swapped authority.pub",
        "compliant client, genuine authority.pub", "sender pinning the genuine id",
        "sender wanting it in the witnessed log"};
    printf("%-42s %9s %9s   %s\n", "who", "accepted", "refused", "notices?");
    for (int k = 0; k < DM_LAB_SUBST_N_RECEIVERS; k++)
        printf("%-42s %9zu %9zu   %s\n", labels[k], r.accepted[k], r.refused[k],
               r.refused[k] == r.files ? "yes" : "no");
    printf("\nAs separate processes, on the first file:\n"
           "  age -d                                       %s\n"
           "  doormat decrypt --require-escrow swapped.pub  exit %d\n"
           "  doormat decrypt --require-escrow genuine/authority.pub  exit %d\n\n"
           "The two authorities differ only in their ids:\n"
           "  genuine %s\n  swapped %s\n"
           "Whoever checks the escrow against the genuine authority notices; a sender\n"
           "whose client pins the genuine id refuses to send (%zu files exposed), and so\n"
           "does one that accepts only an authority file published in a transparency log\n"
           "whose checkpoint a witness cosigned (%zu exposed: the swapped file is not the\n"
           "logged entry; the genuine one's receipt %s). A name on a key is not a key.\n",
           have_age ? (age_same ? "exit 0, the message" : "failed") : "(age not installed)",
           swapped_exit, genuine_exit, r.genuine_id, r.swapped_id, r.pinned_exposed,
           r.logged_exposed, r.genuine_in_log ? "verifies" : "does NOT verify");
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ retroactive */

static int lab_retro(lab_args *a) {
    dm_lab_retro_opts o = {.files = (unsigned)a->files, .file_bytes = a->bytes, .dir = a->dir};
    dm_lab_retro_result r;
    int err = dm_lab_retro(&o, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab retroactive");
    /* The same through the real command, as separate processes: doormat rekey
     * --escrow on the first archived file, then the compliant check on both. */
    char self[4096], key[4096], pub[4096], old[4096], out[4096];
    if ((err = dm_lab_self_path(self, sizeof self)) != DM_OK)
        return cli_fail(err, "lab retroactive");
    snprintf(key, sizeof key, "%s/user.key", a->dir);
    snprintf(pub, sizeof pub, "%s/authority/authority.pub", a->dir);
    snprintf(old, sizeof old, "%s/archive/file-0001.age", a->dir);
    snprintf(out, sizeof out, "%s/rekeyed-by-command.age", a->dir);
    int rekey_exit = dm_lab_cmd_rekey_escrow(self, key, r.user_recipient, pub, old, out);
    int new_exit = rekey_exit == 0 ? dm_lab_cmd_decrypt(self, key, pub, 0, out, NULL, NULL) : -1;
    int old_exit = dm_lab_cmd_decrypt(self, key, pub, 0, old, NULL, NULL);
    if (rekey_exit != 0 || new_exit != 0 || old_exit != DM_EXIT_POLICY)
        return cli_fail(dm_fail(DM_ERR_INTERNAL,
                                "unexpected outcome: rekey exit %d, require-escrow %d (rekeyed) "
                                "and %d (archived)",
                                rekey_exit, new_exit, old_exit),
                        "lab retroactive");
    if (a->json) {
        json_t *doc = json_head(a);
        jadd(doc, jpack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "files", JU(r.files),
                        "file_bytes", JU(o.file_bytes), "archive_bytes", JU(r.archive_bytes),
                        "bytes_rewritten", JU(r.bytes_rewritten), "bytes_copied",
                        JU(r.bytes_copied), "header_bytes_before", JU(r.header_bytes_before),
                        "rewritten_share", J6((double)r.bytes_rewritten / (double)r.archive_bytes),
                        "seconds", J6(r.seconds), "files_per_second", J6(r.files_per_second),
                        "payloads_identical", r.payloads_identical));
        jadd(doc,
             jpack("{s:o, s:o, s:o, s:i, s:i, s:i, s:[{s:s, s:o, s:i}, {s:s, s:o, s:i}]}",
                   "authority_opened_before", JU(r.authority_opened_before),
                   "authority_opened_after", JU(r.authority_opened_after), "user_opened_after",
                   JU(r.user_opened_after), "rekey_exit", rekey_exit, "require_escrow_exit_before",
                   old_exit, "require_escrow_exit_after", new_exit, "rows", "archive", "before",
                   "authority_opened", JU(r.authority_opened_before), "require_escrow_exit",
                   old_exit, "archive", "after", "authority_opened", JU(r.authority_opened_after),
                   "require_escrow_exit", new_exit));
        return json_print(doc, a->name);
    }
    printf("Escrow after the fact\n\n"
           "An archive of %zu vault files (%zu random bytes each), encrypted to their owner\n"
           "alone before any mandate. The owner's software holds the owner's key, so it\n"
           "can reach every file key: when a mandate arrives, it rewrites each header for\n"
           "the owner and a 2-of-3 authority (doormat rekey --escrow), and copies the\n"
           "encrypted contents as they are.\n\n",
           r.files, o.file_bytes);
    printf("%-34s %14s %14s\n", "", "before", "after");
    printf("%-34s %14zu %14zu\n", "files the authority's agents open", r.authority_opened_before,
           r.authority_opened_after);
    printf("%-34s %14s %14s\n", "doormat decrypt --require-escrow",
           old_exit == DM_EXIT_POLICY ? "exit 7" : "?", new_exit == 0 ? "exit 0" : "?");
    printf("%-34s %14s %14zu\n\n", "files the owner opens", "all", r.user_opened_after);
    printf("Rewritten: %zu files in %s, %.0f files a second.\n"
           "Header bytes written: %llu, for an archive of %llu bytes (%.3g%%);\n"
           "payload bytes copied: %llu, %s.\n\n",
           r.files, H(r.seconds), r.files_per_second, (unsigned long long)r.bytes_rewritten,
           (unsigned long long)r.archive_bytes,
           100.0 * (double)r.bytes_rewritten / (double)r.archive_bytes,
           (unsigned long long)r.bytes_copied,
           r.payloads_identical ? "byte for byte" : "changed (!)");
    printf("The cost of a retroactive mandate is the headers, not the data: a few hundred\n"
           "bytes a file, less of the archive the larger its files. A mandate can reach\n"
           "every file encrypted before it existed, wherever software holds the keys --\n"
           "and nothing in a rewritten file says when its escrow was added.\n");
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ volume */

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
static int net_for(const lab_args *a, char *self, size_t cap, dm_lab_net *net) {
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

static int lab_volume(lab_args *a) {
    char self[4096];
    dm_lab_net net;
    dm_lab_volume_stats s;
    int err = net_for(a, self, sizeof self, &net);
    if (!err)
        err = dm_lab_volume(a->dir, a->requests, &net, &s);
    if (err != DM_OK)
        return cli_fail(err, "lab volume");
    if (a->json) {
        json_t *doc = json_head(a), *rows = json_array();
        for (int i = 0; i < DM_LAB_VOLUME_ROWS; i++)
            json_array_append_new(rows, jpack("{s:s, s:o, s:b, s:b, s:o, s:o}", "label",
                                              s.rows[i].label, "per_year", J17(s.rows[i].per_year),
                                              "cited", s.rows[i].cited, "measured", 0,
                                              "service_seconds", J6(s.rows[i].service_seconds),
                                              "share_of_year", J6(s.rows[i].share_of_year)));
        jadd(doc,
             jpack("{s:o, s:i, s:o, s:o, s:{s:o, s:o, s:o, s:o}, s:o}", "requests", JU(s.requests),
                   "clients", 1, "seconds", J6(s.seconds), "releases_per_second",
                   J6(s.releases_per_second), "latency_ms", "p50", J6(s.p50_ms), "p90",
                   J6(s.p90_ms), "p99", J6(s.p99_ms), "max", J6(s.max_ms), "rows", rows));
        return json_print(doc, a->name);
    }
    printf("Request volume: is capacity a brake?\n\n"
           "History: Director Wray cited nearly 7,800 locked devices in 2017; the Washington\n"
           "Post reported on 22 May 2018 that the real number was probably 1,200 to 2,000.\n\n"
           "Here one escrow agent runs as its HTTPS service on loopback (doormat escrow\n"
           "serve) and answers %zu release requests, one after another, from the\n"
           "investigator's client (doormat escrow request's code): each a warrant checked,\n"
           "a release logged durably in the agent's transparency log, a share sealed to\n"
           "the investigator, the file key recovered and checked.\n\n",
           s.requests);
    printf("Measured: %.1f releases a second; latency %.1f ms median, %.1f ms at the 90th\n"
           "percentile, %.1f ms at the 99th, %.1f ms at most.\n\n",
           s.releases_per_second, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms);
    printf("%-38s %12s %14s %12s\n", "volume", "devices/year", "service time", "of a year");
    for (int i = 0; i < DM_LAB_VOLUME_ROWS; i++)
        printf("%-38s %12.0f %14s %11.3g%%\n", s.rows[i].label, s.rows[i].per_year,
               H(s.rows[i].service_seconds), 100 * s.rows[i].share_of_year);
    printf("\nThe service times are computed from the measured rate (one client, one agent,\n"
           "this machine). A year of the FBI's claimed volume is minutes of one agent's\n"
           "time: capacity is no brake on use. Only the procedure -- who signs the\n"
           "warrants, who reads the logs -- and the cost per access are.\n");
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ insider */

static int lab_insider(lab_args *a) {
    char self[4096];
    dm_lab_net net;
    int err = net_for(a, self, sizeof self, &net);
    if (err != DM_OK)
        return cli_fail(err, "lab insider");
    dm_lab_net_procedure proc = {.net = &net};
    dm_lab_insider_opts o = {.files = (unsigned)a->files,
                             .dir = a->dir,
                             .procedure = dm_lab_net_procedure_fn,
                             .procedure_ctx = &proc};
    dm_lab_insider_result *r = malloc(sizeof *r);
    if (!r)
        return cli_fail(dm_fail(DM_ERR_NOMEM, "out of memory"), "lab insider");
    err = dm_lab_insider(&o, r);
    dm_lab_net_procedure_stop(&proc);
    /* The owner's monitor, the real command, must see what the lab counted. */
    long seen[DM_LAB_INSIDER_N];
    for (int i = 0; i < DM_LAB_INSIDER_N && !err; i++) {
        seen[i] = dm_lab_cmd_monitor(
            self, a->dir, i < DM_LAB_INSIDER_3_KEY ? "authority-1of1" : "authority-2of3",
            (const char(*)[2 * DM_FILE_ID_LEN + 1]) r->rows[i].ids, r->files);
        if (seen[i] != (long)r->rows[i].monitor_saw)
            err = dm_fail(DM_ERR_INTERNAL,
                          "doormat escrow monitor saw %ld files of row %d, the lab counted %zu",
                          seen[i], i, r->rows[i].monitor_saw);
    }
    if (err != DM_OK) {
        free(r);
        return cli_fail(err, "lab insider");
    }
    if (a->json) {
        json_t *doc = json_head(a), *rows = json_array();
        for (int i = 0; i < DM_LAB_INSIDER_N; i++) {
            const dm_lab_insider_row *w = &r->rows[i];
            json_array_append_new(
                rows, jpack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I}", "authority",
                            dm_lab_insider_authority[i], "path", dm_lab_insider_path[i], "accesses",
                            JU(w->accesses), "opened", JU(w->opened), "monitor_saw",
                            JU(w->monitor_saw), "log_entries", JU(w->log_entries), "seconds",
                            J6(w->seconds), "monitor_command_saw", (json_int_t)seen[i]));
        }
        jadd(doc, jpack("{s:o, s:o}", "files", JU(r->files), "rows", rows));
        free(r);
        return json_print(doc, a->name);
    }
    printf("The insider, and what the log sees\n\n"
           "Two authorities whose agents run as HTTPS services on this machine (doormat\n"
           "escrow serve) and log every release in their transparency logs: one master key\n"
           "(1-of-1), and 2 of 3 agents. The owner runs a monitor over the logs (doormat\n"
           "escrow monitor). An insider at an agency goes\n"
           "after %zu of the owner's files per row: through the procedure (a warrant and\n"
           "a logged release by each agent needed), or with agents' key files directly.\n\n",
           r->files);
    static const char *const labels[DM_LAB_INSIDER_N] = {
        "1-of-1, the master key file", "1-of-1, through the procedure",
        "2-of-3, one agent's key file", "2-of-3, two agents' key files",
        "2-of-3, through the procedure"};
    printf("%-32s %8s %8s %14s %12s\n", "insider", "tried", "opened", "monitor saw", "log entries");
    for (int i = 0; i < DM_LAB_INSIDER_N; i++) {
        const dm_lab_insider_row *w = &r->rows[i];
        printf("%-32s %8zu %8zu %14zu %12zu\n", labels[i], w->accesses, w->opened, w->monitor_saw,
               w->log_entries);
    }
    printf("\nThe log sees the procedure, not the key: every file opened through the\n"
           "procedure is in the monitor's listing (%zu and %zu), every file opened with\n"
           "key files is not (%zu and %zu opened, %zu and %zu seen). 2 of 3 raises the bar\n"
           "-- one agent's key file opened %zu -- but two colluding insiders, or one thief\n"
           "with two key files, leave no trace at all.\n",
           r->rows[1].monitor_saw, r->rows[4].monitor_saw, r->rows[0].opened, r->rows[3].opened,
           r->rows[0].monitor_saw, r->rows[3].monitor_saw, r->rows[2].opened);
    free(r);
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ unbound-id */

static int lab_unbound(lab_args *a) {
    dm_lab_unbound_result r;
    int err = dm_lab_unbound(a->dir, &r);
    if (err != DM_OK)
        return cli_fail(err, "lab unbound-id");
    if (a->json) {
        json_t *doc = json_head(a), *rows = json_array();
        for (int b = 0; b < DM_LAB_UNBOUND_N; b++) {
            const dm_lab_unbound_row *w = &r.rows[b];
            json_array_append_new(
                rows,
                jpack("{s:s, s:o, s:b, s:s?, s:s?, s:b, s:o, s:o}", "binding",
                      dm_lab_unbound_binding[b], "released", JU(w->released), "refused",
                      w->answer != DM_OK, "reason", w->answer != DM_OK ? w->reason : NULL,
                      "logged_id", w->logged_id[0] ? w->logged_id : NULL, "opens_file", w->opened,
                      "log_entries", JU(w->log_entries), "monitor_saw", JU(w->monitor_saw)));
        }
        jadd(doc, jpack("{s:s, s:s, s:s, s:o, s:{s:o, s:b, s:o}}", "header_id", r.header_id,
                        "swapped_header_id", r.swapped_id, "escrow_file_id", r.escrow_id, "rows",
                        rows, "bound_warrant", "released", JU(r.bound_released), "opens_file",
                        r.bound_opened, "monitor_saw", JU(r.bound_monitor_saw)));
        return json_print(doc, a->name);
    }
    const dm_lab_unbound_row *o = &r.rows[DM_LAB_UNBOUND_OLD], *n = &r.rows[DM_LAB_UNBOUND_NEW];
    printf("The log must name the file whose key a release opens\n\n"
           "The owner's g.age is escrowed to the FBI, 2 of 3 agents (doj, court, vendor).\n"
           "A requester rebuilds its header without the owner's stanza, keeping the escrow\n"
           "stanzas and the MAC line:\n"
           "  header id of g.age         %s\n"
           "  header id of the rebuild   %s\n"
           "The court, which only ever sees ids, signs a warrant for the second. doj and\n"
           "court are asked; the owner runs a monitor over their logs for g.age.\n\n",
           r.header_id, r.swapped_id);
    printf("%-30s %9s %12s %12s %12s\n", "binding", "released", "opens g.age", "log entries",
           "monitor saw");
    printf("%-30s %9zu %12s %12zu %12zu\n", "old: the header's hash", o->released,
           o->opened ? "yes" : "no", o->log_entries, o->monitor_saw);
    printf("%-30s %9zu %12s %12zu %12zu\n", "new: the file key's id", n->released,
           n->opened ? "yes" : "no", n->log_entries, n->monitor_saw);
    printf("%-30s %9zu %12s %12s %12zu\n", "new, warrant for the bound id", r.bound_released,
           r.bound_opened ? "yes" : "no", "", r.bound_monitor_saw);
    printf("\nOld: the agents named the file by the hash of the header they were sent:\n"
           "they released and logged %s, the two shares open\n"
           "g.age, and the owner's monitor, looking for %s,\n"
           "saw nothing.\n"
           "New: every escrow stanza names %s, derived from\n"
           "the file key, and its seal binds it. The agents refused:\n  %s\n"
           "and a warrant for the real id is logged where the owner looks.\n\n"
           "A designed escrow system with a careful log still had a bypass that only an\n"
           "adversarial read found.\n",
           o->logged_id, r.header_id, r.escrow_id, n->reason);
    return finish(DM_EXIT_OK);
}

/* ------------------------------------------------------------ dispatch */

typedef struct lab_entry {
    const char *name;
    int (*run)(lab_args *a);
    const char *summary;
} lab_entry;

static const lab_entry lab_table[] = {
    {"blast-radius", lab_blast, "what one stolen key set opens, measured"},
    {"leaf-forge", lab_leaf, "forge a Clipper LEAF that passes the check (Blaze 1994)"},
    {"strip", lab_strip, "a rogue sender strips the escrow: age decrypts, doormat refuses"},
    {"crumple", lab_crumple, "what each recovery costs with crumple zones (Wright, Varia 2018)"},
    {"passcode", lab_passcode, "the San Bernardino PIN, with and without the retry limit"},
    {"substitution", lab_subst, "a swapped authority.pub: who opens, who notices (ADK 2000)"},
    {"ghost", lab_ghost, "a client silently adds a recipient: who sees it (GCHQ 2018)"},
    {"clear", lab_clear, "one vendor key opens every device's passcode (Ozzie 2018)"},
    {"retroactive", lab_retro, "escrow added to an existing archive with rekey: files/s"},
    {"insider", lab_insider, "an insider with key files or through the logged procedure"},
    {"volume", lab_volume, "an agent service's release rate against the FBI's device counts"},
    {"unbound-id", lab_unbound, "a rebuilt header and a warrant for its id: who the log names"},
};

int cmd_lab(int argc, char **argv) {
    if (argc < 2)
        return cli_usage_error("lab: name a lab (doormat lab list; doormat lab --help)");
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0)
        return cli_help(lab_usage);
    if (strcmp(name, "list") == 0) {
        for (size_t i = 0; i < sizeof lab_table / sizeof lab_table[0]; i++)
            printf("%-13s %s\n", lab_table[i].name, lab_table[i].summary);
        return finish(DM_EXIT_OK);
    }
    const lab_entry *lab = NULL;
    for (size_t i = 0; i < sizeof lab_table / sizeof lab_table[0]; i++)
        if (strcmp(name, lab_table[i].name) == 0)
            lab = &lab_table[i];
    if (lab == NULL)
        return cli_usage_error("lab: unknown lab \"%s\" (doormat lab list)", name);

    lab_args a = {.name = lab->name,
                  .users = 8,
                  .files = 4,
                  .bytes = 1024,
                  .bits = 16,
                  .min = 12,
                  .max = 24,
                  .digits = 4,
                  .devices = 100,
                  .requests = 20,
                  .shamir_tries = 4096,
                  .population = 1e6,
                  .quick = 1};
    int budget_set = 0, shamir_set = 0, files_set = 0, bytes_set = 0;
    /* Which options each lab takes. */
    const int is_blast = lab->run == lab_blast, is_leaf = lab->run == lab_leaf,
              is_crumple = lab->run == lab_crumple, is_pass = lab->run == lab_passcode,
              is_ghost = lab->run == lab_ghost, is_subst = lab->run == lab_subst,
              is_clear = lab->run == lab_clear, is_retro = lab->run == lab_retro,
              is_volume = lab->run == lab_volume, is_insider = lab->run == lab_insider;
    int rc = DM_EXIT_OK, c;
    optind = 1;
    opterr = 0;
    int li = -1;
    while (rc == DM_EXIT_OK &&
           (c = getopt_long(argc - 1, argv + 1, ":h", lab_longopts, &li)) != -1) {
        int ok = c == OPT_DIR || c == OPT_JSON || c == 'h' || c == '?' || c == ':' ||
                 (is_blast && (c == OPT_USERS || c == OPT_FILES || c == OPT_BYTES)) ||
                 (is_leaf && (c == OPT_BITS || c == OPT_SHAMIR_TRIES)) ||
                 ((is_leaf || is_crumple) && (c == OPT_BUDGET || c == OPT_ALL)) ||
                 (is_crumple && (c == OPT_MIN || c == OPT_MAX || c == OPT_POPULATION)) ||
                 (is_pass && (c == OPT_DIGITS || c == OPT_REAL)) ||
                 ((is_ghost || is_subst || is_insider) && c == OPT_FILES) ||
                 (is_retro && (c == OPT_FILES || c == OPT_BYTES)) ||
                 (is_volume && c == OPT_REQUESTS) ||
                 ((is_volume || is_insider) && c == OPT_PORT_BASE) ||
                 (is_clear && (c == OPT_DEVICES || c == OPT_DIGITS));
        if (!ok) {
            rc = cli_usage_error("lab %s: option --%s does not apply to this lab (see doormat lab "
                                 "--help)",
                                 lab->name, li >= 0 ? lab_longopts[li].name : "?");
            break;
        }
        unsigned long v = 0;
        li = -1;
        switch (c) {
        case OPT_DIR:
            a.dir = optarg;
            break;
        case OPT_JSON:
            a.json = 1;
            break;
        case OPT_USERS:
            rc = parse_ulong("--users", optarg, 1, 10000, &a.users);
            a.quick = 0;
            break;
        case OPT_FILES:
            rc = parse_ulong("--files", optarg, 1, 10000, &a.files);
            files_set = 1;
            a.quick = 0;
            break;
        case OPT_REQUESTS:
            rc = parse_ulong("--requests", optarg, 1, 10000, &a.requests);
            a.quick = 0;
            break;
        case OPT_PORT_BASE:
            rc = parse_ulong("--port-base", optarg, 1024, 65000, &a.port_base);
            break;
        case OPT_DEVICES:
            rc = parse_ulong("--devices", optarg, 1, 100000, &a.devices);
            a.quick = 0;
            break;
        case OPT_BYTES:
            rc = parse_ulong("--bytes", optarg, 1, is_retro ? 64u << 20 : 1u << 20, &a.bytes);
            bytes_set = 1;
            a.quick = 0;
            break;
        case OPT_BITS:
            rc = parse_ulong("--bits", optarg, 1, 32, &a.bits);
            break;
        case OPT_BUDGET:
            rc = parse_double("--budget", optarg, 0.001, 1e6, &a.budget);
            budget_set = 1;
            break;
        case OPT_ALL:
            a.all = 1;
            a.quick = 0;
            break;
        case OPT_SHAMIR_TRIES:
            rc = parse_ulong("--shamir-tries", optarg, 1, 1ul << 32, &v);
            a.shamir_tries = v;
            shamir_set = 1;
            break;
        case OPT_MIN:
            rc = parse_ulong("--min", optarg, 1, DM_ESCROW_MAX_CRUMPLE_BITS, &a.min);
            break;
        case OPT_MAX:
            rc = parse_ulong("--max", optarg, 1, DM_ESCROW_MAX_CRUMPLE_BITS, &a.max);
            break;
        case OPT_POPULATION:
            rc = parse_double("--population", optarg, 1, 1e12, &a.population);
            break;
        case OPT_DIGITS:
            rc = parse_ulong("--digits", optarg, 1, 8, &a.digits);
            break;
        case OPT_REAL:
            a.real = 1;
            a.quick = 0;
            break;
        case 'h':
            return cli_help(lab_usage);
        default:
            rc = cli_bad_option("lab", argv + 1, c);
            break;
        }
    }
    if (rc != DM_EXIT_OK)
        return rc;
    if (optind < argc - 1)
        return cli_usage_error("lab %s: unexpected argument \"%s\"", lab->name, argv[optind + 1]);
    if (is_crumple && a.min > a.max)
        return cli_usage_error("lab crumple: --min %lu is above --max %lu", a.min, a.max);
    if (!budget_set)
        a.budget = is_crumple ? 3.0 : 2.0;
    if ((is_ghost || is_subst) && !files_set)
        a.files = 8;
    if (is_retro && !files_set)
        a.files = 32;
    if (is_insider && !files_set)
        a.files = 4;
    if (is_insider && a.files > DM_LAB_INSIDER_MAX_FILES)
        return cli_usage_error("lab insider: wants --files from 1 to %d", DM_LAB_INSIDER_MAX_FILES);
    if (is_retro && !bytes_set)
        a.bytes = 64 * 1024;
    if (a.all && !shamir_set)
        a.shamir_tries = 65536; /* publication size: 2^16 random fields */
    if ((rc = cli_init()) != DM_EXIT_OK)
        return rc;

    a.t_start = dm_lab_now();
    char tmpl[4096];
    int made_temp = 0;
    if (a.dir == NULL) {
        const char *tmp = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/doormat-lab-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp",
                 lab->name);
        if (mkdtemp(tmpl) == NULL)
            return cli_fail(dm_fail(DM_ERR_IO, "%s: %s", tmpl, strerror(errno)), "lab %s",
                            lab->name);
        a.dir = tmpl;
        made_temp = 1;
    } else {
        if (mkdir(a.dir, 0700) != 0 && errno != EEXIST)
            return cli_fail(dm_fail(DM_ERR_IO, "%s: %s", a.dir, strerror(errno)), "lab %s",
                            lab->name);
        struct stat st;
        if (stat(a.dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return cli_usage_error("lab %s: --dir %s is not a directory", lab->name, a.dir);
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/authority", a.dir);
        int taken = access(probe, F_OK) == 0;
        static const char *const marks[] = {"authority-1of1", "receiver.key", "vendor.key",
                                            "genuine"};
        for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++) {
            snprintf(probe, sizeof probe, "%s/%s", a.dir, marks[m]);
            taken = taken || access(probe, F_OK) == 0;
        }
        if (taken)
            return cli_usage_error("lab %s: --dir %s already holds a lab; give a new or empty "
                                   "directory",
                                   lab->name, a.dir);
    }
    rc = lab->run(&a);
    if (made_temp)
        (void)dm_lab_remove_tree(tmpl);
    else if (rc == DM_EXIT_OK && !a.json)
        printf("\nThe lab's keys and files are in %s.\n", a.dir);
    return finish(rc);
}
