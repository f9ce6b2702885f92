/* doormat escrow: the exceptional-access side. Creating an authority, issuing
 * warrants, the agents' share release (with its audit entry), recovery, the
 * audit check, and a rogue sender's tamper tool for tests and classes. The
 * work is all in the escrow library; this file only parses flags, reads and
 * writes files, and turns errors into one line and an exit code. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_escrow.h"
#include "cli_service.h"
#include "doormat/service.h"
#include "labs.h"

enum {
    OPT_NAME = 256,
    OPT_AGENTS,
    OPT_THRESHOLD,
    OPT_COURT,
    OPT_AUTHORITY,
    OPT_CASE,
    OPT_EXPIRES,
    OPT_ISSUED,
    OPT_AGENT,
    OPT_WARRANT,
    OPT_LOG,
    OPT_SHARE,
    OPT_STRIP,
    OPT_CORRUPT,
    OPT_PQ,
    OPT_WITNESS,
    OPT_WITNESS_THRESHOLD,
    OPT_REQUESTER,
    OPT_URL,
};

static const struct option escrow_longopts[] = {
    {"name", required_argument, NULL, OPT_NAME},
    {"agents", required_argument, NULL, OPT_AGENTS},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"court", required_argument, NULL, OPT_COURT},
    {"authority", required_argument, NULL, OPT_AUTHORITY},
    {"case", required_argument, NULL, OPT_CASE},
    {"expires", required_argument, NULL, OPT_EXPIRES},
    {"issued", required_argument, NULL, OPT_ISSUED},
    {"agent", required_argument, NULL, OPT_AGENT},
    {"warrant", required_argument, NULL, OPT_WARRANT},
    {"log", required_argument, NULL, OPT_LOG},
    {"share", required_argument, NULL, OPT_SHARE},
    {"witness", required_argument, NULL, OPT_WITNESS},
    {"witness-threshold", required_argument, NULL, OPT_WITNESS_THRESHOLD},
    {"requester", required_argument, NULL, OPT_REQUESTER},
    {"url", required_argument, NULL, OPT_URL},
    {"strip", no_argument, NULL, OPT_STRIP},
    {"pq", no_argument, NULL, OPT_PQ},
    {"corrupt", no_argument, NULL, OPT_CORRUPT},
    {"identity", required_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Every subcommand takes the same option table; each says which it accepts. */
typedef struct escrow_args {
    const char *cmd; /* "escrow init", ... for messages */
    const char *name, *agents, *threshold, *court, *authority, *case_ref, *expires, *issued, *agent,
        *warrant, *log, *identity, *output, *witness_threshold, *requester;
    const char **shares, **witnesses, **urls;
    size_t n_shares, n_witnesses, n_urls;
    int strip, corrupt, pq;
    char **rest; /* positional arguments */
    int n_rest;
    int help; /* -h: the usage is printed and nothing else is done */
} escrow_args;

/* The options given once, each a string: where parse_args keeps each. */
static const struct {
    int opt;
    size_t offset;
} string_options[] = {
    {OPT_NAME, offsetof(escrow_args, name)},
    {OPT_AGENTS, offsetof(escrow_args, agents)},
    {OPT_THRESHOLD, offsetof(escrow_args, threshold)},
    {OPT_COURT, offsetof(escrow_args, court)},
    {OPT_AUTHORITY, offsetof(escrow_args, authority)},
    {OPT_CASE, offsetof(escrow_args, case_ref)},
    {OPT_EXPIRES, offsetof(escrow_args, expires)},
    {OPT_ISSUED, offsetof(escrow_args, issued)},
    {OPT_AGENT, offsetof(escrow_args, agent)},
    {OPT_WARRANT, offsetof(escrow_args, warrant)},
    {OPT_LOG, offsetof(escrow_args, log)},
    {OPT_WITNESS_THRESHOLD, offsetof(escrow_args, witness_threshold)},
    {OPT_REQUESTER, offsetof(escrow_args, requester)},
    {'i', offsetof(escrow_args, identity)},
    {'o', offsetof(escrow_args, output)},
};

static const char **string_slot(escrow_args *a, int opt) {
    for (size_t i = 0; i < sizeof string_options / sizeof string_options[0]; i++)
        if (string_options[i].opt == opt)
            return (const char **)((char *)a + string_options[i].offset);
    return NULL;
}

/* The lists parse_args allocates. */
static void escrow_args_free(escrow_args *a) {
    free(a->shares);
    free(a->witnesses);
    free(a->urls);
    a->shares = NULL;
    a->witnesses = NULL;
    a->urls = NULL;
}

/* Parses argv (argv[0] is the subcommand word); allowed lists the accepted
 * options by their enum value or short letter. Returns DM_EXIT_OK (a->help set
 * for -h: nothing else is read), or the exit code of a usage error, said. */
static int parse_args(int argc, char **argv, const char *cmd, const int *allowed, escrow_args *a) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->shares = calloc((size_t)argc + 1, sizeof *a->shares);
    a->witnesses = calloc((size_t)argc + 1, sizeof *a->witnesses);
    a->urls = calloc((size_t)argc + 1, sizeof *a->urls);
    if (a->shares == NULL || a->witnesses == NULL || a->urls == NULL)
        return cli_fail(DM_ERR_NOMEM, "%s", cmd);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":i:o:h", escrow_longopts, NULL)) != -1) {
        if (c == 'h') {
            a->help = 1;
            return DM_EXIT_OK;
        }
        if (!cli_option_in(c, allowed)) {
            if (c == '?' || c == ':')
                return cli_bad_option(cmd, argv, c);
            return cli_usage_error("%s: option %s does not apply here (see doormat escrow --help)",
                                   cmd, argv[optind - 1]);
        }
        const char **slot = string_slot(a, c);
        if (slot != NULL) {
            if (*slot != NULL)
                return cli_usage_error("%s: %s given twice", cmd, argv[optind - 1]);
            *slot = optarg;
        } else if (c == OPT_SHARE) {
            a->shares[a->n_shares++] = optarg;
        } else if (c == OPT_URL) {
            a->urls[a->n_urls++] = optarg;
        } else if (c == OPT_WITNESS) {
            a->witnesses[a->n_witnesses++] = optarg;
        } else if (c == OPT_STRIP) {
            a->strip = 1;
        } else if (c == OPT_PQ) {
            a->pq = 1;
        } else if (c == OPT_CORRUPT) {
            a->corrupt = 1;
        } else {
            return cli_bad_option(cmd, argv, c);
        }
    }
    a->rest = argv + optind;
    a->n_rest = argc - optind;
    return DM_EXIT_OK;
}

static int need(const escrow_args *a, const char *value, const char *flag) {
    if (value == NULL)
        return cli_usage_error("%s: missing %s (see doormat escrow --help)", a->cmd, flag);
    return DM_EXIT_OK;
}

/* The time the escrow commands live on: the real clock, and nothing else
 * (an agent's operator must not be able to honour an expired warrant or
 * backdate the transparency log). */
static int escrow_now(const char *cmd, time_t *now) {
    (void)cmd;
    *now = cli_now();
    return DM_EXIT_OK;
}

/* The exit code for loading what ("authority", "warrant", ...). */
static int loaded(const escrow_args *a, int err, const char *what) {
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s: %s", a->cmd, what);
}

static int load_authority(const escrow_args *a, dm_escrow_authority **auth) {
    int rc = need(a, a->authority, "--authority DIR/authority.pub");
    if (rc != DM_EXIT_OK)
        return rc;
    return loaded(a, dm_escrow_authority_load(a->authority, auth), "authority");
}

/* How every subcommand that acts for an authority begins: the date (when
 * now is non-NULL), the library, then --authority. */
static int start_with_authority(const escrow_args *a, time_t *now, dm_escrow_authority **auth) {
    int rc = now != NULL ? escrow_now(a->cmd, now) : DM_EXIT_OK;
    if (rc == DM_EXIT_OK)
        rc = cli_init();
    if (rc == DM_EXIT_OK)
        rc = load_authority(a, auth);
    return rc;
}

/* Secret key files and shares must be private, as identity files are. */
static int check_private(const escrow_args *a, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return cli_fail(dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno)), "%s", a->cmd);
    if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
        return cli_usage_error("%s: %s %s is readable by others; run chmod 600 %s", a->cmd,
                               strcmp(a->cmd, "escrow recover") == 0 ? "share" : "key file", path,
                               path);
    return DM_EXIT_OK;
}

/* The header and file id of an age file (binary or armored). */
static int read_header(const escrow_args *a, const char *path, dm_inspect_info *info) {
    memset(info, 0, sizeof *info);
    if (strcmp(path, "-") == 0)
        return cli_usage_error("%s: FILE must be a file, not standard input", a->cmd);
    int fd = cli_open_input(path);
    if (fd < 0)
        return DM_EXIT_FAILURE;
    int err = dm_inspect(dm_source_fd(&fd), info);
    close(fd);
    if (err != DM_OK) {
        dm_inspect_info_clear(info);
        return cli_fail(err, "%s: %s", a->cmd, path);
    }
    return DM_EXIT_OK;
}

static int write_all(int fd, const char *text, size_t len) {
    return dm_write_all(fd, text, len) == 0 ? DM_OK : dm_fail(DM_ERR_IO, "%s", strerror(errno));
}

static int write_output(const escrow_args *a, const char *path, const char *text, size_t len,
                        int mode) {
    cli_output out;
    int err = cli_output_open(&out, path, mode);
    if (err != DM_OK)
        return cli_fail(err, "%s: output", a->cmd);
    err = write_all(out.fd, text, len);
    if (err != DM_OK) {
        cli_output_abort(&out);
        return cli_fail(err, "%s: output", a->cmd);
    }
    err = cli_output_commit(&out);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s: output", a->cmd);
}

/* --witness VKEY (a witness.vkey file, or the key's text) and
 * --witness-threshold K (default: all of them). */
static int parse_witnesses(const escrow_args *a, dm_tlog_verifier **out, unsigned *k) {
    *out = NULL;
    if (a->n_witnesses > DM_ESCROW_MAX_WITNESSES)
        return cli_usage_error("%s: at most %d witnesses", a->cmd, DM_ESCROW_MAX_WITNESSES);
    dm_tlog_verifier *v = calloc(a->n_witnesses, sizeof *v);
    if (v == NULL)
        return cli_fail(DM_ERR_NOMEM, "%s", a->cmd);
    for (size_t i = 0; i < a->n_witnesses; i++) {
        const char *arg = a->witnesses[i];
        char *text = NULL;
        size_t len = strlen(arg);
        struct stat st;
        if (strchr(arg, '+') == NULL || stat(arg, &st) == 0) {
            int err = cli_read_file(arg, &text, &len);
            if (err != DM_OK) {
                free(v);
                return cli_fail(err, "%s: --witness %s", a->cmd, arg);
            }
            while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
                len--;
        }
        int err = dm_tlog_verifier_parse(text ? text : arg, len, &v[i]);
        if (err == DM_OK && v[i].type != DM_TLOG_SIG_COSIGNATURE)
            err =
                dm_fail(DM_ERR_USAGE, "%s is not a witness key (cosignature type 0x04)", v[i].name);
        free(text);
        if (err != DM_OK) {
            free(v);
            return cli_fail(err, "%s: --witness %s", a->cmd, arg);
        }
    }
    *k = (unsigned)a->n_witnesses;
    if (a->witness_threshold != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long t = strtoul(a->witness_threshold, &end, 10);
        if (errno != 0 || end == a->witness_threshold || *end != '\0' || t < 1 ||
            t > a->n_witnesses || a->witness_threshold[0] == '-' ||
            a->witness_threshold[0] == '+') {
            free(v);
            return cli_usage_error("%s: --witness-threshold wants a number from 1 to %zu, not "
                                   "\"%s\"",
                                   a->cmd, a->n_witnesses, a->witness_threshold);
        }
        *k = (unsigned)t;
    }
    *out = v;
    return DM_EXIT_OK;
}

/* ------------------------------------------------------------ init */

/* Every agent's TLS identity (made in memory, written after the authority)
 * and the --url NAME=URL flags, into the authority's network section. */
static int init_endpoints(const escrow_args *a, dm_escrow_authority *auth, char ***tls,
                          size_t **tls_len) {
    size_t n = dm_escrow_authority_agents(auth);
    for (size_t u = 0; u < a->n_urls; u++) {
        const char *eq = strchr(a->urls[u], '=');
        if (eq == NULL || eq == a->urls[u])
            return dm_fail(DM_ERR_USAGE, "--url wants NAME=https://HOST:PORT, not \"%s\"",
                           a->urls[u]);
        char name[DM_ESCROW_MAX_ENDPOINT_NAME + 1];
        size_t nlen = (size_t)(eq - a->urls[u]);
        if (nlen >= sizeof name)
            return dm_fail(DM_ERR_USAGE, "--url %s: no such agent or witness", a->urls[u]);
        memcpy(name, a->urls[u], nlen);
        name[nlen] = '\0';
        if (dm_escrow_authority_endpoint_url(auth, name) != NULL)
            return dm_fail(DM_ERR_USAGE, "--url: \"%s\" given twice", name);
        int err = dm_escrow_authority_set_endpoint(auth, name, NULL, eq + 1);
        if (err != DM_OK) {
            char why[400];
            snprintf(why, sizeof why, "%s", dm_err_detail());
            return dm_fail(err, "--url %s: %s", a->urls[u], why);
        }
    }
    const cli_service_api *svc = cli_service(a->cmd);
    if (svc == NULL)
        return dm_fail(DM_ERR_IO, "the TLS keys need the service library");
    *tls = calloc(n, sizeof **tls);
    *tls_len = calloc(n, sizeof **tls_len);
    if (*tls == NULL || *tls_len == NULL)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char pin[DM_ESCROW_TLS_PIN_LEN + 1];
        char cn[DM_ESCROW_MAX_AGENT_NAME + DM_ESCROW_MAX_NAME + 32];
        snprintf(cn, sizeof cn, "%s.%s.doormat-escrow", dm_escrow_authority_agent_name(auth, i),
                 dm_escrow_authority_name(auth));
        int err = svc->tls_new(cn, &(*tls)[i], &(*tls_len)[i], pin);
        if (err == DM_OK)
            err = dm_escrow_authority_set_endpoint(auth, dm_escrow_authority_agent_name(auth, i),
                                                   pin, NULL);
        if (err != DM_OK)
            return err;
    }
    return DM_OK;
}

static int init_write_tls(const char *dir, const dm_escrow_authority *auth, char **tls,
                          const size_t *tls_len) {
    for (size_t i = 0; i < dm_escrow_authority_agents(auth); i++) {
        size_t plen = strlen(dir) + DM_ESCROW_MAX_AGENT_NAME + 32;
        char *path = malloc(plen);
        if (path == NULL)
            return dm_fail(DM_ERR_NOMEM, "out of memory");
        snprintf(path, plen, "%s/agents/%s.tls.pem", dir, dm_escrow_authority_agent_name(auth, i));
        int err = dm_write_new_file(path, tls[i], tls_len[i], 0600);
        free(path);
        if (err != DM_OK)
            return err;
    }
    return DM_OK;
}

static int escrow_init(int argc, char **argv) {
    static const int allowed[] = {
        OPT_NAME, OPT_AGENTS, OPT_THRESHOLD, OPT_WITNESS, OPT_WITNESS_THRESHOLD, OPT_URL, OPT_PQ,
        'o',      0};
    escrow_args a;
    int rc = parse_args(argc, argv, "escrow init", allowed, &a);
    if (rc == DM_EXIT_OK && a.help) {
        escrow_args_free(&a);
        return cli_help(cli_escrow_usage);
    }
    dm_tlog_verifier *wits = NULL;
    unsigned wk = 0;
    if (rc == DM_EXIT_OK && a.witness_threshold != NULL && a.n_witnesses == 0)
        rc = cli_usage_error("escrow init: --witness-threshold without --witness");

    if (rc == DM_EXIT_OK && a.n_rest > 0)
        rc = cli_usage_error("escrow init: unexpected argument \"%s\"", a.rest[0]);
    if (rc == DM_EXIT_OK && (rc = need(&a, a.name, "--name NAME")) == DM_EXIT_OK)
        rc = need(&a, a.output, "-o DIR");
    if (rc == DM_EXIT_OK && a.n_witnesses > 0)
        rc = parse_witnesses(&a, &wits, &wk);
    char *list = NULL;
    const char **names = NULL;
    size_t n = 0;
    unsigned k = 0;
    if (rc == DM_EXIT_OK && a.threshold != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(a.threshold, &end, 10);
        if (errno != 0 || end == a.threshold || *end != '\0' || v < 1 || v > DM_ESCROW_MAX_AGENTS ||
            a.threshold[0] == '-')
            rc = cli_usage_error("escrow init: --threshold wants a number from 1 to %d, not \"%s\"",
                                 DM_ESCROW_MAX_AGENTS, a.threshold);
        k = (unsigned)v;
    }
    if (rc == DM_EXIT_OK && a.agents != NULL) {
        list = strdup(a.agents);
        names = calloc(strlen(a.agents) + 1, sizeof *names);
        if (list == NULL || names == NULL)
            rc = cli_fail(DM_ERR_NOMEM, "escrow init");
        for (char *p = list; rc == DM_EXIT_OK;) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = '\0';
            if (*p == '\0')
                rc = cli_usage_error("escrow init: --agents has an empty name (\"%s\")", a.agents);
            names[n++] = p;
            if (!comma)
                break;
            p = comma + 1;
        }
    }
    if (rc == DM_EXIT_OK)
        rc = cli_init();
    if (rc == DM_EXIT_OK) {
        dm_escrow_authority *auth = NULL;
        dm_escrow_agent_key **keys = NULL;
        dm_escrow_court_key *court = NULL;
        int err = dm_escrow_authority_new_ex(a.name, names, n, k, a.pq ? DM_ESCROW_PQ : 0, &auth,
                                             &keys, &court);
        if (err == DM_OK && a.n_witnesses > 0)
            err = dm_escrow_authority_set_witnesses(auth, keys, court, wits, a.n_witnesses, wk);
        char **tls = NULL;
        size_t *tls_len = NULL;
        if (err == DM_OK)
            err = init_endpoints(&a, auth, &tls, &tls_len);
        if (err == DM_OK)
            err = dm_escrow_authority_write_dir(a.output, auth, keys, court);
        if (err == DM_OK)
            err = init_write_tls(a.output, auth, tls, tls_len);
        if (tls != NULL)
            for (size_t i = 0; i < dm_escrow_authority_agents(auth); i++)
                dm_secret_free(tls[i]);
        free(tls);
        free(tls_len);
        if (err != DM_OK) {
            rc = cli_fail(err, "escrow init");
        } else {
            size_t agents = dm_escrow_authority_agents(auth);
            printf("authority: %s\nid: %s\nthreshold: %u of %zu\n", dm_escrow_authority_name(auth),
                   dm_escrow_authority_id_hex(auth), dm_escrow_authority_threshold(auth), agents);
            for (size_t i = 0; i < agents; i++)
                printf("agent: %s (%s/agents/%s.key, log %s/logs/%s)\n",
                       dm_escrow_authority_agent_name(auth, i), a.output,
                       dm_escrow_authority_agent_name(auth, i), a.output,
                       dm_escrow_authority_agent_name(auth, i));
            for (size_t i = 0; i < agents; i++)
                if (dm_escrow_authority_agent_url(auth, i) != NULL)
                    printf("agent %s serves at %s (TLS key %s/agents/%s.tls.pem)\n",
                           dm_escrow_authority_agent_name(auth, i),
                           dm_escrow_authority_agent_url(auth, i), a.output,
                           dm_escrow_authority_agent_name(auth, i));
            for (size_t i = 0; i < dm_escrow_authority_witnesses(auth); i++)
                printf("witness: %s\n", dm_escrow_authority_witness(auth, i)->name);
            if (dm_escrow_authority_witnesses(auth) > 0)
                printf("witness threshold: %u of %zu\n",
                       dm_escrow_authority_witness_threshold(auth),
                       dm_escrow_authority_witnesses(auth));
            printf("public: %s/authority.pub\n", a.output);
            rc = cli_flush_stdout("the authority's summary");
        }
        dm_escrow_agent_keys_free(keys, auth ? dm_escrow_authority_agents(auth) : 0);
        dm_escrow_court_key_free(court);
        dm_escrow_authority_free(auth);
    }
    free(wits);
    free(names);
    free(list);
    escrow_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------ warrant */

static int escrow_warrant(int argc, char **argv) {
    static const int allowed[] = {OPT_COURT,  OPT_AUTHORITY, OPT_CASE, OPT_EXPIRES,
                                  OPT_ISSUED, 'o',           0};
    escrow_args a;
    int rc = parse_args(argc, argv, "escrow warrant", allowed, &a);
    if (rc == DM_EXIT_OK && a.help) {
        escrow_args_free(&a);
        return cli_help(cli_escrow_usage);
    }
    if (rc == DM_EXIT_OK && (rc = need(&a, a.court, "--court DIR/court.key")) == DM_EXIT_OK &&
        (rc = need(&a, a.case_ref, "--case TEXT")) == DM_EXIT_OK &&
        (rc = need(&a, a.expires, "--expires YYYY-MM-DD")) == DM_EXIT_OK &&
        (rc = need(&a, a.output, "-o WARRANT")) == DM_EXIT_OK && a.n_rest == 0)
        rc = cli_usage_error("escrow warrant: name the FILE(s) the warrant covers");
    time_t now = 0;
    dm_escrow_authority *auth = NULL;
    dm_escrow_court_key *court = NULL;
    uint8_t(*ids)[DM_FILE_ID_LEN] = NULL;
    if (rc == DM_EXIT_OK)
        rc = start_with_authority(&a, &now, &auth);
    if (rc == DM_EXIT_OK && (rc = check_private(&a, a.court)) == DM_EXIT_OK)
        rc = loaded(&a, dm_escrow_court_key_load(auth, a.court, &court), "court key");
    if (rc == DM_EXIT_OK && (ids = calloc((size_t)a.n_rest, sizeof *ids)) == NULL)
        rc = cli_fail(DM_ERR_NOMEM, "escrow warrant");
    for (int i = 0; rc == DM_EXIT_OK && i < a.n_rest; i++) {
        dm_inspect_info info;
        rc = read_header(&a, a.rest[i], &info);
        if (rc == DM_EXIT_OK) {
            /* The id the escrow stanzas bind: the one the agents will check and
             * log. A file without the authority's stanzas has none (and no
             * agent has anything to open in it): its header's id names it. */
            int err = dm_escrow_file_id(auth, &info.header, ids[i]);
            if (err == DM_ERR_NO_STANZA) {
                memcpy(ids[i], info.file_id, DM_FILE_ID_LEN);
                err = DM_OK;
            }
            dm_inspect_info_clear(&info);
            if (err != DM_OK)
                rc = cli_fail(err, "%s: %s", a.cmd, a.rest[i]);
        }
    }
    if (rc == DM_EXIT_OK) {
        char today[11];
        char *text = NULL;
        size_t len = 0;
        int err = dm_escrow_date(now, today);
        if (err == DM_OK)
            err = dm_escrow_warrant_issue(auth, court, a.case_ref, a.issued ? a.issued : today,
                                          a.expires, (const uint8_t(*)[DM_FILE_ID_LEN])ids,
                                          (size_t)a.n_rest, &text, &len);
        rc = err == DM_OK ? write_output(&a, a.output, text, len, 0644)
                          : cli_fail(err, "escrow warrant");
        free(text);
    }
    free(ids);
    dm_escrow_court_key_free(court);
    dm_escrow_authority_free(auth);
    escrow_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------ unwrap */

/* Writes a share so that nothing of it is ever visible before it is whole
 * and durable: an unnamed O_TMPFILE in the target directory, linked into
 * place at the end. A process killed half way leaves no file at all (a
 * named temporary file would be left behind with the secret in it). An
 * existing file is never replaced. Returns DM_OK, or an error with the
 * detail set. */
static int write_share_file(const char *path, const char *text, size_t len) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return dm_fail(DM_ERR_IO, "%s: cannot create an unnamed file (%s)", dir, strerror(errno));
    int err = write_all(fd, text, len);
    if (err == DM_OK && (fchmod(fd, 0600) != 0 || fsync(fd) != 0))
        err = dm_fail(DM_ERR_IO, "%s: %s", path, strerror(errno));
    if (err == DM_OK) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0)
            err = dm_fail(errno == EEXIST ? DM_ERR_USAGE : DM_ERR_IO, "%s: %s", path,
                          errno == EEXIST ? "exists; a share is never written over a file"
                                          : strerror(errno));
    }
    close(fd);
    if (err == DM_OK) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            err = dm_fail(DM_ERR_IO, "%s: %s", dir, strerror(errno));
        if (dfd >= 0)
            close(dfd);
    }
    return err;
}

static int escrow_unwrap(int argc, char **argv) {
    static const int allowed[] = {OPT_AUTHORITY, OPT_AGENT,   OPT_WARRANT, OPT_LOG,
                                  OPT_REQUESTER, OPT_WITNESS, 'o',         0};
    escrow_args a;
    int rc = parse_args(argc, argv, "escrow unwrap", allowed, &a);
    if (rc == DM_EXIT_OK && a.help) {
        escrow_args_free(&a);
        return cli_help(cli_escrow_usage);
    }
    if (rc == DM_EXIT_OK && (rc = need(&a, a.agent, "--agent DIR/agents/AGENT.key")) == DM_EXIT_OK &&
        (rc = need(&a, a.warrant, "--warrant WARRANT")) == DM_EXIT_OK &&
        (rc = need(&a, a.log, "--log DIR/logs/AGENT")) == DM_EXIT_OK &&
        (rc = need(&a, a.output, "-o SHARE")) == DM_EXIT_OK && a.n_rest != 1)
        rc = cli_usage_error("escrow unwrap: name exactly one FILE");
    if (rc == DM_EXIT_OK && strcmp(a.output, "-") == 0)
        rc = cli_usage_error("escrow unwrap: -o SHARE must be a file (a share is a secret)");
    time_t now = 0;
    dm_escrow_authority *auth = NULL;
    dm_escrow_agent_key *agent = NULL;
    dm_escrow_warrant *w = NULL;
    dm_escrow_share *share = NULL;
    dm_inspect_info info;
    int have_info = 0;
    cli_witness *wits = NULL;
    dm_escrow_cosigner *cos = NULL;
    size_t n_wits = 0;
    if (rc == DM_EXIT_OK)
        rc = start_with_authority(&a, &now, &auth);
    if (rc == DM_EXIT_OK && (rc = check_private(&a, a.agent)) == DM_EXIT_OK)
        rc = loaded(&a, dm_escrow_agent_key_load(auth, a.agent, &agent), "agent key");
    if (rc == DM_EXIT_OK)
        rc = loaded(&a, dm_escrow_warrant_load(a.warrant, &w), "warrant");
    if (rc == DM_EXIT_OK && (rc = read_header(&a, a.rest[0], &info)) == DM_EXIT_OK)
        have_info = 1;
    if (rc == DM_EXIT_OK) {
        /* Refused before anything is logged; linkat refuses again at the end. */
        struct stat st;
        if (lstat(a.output, &st) == 0)
            rc = cli_usage_error("escrow unwrap: %s exists; a share is never written over a file",
                                 a.output);
    }
    if (rc == DM_EXIT_OK && a.n_witnesses > 0) {
        wits = calloc(a.n_witnesses, sizeof *wits);
        cos = calloc(a.n_witnesses, sizeof *cos);
        if (wits == NULL || cos == NULL)
            rc = cli_fail(DM_ERR_NOMEM, "escrow unwrap");
        for (; rc == DM_EXIT_OK && n_wits < a.n_witnesses; n_wits++) {
            rc = cli_witness_open("escrow unwrap", a.witnesses[n_wits], auth, &wits[n_wits]);
            if (rc != DM_EXIT_OK)
                break;
            cos[n_wits].add_checkpoint = cli_witness_add_checkpoint;
            cos[n_wits].ctx = &wits[n_wits];
            cos[n_wits].name = dm_tlog_witness_dir_verifier(wits[n_wits].dir)->name;
        }
    }
    if (rc == DM_EXIT_OK) {
        dm_escrow_release_opts opts = {.log_dir = a.log,
                                       .requester = a.requester,
                                       .cosigners = cos,
                                       .n_cosigners = n_wits,
                                       .holder = "doormat escrow unwrap"};
        int err = dm_escrow_release(auth, agent, w, &info.header, &opts, now, &share);
        char *text = NULL;
        size_t len = 0;
        if (err == DM_OK)
            err = dm_escrow_share_format(share, &text, &len);
        if (err == DM_OK)
            err = write_share_file(a.output, text, len);
        dm_secret_free(text);
        rc = err == DM_OK ? DM_EXIT_OK : cli_fail(err, "escrow unwrap");
    }
    if (rc == DM_EXIT_OK) {
        char case_hex[2 * DM_ESCROW_DIGEST_LEN + 1];
        dm_escrow_warrant_case_hex(w, case_hex);
        cli_msg("released agent %s's share of %s under the warrant of case %s (logged in %s)",
                dm_escrow_agent_key_name(agent), a.rest[0], case_hex, a.log);
    }
    for (size_t i = 0; i < n_wits; i++)
        cli_witness_close(&wits[i]);
    free(wits);
    free(cos);
    if (have_info)
        dm_inspect_info_clear(&info);
    dm_escrow_share_free(share);
    dm_escrow_warrant_free(w);
    dm_escrow_agent_key_free(agent);
    dm_escrow_authority_free(auth);
    escrow_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------ recover */

static int escrow_recover(int argc, char **argv) {
    static const int allowed[] = {OPT_AUTHORITY, OPT_SHARE, 'o', 0};
    escrow_args a;
    int rc = parse_args(argc, argv, "escrow recover", allowed, &a);
    if (rc == DM_EXIT_OK && a.help) {
        escrow_args_free(&a);
        return cli_help(cli_escrow_usage);
    }
    /* "--share A B FILE": every positional but the last is a share too. */
    if (rc == DM_EXIT_OK) {
        if (a.n_rest < 1)
            rc = cli_usage_error("escrow recover: name the FILE to recover");
        else {
            for (int i = 0; i + 1 < a.n_rest; i++)
                a.shares[a.n_shares++] = a.rest[i];
            rc = a.n_shares == 0 ? cli_usage_error("escrow recover: give at least one --share")
                                 : DM_EXIT_OK;
        }
    }
    const char *file = rc == DM_EXIT_OK ? a.rest[a.n_rest - 1] : NULL;
    dm_escrow_authority *auth = NULL;
    dm_escrow_share **shares = NULL;
    size_t n_loaded = 0;
    dm_inspect_info info;
    int have_info = 0;
    uint8_t *key = NULL;
    if (rc == DM_EXIT_OK)
        rc = start_with_authority(&a, NULL, &auth);
    if (rc == DM_EXIT_OK && (rc = read_header(&a, file, &info)) == DM_EXIT_OK)
        have_info = 1;
    uint8_t file_id[DM_FILE_ID_LEN];
    if (rc == DM_EXIT_OK && (shares = calloc(a.n_shares, sizeof *shares)) == NULL)
        rc = cli_fail(DM_ERR_NOMEM, "escrow recover");
    for (size_t i = 0; rc == DM_EXIT_OK && i < a.n_shares; i++) {
        /* A share is a secret like a key: one left readable by others is refused. */
        if ((rc = check_private(&a, a.shares[i])) != DM_EXIT_OK)
            break;
        if ((rc = loaded(&a, dm_escrow_share_load(auth, a.shares[i], &shares[i]), "share")) !=
            DM_EXIT_OK)
            break;
        n_loaded++;
        /* The shares name the file by the id its stanzas bind. */
        int fid_err = i == 0 ? dm_escrow_file_id(auth, &info.header, file_id) : DM_OK;
        if (fid_err != DM_OK) {
            rc = cli_fail(fid_err, "escrow recover: %s", file);
            break;
        }
        if (memcmp(dm_escrow_share_file_id(shares[i]), file_id, DM_FILE_ID_LEN) != 0)
            rc = cli_usage_error("escrow recover: share %s (agent %s) is for another file, not %s",
                                 a.shares[i], dm_escrow_share_agent(shares[i]), file);
        /* No share is used unless its release is shown to be logged. */
        int err =
            rc == DM_EXIT_OK ? dm_escrow_share_check_receipt(auth, shares[i], NULL, NULL) : DM_OK;
        if (err != DM_OK)
            rc = cli_fail(err, "escrow recover: %s", a.shares[i]);
    }
    uint8_t *misfit = NULL;
    if (rc == DM_EXIT_OK && (misfit = calloc(n_loaded + 1, 1)) == NULL)
        rc = cli_fail(DM_ERR_NOMEM, "escrow recover");
    if (rc == DM_EXIT_OK && (key = dm_secret_alloc(DM_FILE_KEY_LEN)) == NULL)
        rc = cli_fail(DM_ERR_NOMEM, "escrow recover");
    if (rc == DM_EXIT_OK) {
        int err = dm_escrow_recover_ex(auth, &info.header, shares, n_loaded, key, misfit);
        for (size_t i = 0; err == DM_OK && i < n_loaded; i++)
            if (misfit[i])
                cli_msg("escrow recover: warning: the share of agent %s (%s) does not fit the "
                        "others: it was signed by that agent but holds a wrong value; the file "
                        "was recovered without it",
                        dm_escrow_share_agent(shares[i]), a.shares[i]);
        if (err == DM_ERR_TOO_FEW_SHARES) {
            /* Exit 4 as for "no identity matched", in words that fit shares. */
            cli_msg("escrow recover: not enough shares: %s", dm_err_detail());
            rc = cli_exit_code(err);
        } else if (err != DM_OK) {
            rc = cli_fail(err, "escrow recover");
        }
    }
    if (rc == DM_EXIT_OK) {
        dm_identity *id = NULL;
        int fd = -1;
        cli_output out;
        int err = dm_file_key_identity_new(key, &id);
        if (err == DM_OK && (fd = cli_open_input(file)) < 0)
            rc = DM_EXIT_FAILURE;
        if (err == DM_OK && rc == DM_EXIT_OK) {
            err = cli_output_open(&out, a.output, 0666);
            if (err == DM_OK) {
                dm_decrypt_opts opts = {0};
                cli_escrow_decrypt_opts(NULL, &opts, &id, 1);
                err = dm_decrypt(dm_source_fd(&fd), dm_sink_fd(&out.fd), &id, 1, &opts);
                if (err == DM_OK)
                    err = cli_output_commit(&out);
                else
                    cli_output_abort(&out);
            }
        }
        if (rc == DM_EXIT_OK && err != DM_OK)
            rc = cli_fail(err, "escrow recover");
        if (fd >= 0)
            close(fd);
        dm_identity_free(id);
    }
    dm_secret_free(key);
    free(misfit);
    for (size_t i = 0; i < n_loaded; i++)
        dm_escrow_share_free(shares[i]);
    free(shares);
    if (have_info)
        dm_inspect_info_clear(&info);
    dm_escrow_authority_free(auth);
    escrow_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------ tamper */

static int escrow_tamper(int argc, char **argv) {
    static const int allowed[] = {OPT_STRIP, OPT_CORRUPT, 'i', 'o', 0};
    escrow_args a;
    int rc = parse_args(argc, argv, "escrow tamper", allowed, &a);
    if (rc == DM_EXIT_OK && a.help) {
        escrow_args_free(&a);
        return cli_help(cli_escrow_usage);
    }
    if (rc == DM_EXIT_OK && a.strip == a.corrupt)
        rc = cli_usage_error("escrow tamper: give exactly one of --strip and --corrupt");
    if (rc == DM_EXIT_OK && (rc = need(&a, a.identity, "-i IDENTITY")) == DM_EXIT_OK &&
        (rc = need(&a, a.output, "-o OUT")) == DM_EXIT_OK && a.n_rest != 1)
        rc = cli_usage_error("escrow tamper: name exactly one FILE");
    if (rc == DM_EXIT_OK)
        rc = cli_init();
    char *file = NULL, *secret = NULL;
    size_t file_len = 0, secret_len = 0;
    dm_identity **ids = NULL;
    size_t n_ids = 0;
    uint8_t *key = NULL, *forged = NULL;
    size_t forged_len = 0;
    if (rc == DM_EXIT_OK) {
        int err = cli_read_secret_file(a.identity, &secret, &secret_len);
        size_t line = 0;
        if (err == DM_OK)
            err = dm_identity_file_parse(secret, secret_len, &ids, &n_ids, &line);
        if (err != DM_OK)
            rc = cli_fail(err, "escrow tamper: identity file %s", a.identity);
    }
    if (rc == DM_EXIT_OK) {
        int err = cli_read_file(a.rest[0], &file, &file_len);
        if (err != DM_OK)
            rc = cli_fail(err, "escrow tamper");
    }
    if (rc == DM_EXIT_OK && (key = dm_secret_alloc(DM_FILE_KEY_LEN)) == NULL)
        rc = cli_fail(DM_ERR_NOMEM, "escrow tamper");
    if (rc == DM_EXIT_OK) {
        dm_membuf in = {.data = (const uint8_t *)file, .len = file_len};
        dm_decrypt_opts opts = {0};
        cli_escrow_decrypt_opts(NULL, &opts, ids, n_ids);
        opts.file_key_out = key;
        int err = dm_decrypt(dm_source_mem(&in), dm_sink_null(), ids, n_ids, &opts);
        if (err == DM_OK)
            err = dm_lab_tamper((const uint8_t *)file, file_len, key,
                                a.strip ? DM_LAB_TAMPER_STRIP : DM_LAB_TAMPER_CORRUPT, &forged,
                                &forged_len);
        rc = err == DM_OK ? write_output(&a, a.output, (const char *)forged, forged_len, 0644)
                          : cli_fail(err, "escrow tamper");
    }
    free(forged);
    dm_secret_free(key);
    for (size_t i = 0; i < n_ids; i++)
        dm_identity_free(ids[i]);
    free(ids);
    dm_secret_free(secret);
    free(file);
    escrow_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------ dispatch */

int cmd_escrow(int argc, char **argv) {
    if (argc < 2)
        return cli_usage_error(
            "escrow: missing subcommand (init, warrant, unwrap, recover, "
            "audit, witness, monitor, serve, request, tamper, authority; see doormat escrow "
            "--help)");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
        return cli_help(cli_escrow_usage);
    if (strcmp(sub, "init") == 0)
        return escrow_init(argc - 1, argv + 1);
    if (strcmp(sub, "warrant") == 0)
        return escrow_warrant(argc - 1, argv + 1);
    if (strcmp(sub, "unwrap") == 0)
        return escrow_unwrap(argc - 1, argv + 1);
    if (strcmp(sub, "recover") == 0)
        return escrow_recover(argc - 1, argv + 1);
    if (strcmp(sub, "audit") == 0)
        return cli_escrow_audit(argc - 1, argv + 1);
    if (strcmp(sub, "witness") == 0 && argc >= 3 && strcmp(argv[2], "serve") == 0)
        return cmd_escrow_witness_serve(argc - 2, argv + 2);
    if (strcmp(sub, "witness") == 0)
        return cli_escrow_witness(argc - 1, argv + 1);
    if (strcmp(sub, "serve") == 0)
        return cmd_escrow_serve(argc - 1, argv + 1);
    if (strcmp(sub, "request") == 0)
        return cmd_escrow_request(argc - 1, argv + 1);
    if (strcmp(sub, "monitor") == 0)
        return cli_escrow_monitor(argc - 1, argv + 1);
    if (strcmp(sub, "tamper") == 0)
        return escrow_tamper(argc - 1, argv + 1);
    if (strcmp(sub, "authority") == 0)
        return cli_escrow_authority(argc - 1, argv + 1);
    return cli_usage_error("escrow: unknown subcommand \"%s\" (see doormat escrow --help)", sub);
}
