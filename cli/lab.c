/* doormat lab NAME: the classroom labs. The work is in the lab cores
 * (include/doormat/labs.h); this file parses flags, makes the working
 * directory, runs the outside programs the strip lab compares (age, and
 * doormat itself as a separate process), and prints the narration and table,
 * or the JSON of docs/labs.md. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "labs.h"

static const char lab_usage[] =
    "Usage:\n"
    "  doormat lab list\n"
    "  doormat lab blast-radius [--users U] [--files F] [--bytes B] [common options]\n"
    "  doormat lab leaf-forge [--bits N] [--budget S] [--all] [--shamir-tries T] [common]\n"
    "  doormat lab strip [common options]\n"
    "  doormat lab crumple [--min C] [--max C] [--budget S] [--all] [--population P] [common]\n"
    "  doormat lab passcode [--digits D] [--real] [common options]\n"
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
    "  --bits N          leaf-forge: the checksum size of the demonstrated forgery (16)\n"
    "  --budget S        leaf-forge, crumple: run a row for real when it should take at\n"
    "                    most S seconds (2 and 3); others are extrapolated\n"
    "  --all             leaf-forge, crumple: run every row for real (N = 24 and C = 24\n"
    "                    take a minute or more)\n"
    "  --shamir-tries T  leaf-forge: random fields tried against the default escrow\n"
    "                    (4096; 65536 with --all)\n"
    "  --min C, --max C  crumple: the range of puzzle bits (12 to 24)\n"
    "  --population P    crumple: files in the population priced (1000000)\n"
    "  --digits D        passcode: length of the PIN cracked live (4)\n"
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
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct lab_args {
    const char *name;
    const char *dir;
    int json;
    unsigned long users, files, bytes, bits, min, max, digits;
    unsigned long long shamir_tries;
    double budget, population;
    int all, real;
    int quick; /* no option asked for full-size runs */
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

static void json_head(const lab_args *a) {
    printf("{\"lab\":\"%s\",\"schema\":1,\"quick\":%s,\"seconds_total\":%.6g", a->name,
           a->quick ? "true" : "false", dm_lab_now() - a->t_start);
}

static const char *jbool(bool b) {
    return b ? "true" : "false";
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int finish(int rc) {
    if (rc != DM_EXIT_OK) {
        fflush(stdout);
        return rc;
    }
    return cli_flush_stdout("the lab's results");
}

/* Runs argv with stdout to out_path (NULL: /dev/null) and stderr to /dev/null;
 * returns the exit code, or -1 if it could not run. */
static int run_process(char *const argv[], const char *out_path) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        int out = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : null;
        if (null < 0 || out < 0)
            _exit(127);
        dup2(null, 0);
        dup2(out, 1);
        dup2(null, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
        return -1;
    return WEXITSTATUS(status);
}

static bool same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    bool same = cli_read_file(a, &x, &xl) == DM_OK && cli_read_file(b, &y, &yl) == DM_OK &&
                xl == yl && memcmp(x, y, xl) == 0;
    free(x);
    free(y);
    return same;
}

/* This very binary, to run the real command as a separate process. */
static int self_path(char *out, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0)
        return dm_fail(DM_ERR_IO, "/proc/self/exe: %s", strerror(errno));
    out[n] = '\0';
    return DM_OK;
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
        json_head(a);
        printf(",\"users\":%u,\"files_per_user\":%u,\"file_bytes\":%zu,\"populations\":[", o.users,
               o.files_per_user, o.file_bytes);
        for (int p = 0; p < DM_LAB_N_POPS; p++)
            printf("%s{\"name\":\"%s\",\"files\":%zu}", p ? "," : "", dm_lab_pop_names[p],
                   r.pop_files[p]);
        printf("],\"population_files\":%zu,\"encrypt_seconds\":{", r.total_files);
        for (int p = 0; p < DM_LAB_N_POPS; p++)
            printf("%s\"%s\":%.6g", p ? "," : "", dm_lab_pop_names[p], r.encrypt_seconds[p]);
        printf("},\"rows\":[");
        for (int s = 0; s < DM_LAB_N_STOLEN; s++) {
            const dm_lab_blast_row *w = &r.rows[s];
            printf("%s{\"stolen\":\"%s\",\"label\":\"%s\",\"files_exposed\":%zu,\"share\":%.6g,"
                   "\"seconds\":%.6g,\"by_population\":{",
                   s ? "," : "", dm_lab_stolen_names[s], dm_lab_stolen_labels[s], w->exposed,
                   (double)w->exposed / (double)r.total_files, w->seconds);
            for (int p = 0; p < DM_LAB_N_POPS; p++)
                printf("%s\"%s\":%zu", p ? "," : "", dm_lab_pop_names[p], w->by_pop[p]);
            printf("},\"measured\":true}");
        }
        printf("]}\n");
        return finish(DM_EXIT_OK);
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
 * compliant client, then the authority's whole procedure. */
static int leaf_real_command(const lab_args *a, unsigned bits, int *decrypt_exit,
                             int *recover_exit) {
    char self[4096], key[4096], pub[4096], court[4096], agent[4096], log[4096], forged[4096],
        warrant[4096], share[4096], nbits[16];
    int err = self_path(self, sizeof self);
    if (err != DM_OK)
        return cli_fail(err, "lab leaf-forge");
    snprintf(key, sizeof key, "%s/user.key", a->dir);
    snprintf(pub, sizeof pub, "%s/authority/authority.pub", a->dir);
    snprintf(court, sizeof court, "%s/authority/court.key", a->dir);
    snprintf(agent, sizeof agent, "%s/authority/agents/master.key", a->dir);
    snprintf(log, sizeof log, "%s/authority/audit.log", a->dir);
    snprintf(forged, sizeof forged, "%s/forged-leaf-%u.age", a->dir, bits);
    snprintf(warrant, sizeof warrant, "%s/warrant.txt", a->dir);
    snprintf(share, sizeof share, "%s/master.share", a->dir);
    snprintf(nbits, sizeof nbits, "%u", bits);
    char *dec[] = {self, "decrypt",   "-i",   key, "--require-escrow", pub, "--leaf-bits", nbits,
                   "-o", "/dev/null", forged, NULL};
    char *war[] = {self,          "escrow", "warrant", "--court",    court,
                   "--authority", pub,      "--case",  "leaf-forge", "--expires",
                   "2999-12-31",  "-o",     warrant,   forged,       NULL};
    char *unw[] = {self,    "escrow", "unwrap", "--authority", pub,   "--agent", agent, "--warrant",
                   warrant, "--log",  log,      "-o",          share, forged,    NULL};
    char *rec[] = {self,  "escrow", "recover",   "--authority", pub, "--share",
                   share, "-o",     "/dev/null", forged,        NULL};
    *decrypt_exit = run_process(dec, NULL);
    *recover_exit = -1;
    if (run_process(war, NULL) == 0 && run_process(unw, NULL) == 0)
        *recover_exit = run_process(rec, NULL);
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
    cli_hex(r.authority_key, DM_FILE_KEY_LEN, akey);
    cli_hex(r.file_key, DM_FILE_KEY_LEN, fkey);
    if (a->json) {
        json_head(a);
        printf(",\"budget_seconds\":%.6g,\"seconds_per_try\":%.6g,\"rows\":[", o.budget,
               r.seconds_per_try);
        for (int i = 0; i < DM_LAB_LEAF_ROWS; i++) {
            const dm_lab_leaf_row *w = &r.rows[i];
            printf("%s{\"bits\":%u,\"measured\":%s,\"tries\":", i ? "," : "", w->bits,
                   jbool(w->measured));
            if (w->measured)
                printf("%llu", (unsigned long long)w->tries);
            else
                printf("null");
            printf(",\"seconds\":%.6g,\"expected_tries\":%.17g}", w->seconds, w->expected_tries);
        }
        printf("],\"beyond\":[");
        for (int i = 0; i < DM_LAB_LEAF_BEYOND; i++)
            printf("%s{\"bits\":%u,\"expected_tries\":%.17g,\"seconds\":%.6g,\"measured\":false}",
                   i ? "," : "", r.beyond[i].bits, r.beyond[i].expected_tries, r.beyond[i].seconds);
        printf("],\"forgery\":{\"bits\":%u,\"tries\":%llu,\"seconds\":%.6g,"
               "\"passes_require_escrow\":%s,\"recovery_exit\":%d,\"authority_key_hex\":\"%s\","
               "\"file_key_hex\":\"%s\"}",
               r.forge_bits, (unsigned long long)r.forge_tries, r.forge_seconds,
               jbool(r.forged_passes_check && decrypt_exit == 0), recover_exit, akey, fkey);
        printf(",\"shamir\":{\"tries\":%llu,\"passed\":%llu,\"seconds\":%.6g,"
               "\"forgery_chance_log2\":-128}}\n",
               (unsigned long long)r.shamir_tries, (unsigned long long)r.shamir_passed,
               r.shamir_seconds);
        return finish(DM_EXIT_OK);
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
    printf("\nMeasured: %.2f us per try on this machine; extrapolated rows are expected\n"
           "tries (2^N) times that rate.\n\n",
           r.seconds_per_try * 1e6);
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
    static const char age_bin[] = "/usr/bin/age";
    const bool have_age = access(age_bin, X_OK) == 0;
    char self[4096];
    if ((err = self_path(self, sizeof self)) != DM_OK)
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
        if (have_age) {
            char *argv[] = {(char *)age_bin, "-d", "-i", key, r.paths[t], NULL};
            age_exit[t] = run_process(argv, out);
            age_same[t] = age_exit[t] == 0 && same_file(out, msg);
            remove(out);
        }
        char *argv[] = {self, "decrypt", "-i",        key,        "--require-escrow",
                        auth, "-o",      "/dev/null", r.paths[t], NULL};
        doormat_exit[t] = run_process(argv, NULL);
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
        json_head(a);
        printf(",\"age_available\":%s,\"rows\":[", jbool(have_age));
        for (int t = 0; t < DM_LAB_STRIP_N; t++) {
            printf("%s{\"file\":\"%s\",", t ? "," : "", dm_lab_strip_names[t]);
            if (have_age)
                printf("\"age_exit\":%d,\"age_plaintext_matches\":%s,", age_exit[t],
                       jbool(age_same[t]));
            else
                printf("\"age_exit\":null,\"age_plaintext_matches\":null,");
            printf("\"require_escrow_exit\":%d,\"recovery\":\"%s\"}", doormat_exit[t],
                   r.recovery[t]);
        }
        printf("]}\n");
        return finish(DM_EXIT_OK);
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
        json_head(a);
        printf(",\"budget_seconds\":%.6g,\"population_files\":%.17g,\"encrypt_seconds\":%.6g,"
               "\"check_seconds\":%.6g,\"seconds_per_try\":%.6g,\"rows\":[",
               o.budget, o.population, r.encrypt_seconds, r.check_seconds, r.seconds_per_try);
        for (size_t i = 0; i < r.n_rows; i++) {
            const dm_lab_crumple_row *w = &r.rows[i];
            printf("%s{\"bits\":%u,\"measured\":%s,", i ? "," : "", w->bits, jbool(w->measured));
            if (w->measured)
                printf("\"tries\":%llu,\"seconds\":%.6g,\"found\":%s,",
                       (unsigned long long)w->tries, w->seconds, jbool(w->found));
            else
                printf("\"tries\":null,\"seconds\":null,\"found\":null,");
            printf("\"expected_seconds\":%.6g,\"worst_seconds\":%.6g,\"population_seconds\":%.6g}",
                   w->expected_seconds, w->worst_seconds, w->population_seconds);
        }
        printf("]}\n");
        return finish(DM_EXIT_OK);
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
        json_head(a);
        printf(",\"calibrated\":{\"log_n\":%d,\"r\":%u,\"p\":%u,\"target_ms\":%.6g,"
               "\"ms_per_try\":%.6g}",
               r.calibrated.log_n, r.calibrated.r, r.calibrated.p, r.target_ms,
               r.calibrated.ms_per_try);
        printf(",\"fast\":{\"log_n\":%d,\"r\":%u,\"p\":%u,\"ms_per_try\":%.6g}", r.fast.log_n,
               r.fast.r, r.fast.p, r.fast.ms_per_try);
        printf(",\"crack\":{\"kdf\":\"%s\",\"digits\":%u,\"tries\":%llu,\"seconds\":%.6g,"
               "\"found\":%s}",
               r.crack_real ? "calibrated" : "fast", r.digits, (unsigned long long)r.crack_tries,
               r.crack_seconds, jbool(r.crack_found));
        printf(",\"retry_limit\":{\"kdf\":\"%s\",\"limit\":%u,\"tries\":%llu,\"erased\":%s,"
               "\"found\":%s,\"correct_pin_after_erase_fails\":%s}",
               r.crack_real ? "calibrated" : "fast", r.limit, (unsigned long long)r.limited_tries,
               jbool(r.erased), jbool(r.limited_found), jbool(r.correct_pin_after_erase_fails));
        printf(",\"rows\":[");
        for (int i = 0; i < DM_LAB_PASSCODE_ROWS; i++)
            printf("%s{\"space\":\"%s\",\"candidates\":%.17g,\"measured\":false,"
                   "\"seconds_average\":%.6g,\"seconds_worst\":%.6g}",
                   i ? "," : "", dm_lab_passcode_spaces[i], dm_lab_passcode_candidates[i],
                   r.rows_worst[i] / 2, r.rows_worst[i]);
        printf("]}\n");
        return finish(DM_EXIT_OK);
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
                  .shamir_tries = 4096,
                  .population = 1e6,
                  .quick = 1};
    int budget_set = 0, shamir_set = 0;
    /* Which options each lab takes. */
    const int is_blast = lab->run == lab_blast, is_leaf = lab->run == lab_leaf,
              is_crumple = lab->run == lab_crumple, is_pass = lab->run == lab_passcode;
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
                 (is_pass && (c == OPT_DIGITS || c == OPT_REAL));
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
            a.quick = 0;
            break;
        case OPT_BYTES:
            rc = parse_ulong("--bytes", optarg, 1, 1u << 20, &a.bytes);
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
        snprintf(probe, sizeof probe, "%s/authority-1of1", a.dir);
        taken = taken || access(probe, F_OK) == 0;
        if (taken)
            return cli_usage_error("lab %s: --dir %s already holds a lab; give a new or empty "
                                   "directory",
                                   lab->name, a.dir);
    }
    rc = lab->run(&a);
    if (made_temp)
        nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (rc == DM_EXIT_OK && !a.json)
        printf("\nThe lab's keys and files are in %s.\n", a.dir);
    return finish(rc);
}
