/* doormat keygen: new X25519 identities in age-keygen's file format, and the
 * recipient of an existing identity file (-y). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char keygen_usage[] =
    "Usage:\n"
    "  doormat keygen [-pq] [-o FILE] [--force]\n"
    "  doormat keygen -y [-o OUT] [FILE]\n"
    "\n"
    "Makes a new X25519 identity and writes it in age-keygen's format:\n"
    "\n"
    "  # created: 2026-01-01T12:00:00Z\n"
    "  # public key: age1...\n"
    "  AGE-SECRET-KEY-1...\n"
    "\n"
    "Give the public key (the recipient, age1...) to whoever encrypts to you;\n"
    "keep the file. The file works with age and age-keygen too.\n"
    "\n"
    "With -pq the identity is a hybrid post-quantum one (ML-KEM-768 with X25519,\n"
    "age 1.3's AGE-SECRET-KEY-PQ-1... and age1pq1...); a build whose OpenSSL is\n"
    "older than 3.5 has no ML-KEM and says so (exit 2).\n"
    "\n"
    "Options:\n"
    "  -pq, --pq          make a hybrid post-quantum identity (age-keygen -pq)\n"
    "  -o, --output FILE  write the identity to FILE (mode 0600) instead of standard\n"
    "                     output; unless the identity goes to a terminal, \"Public\n"
    "                     key: age1...\" is printed on standard error (as age-keygen)\n"
    "      --force        replace FILE if it exists (without it, keygen refuses and\n"
    "                     exits 1 rather than destroy a key)\n"
    "  -y                 print the recipient of each identity in FILE (standard input\n"
    "                     if none), one per line, whatever FILE's mode (as age-keygen)\n"
    "  -h, --help         this text\n";

enum { OPT_FORCE = 256 };

static const struct option keygen_longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"force", no_argument, NULL, OPT_FORCE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct keygen_args {
    const char *output;
    int force;
    int pq;
    int to_recipient;
    const char *input;
} keygen_args;

static int write_all(int fd, const char *buf, size_t n) {
    if (dm_write_all(fd, buf, n) != 0)
        return dm_fail(DM_ERR_IO, "writing the output: %s", strerror(errno));
    return DM_OK;
}

/* RFC 3339 in UTC: what age-keygen writes, without needing the time zone database. */
static void rfc3339_now(char out[32]) {
    time_t now = cli_now();
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "1970-01-01T00:00:00Z");
}

static int generate(const keygen_args *a) {
    if (a->output != NULL && !a->force && strcmp(a->output, "-") != 0) {
        struct stat st;
        if (lstat(a->output, &st) == 0) {
            cli_msg("keygen: %s already exists; use --force to replace it", a->output);
            return DM_EXIT_FAILURE;
        }
    }
    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    char *secret = NULL, *public = NULL, *text = NULL;
    int err = a->pq ? dm_pq_keygen(&secret, &public) : dm_x25519_keygen(&secret, &public);
    if (err != DM_OK)
        return cli_fail(err, "keygen");

    char created[32];
    rfc3339_now(created);
    size_t cap = strlen(secret) + strlen(public) + 128;
    text = dm_secret_alloc(cap);
    if (text == NULL) {
        rc = cli_fail(DM_ERR_NOMEM, "keygen");
        goto done;
    }
    int n = snprintf(text, cap, "# created: %s\n# public key: %s\n%s\n", created, public, secret);
    if (n < 0 || (size_t)n >= cap) {
        rc = cli_fail(DM_ERR_INTERNAL, "keygen: formatting the key file");
        goto done;
    }

    cli_output out;
    err = cli_output_open(&out, a->output, 0600);
    if (err != DM_OK) {
        rc = cli_fail(err, "keygen");
        goto done;
    }
    out.no_replace = !a->force;
    /* As age-keygen does: "doormat keygen > key.txt" leaves the secret in a file
     * the umask made readable by everyone. */
    struct stat out_st;
    if (fstat(out.fd, &out_st) == 0 && S_ISREG(out_st.st_mode) && (out_st.st_mode & S_IROTH))
        cli_msg("keygen: warning: writing secret key to a world-readable file");
    err = write_all(out.fd, text, (size_t)n);
    if (err != DM_OK) {
        cli_output_abort(&out);
        rc = cli_fail(err, "keygen");
        goto done;
    }
    /* As age-keygen: the public key on standard error unless the key went to a terminal. */
    int to_terminal = out.is_tty;
    err = cli_output_commit(&out);
    if (err != DM_OK) {
        rc = cli_fail(err, "keygen");
        goto done;
    }
    if (!to_terminal)
        fprintf(stderr, "Public key: %s\n", public);
    rc = DM_EXIT_OK;
done:
    dm_secret_free(text);
    dm_secret_free(secret);
    free(public);
    return rc;
}

static void free_identities(dm_identity **ids, size_t n) {
    for (size_t i = 0; i < n; i++)
        dm_identity_free(ids[i]);
    free(ids);
}

static int print_recipients(const keygen_args *a) {
    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    const char *name = a->input != NULL && strcmp(a->input, "-") != 0 ? a->input : "standard input";
    char *text = NULL;
    size_t len = 0;
    int err = cli_read_identity_file(a->input, &text, &len);
    if (err != DM_OK)
        return cli_fail(err, "keygen -y");

    /* The library's parser is the one judge of the file, so -y and decrypt agree. */
    dm_identity **ids = NULL;
    size_t n_ids = 0, bad_line = 0;
    err = dm_identity_file_parse(text, len, &ids, &n_ids, &bad_line);
    if (err != DM_OK) {
        dm_secret_free(text);
        (void)bad_line; /* the detail names the line; a secret line is never echoed */
        return cli_fail(err, "keygen -y: identity file %s", name);
    }
    free_identities(ids, n_ids);

    cli_output out;
    err = cli_output_open(&out, a->output, 0666);
    if (err != DM_OK) {
        dm_secret_free(text);
        return cli_fail(err, "keygen -y");
    }
    size_t printed = 0;
    char *line = text;
    while (err == DM_OK && line < text + len) {
        char *end = memchr(line, '\n', (size_t)(text + len - line));
        char *next = end != NULL ? end + 1 : text + len;
        if (end == NULL)
            end = text + len;
        while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            end--;
        /* NUL-terminating in place keeps the secret inside guarded memory. */
        char saved = *end;
        *end = '\0';
        if (line[0] != '\0' && line[0] != '#') {
            char *public = NULL;
            err = dm_pq_is_identity(line) ? dm_pq_identity_to_recipient(line, &public)
                                          : dm_x25519_identity_to_recipient(line, &public);
            if (err == DM_OK) {
                err = write_all(out.fd, public, strlen(public));
                if (err == DM_OK)
                    err = write_all(out.fd, "\n", 1);
                free(public);
                printed++;
            }
        }
        *end = saved;
        line = next;
    }
    dm_secret_free(text);
    if (err == DM_OK && printed == 0)
        err = dm_fail(DM_ERR_USAGE, "no identity in %s", name);
    if (err != DM_OK) {
        cli_output_abort(&out);
        return cli_fail(err, "keygen -y");
    }
    err = cli_output_commit(&out);
    if (err != DM_OK)
        return cli_fail(err, "keygen -y");
    return DM_EXIT_OK;
}

int cmd_keygen(int argc, char **argv) {
    keygen_args a = {0};
    int c;
    /* age-keygen's -pq is one Go flag, not -p -q: taken out before getopt. */
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "-pq") == 0 || strcmp(argv[i], "--pq") == 0)
            a.pq = 1;
        else
            argv[kept++] = argv[i];
    }
    argv[kept] = NULL;
    argc = kept;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:yh", keygen_longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            a.output = optarg;
            break;
        case OPT_FORCE:
            a.force = 1;
            break;
        case 'y':
            a.to_recipient = 1;
            break;
        case 'h':
            return cli_help(keygen_usage);
        default:
            return cli_bad_option("keygen", argv, c);
        }
    }
    int rest = argc - optind;
    if (a.to_recipient) {
        if (a.pq)
            return cli_usage_error(
                "keygen: -pq and -y can't be combined (see doormat keygen --help)");
        if (rest > 1)
            return cli_usage_error("keygen: -y takes at most one FILE (see doormat keygen --help)");
        a.input = rest == 1 ? argv[optind] : NULL;
        return print_recipients(&a);
    }
    if (rest > 0)
        return cli_usage_error("keygen: unexpected argument \"%s\" (see doormat keygen --help)",
                               argv[optind]);
    return generate(&a);
}
