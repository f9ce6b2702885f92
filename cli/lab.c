/* doormat lab NAME: the classroom labs. The work is in the lab cores and
 * the processes they run (labs/labs.h); this file parses the flags, makes
 * the working directory, dispatches, and runs the labs of the vault
 * (blast-radius, leaf-forge, strip, crumple, passcode): each core, the
 * outside checks it judges, and the narration and table, or the JSON of
 * docs/labs.md. cli/lab_access.c runs the other labs. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "lab.h"

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
        json_t *doc = lab_json_head(a), *pops = json_array(), *enc = json_object(),
               *rows = json_array();
        for (int p = 0; p < DM_LAB_N_POPS; p++) {
            json_array_append_new(pops, lab_pack("{s:s, s:o}", "name", dm_lab_pop_names[p], "files",
                                                 JU(r.pop_files[p])));
            json_object_set_new(enc, dm_lab_pop_names[p], J6(r.encrypt_seconds[p]));
        }
        for (int s = 0; s < DM_LAB_N_STOLEN; s++) {
            const dm_lab_blast_row *w = &r.rows[s];
            json_t *by = json_object();
            for (int p = 0; p < DM_LAB_N_POPS; p++)
                json_object_set_new(by, dm_lab_pop_names[p], JU(w->by_pop[p]));
            json_array_append_new(
                rows,
                lab_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:b}", "stolen", dm_lab_stolen_names[s],
                         "label", dm_lab_stolen_labels[s], "files_exposed", JU(w->exposed), "share",
                         J6((double)w->exposed / (double)r.total_files), "seconds", J6(w->seconds),
                         "by_population", by, "measured", 1));
        }
        lab_jadd(doc, lab_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "users", JU(o.users),
                               "files_per_user", JU(o.files_per_user), "file_bytes",
                               JU(o.file_bytes), "populations", pops, "population_files",
                               JU(r.total_files), "encrypt_seconds", enc, "rows", rows));
        return lab_json_print(doc, a->name);
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
    return lab_finish(DM_EXIT_OK);
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
        json_t *doc = lab_json_head(a), *rows = json_array(), *beyond = json_array();
        for (int i = 0; i < DM_LAB_LEAF_ROWS; i++) {
            const dm_lab_leaf_row *w = &r.rows[i];
            json_array_append_new(rows, lab_pack("{s:o, s:b, s:o, s:o, s:o}", "bits", JU(w->bits),
                                                 "measured", w->measured, "tries",
                                                 lab_ju_or_null(w->measured, w->tries), "seconds",
                                                 J6(w->seconds), "expected_tries",
                                                 J17(w->expected_tries)));
        }
        for (int i = 0; i < DM_LAB_LEAF_BEYOND; i++)
            json_array_append_new(beyond,
                                  lab_pack("{s:o, s:o, s:o, s:b}", "bits", JU(r.beyond[i].bits),
                                           "expected_tries", J17(r.beyond[i].expected_tries),
                                           "seconds", J6(r.beyond[i].seconds), "measured", 0));
        lab_jadd(doc, lab_pack("{s:o, s:o, s:o, s:o, s:o}", "budget_seconds", J6(o.budget),
                               "seconds_per_try", J6(r.seconds_per_try), "rate_tries",
                               JU(r.rate_tries), "rows", rows, "beyond", beyond));
        lab_jadd(doc, lab_pack("{s:{s:o, s:o, s:o, s:b, s:i, s:s, s:s}, s:{s:o, s:o, s:o, s:i}}",
                               "forgery", "bits", JU(r.forge_bits), "tries", JU(r.forge_tries),
                               "seconds", J6(r.forge_seconds), "passes_require_escrow",
                               r.forged_passes_check && decrypt_exit == 0, "recovery_exit",
                               recover_exit, "authority_key_hex", akey, "file_key_hex", fkey,
                               "shamir", "tries", JU(r.shamir_tries), "passed", JU(r.shamir_passed),
                               "seconds", J6(r.shamir_seconds), "forgery_chance_log2", -128));
        return lab_json_print(doc, a->name);
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
    return lab_finish(DM_EXIT_OK);
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
        json_t *doc = lab_json_head(a), *rows = json_array();
        for (int t = 0; t < DM_LAB_STRIP_N; t++)
            json_array_append_new(
                rows, lab_pack("{s:s, s:o, s:o, s:i, s:s}", "file", dm_lab_strip_names[t],
                               "age_exit", have_age ? json_integer(age_exit[t]) : json_null(),
                               "age_plaintext_matches",
                               have_age ? json_boolean(age_same[t]) : json_null(),
                               "require_escrow_exit", doormat_exit[t], "recovery", r.recovery[t]));
        lab_jadd(doc, lab_pack("{s:b, s:o}", "age_available", have_age, "rows", rows));
        return lab_json_print(doc, a->name);
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
    return lab_finish(DM_EXIT_OK);
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
        json_t *doc = lab_json_head(a), *rows = json_array();
        for (size_t i = 0; i < r.n_rows; i++) {
            const dm_lab_crumple_row *w = &r.rows[i];
            json_array_append_new(
                rows,
                lab_pack("{s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "bits", JU(w->bits),
                         "measured", w->measured, "tries", lab_ju_or_null(w->measured, w->tries),
                         "seconds", w->measured ? J6(w->seconds) : json_null(), "found",
                         w->measured ? json_boolean(w->found) : json_null(), "expected_seconds",
                         J6(w->expected_seconds), "worst_seconds", J6(w->worst_seconds),
                         "population_seconds", J6(w->population_seconds)));
        }
        lab_jadd(doc, lab_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "budget_seconds", J6(o.budget),
                               "population_files", J17(o.population), "encrypt_seconds",
                               J6(r.encrypt_seconds), "check_seconds", J6(r.check_seconds),
                               "seconds_per_try", J6(r.seconds_per_try), "rows", rows));
        return lab_json_print(doc, a->name);
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
            lab_human(w->seconds, t, sizeof t);
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
    return lab_finish(DM_EXIT_OK);
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
        json_t *doc = lab_json_head(a), *rows = json_array();
        lab_jadd(doc,
                 lab_pack("{s:{s:i, s:o, s:o, s:o, s:o}, s:{s:i, s:o, s:o, s:o}}", "calibrated",
                          "log_n", r.calibrated.log_n, "r", JU(r.calibrated.r), "p",
                          JU(r.calibrated.p), "target_ms", J6(r.target_ms), "ms_per_try",
                          J6(r.calibrated.ms_per_try), "fast", "log_n", r.fast.log_n, "r",
                          JU(r.fast.r), "p", JU(r.fast.p), "ms_per_try", J6(r.fast.ms_per_try)));
        lab_jadd(doc,
                 lab_pack("{s:{s:s, s:o, s:o, s:o, s:b}, s:{s:s, s:o, s:o, s:b, s:b, s:b}}",
                          "crack", "kdf", kdf, "digits", JU(r.digits), "tries", JU(r.crack_tries),
                          "seconds", J6(r.crack_seconds), "found", r.crack_found, "retry_limit",
                          "kdf", kdf, "limit", JU(r.limit), "tries", JU(r.limited_tries), "erased",
                          r.erased, "found", r.limited_found, "correct_pin_after_erase_fails",
                          r.correct_pin_after_erase_fails));
        for (int i = 0; i < DM_LAB_PASSCODE_ROWS; i++)
            json_array_append_new(rows, lab_pack("{s:s, s:o, s:b, s:o, s:o}", "space",
                                                 dm_lab_passcode_spaces[i], "candidates",
                                                 J17(dm_lab_passcode_candidates[i]), "measured", 0,
                                                 "seconds_average", J6(r.rows_worst[i] / 2),
                                                 "seconds_worst", J6(r.rows_worst[i])));
        json_object_set_new(doc, "rows", rows);
        return lab_json_print(doc, a->name);
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
    return lab_finish(DM_EXIT_OK);
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
        return lab_finish(DM_EXIT_OK);
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
    return lab_finish(rc);
}
