/* doormat escrow audit, witness and monitor: the transparency log of
 * releases from the command line. The work is in escrow/ and tlog; this file
 * parses flags, reads and writes files, prints, and maps errors to exit codes. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "cli_escrow.h"
#include "cli_service.h"

enum {
    O_AUTHORITY = 256,
    O_SINCE,
    O_INDEX,
    O_WITNESS,
    O_NAME,
    O_STATE,
    O_LOGS,
    O_LOGS_CA,
    O_IDENTITY,
};

static const struct option log_longopts[] = {
    {"authority", required_argument, NULL, O_AUTHORITY},
    {"since", required_argument, NULL, O_SINCE},
    {"index", required_argument, NULL, O_INDEX},
    {"witness", required_argument, NULL, O_WITNESS},
    {"name", required_argument, NULL, O_NAME},
    {"state", required_argument, NULL, O_STATE},
    {"logs", required_argument, NULL, O_LOGS},
    {"logs-ca", required_argument, NULL, O_LOGS_CA},
    {"identity", required_argument, NULL, O_IDENTITY},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct log_args {
    const char *cmd;
    const char *authority, *since, *index, *witness, *name, *state, *logs, *logs_ca, *identity,
        *output;
    char **rest;
    int n_rest;
    int help; /* -h: the usage is printed and nothing else is done */
} log_args;

/* The long name of an option (argv[optind - 1] is its value when that came
 * as a word of its own). */
static const char *flag_name(int c) {
    for (const struct option *o = log_longopts; o->name != NULL; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

/* Parses argv (argv[0] is the last subcommand word); allowed lists the
 * options taken. DM_EXIT_OK (a->help set for -h), or the exit code of a
 * usage error, said. */
static int parse(int argc, char **argv, const char *cmd, const int *allowed, log_args *a) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:i:h", log_longopts, NULL)) != -1) {
        if (c == 'h') {
            a->help = 1;
            return DM_EXIT_OK;
        }
        if (c == 'i')
            c = O_IDENTITY;
        if (!cli_option_in(c, allowed)) {
            if (c == '?' || c == ':')
                return cli_bad_option(cmd, argv, c);
            return cli_usage_error(
                "%s: option --%s does not apply here (see doormat escrow --help)", cmd,
                flag_name(c));
        }
        const char **slot = c == O_AUTHORITY  ? &a->authority
                            : c == O_SINCE    ? &a->since
                            : c == O_INDEX    ? &a->index
                            : c == O_WITNESS  ? &a->witness
                            : c == O_NAME     ? &a->name
                            : c == O_STATE    ? &a->state
                            : c == O_LOGS     ? &a->logs
                            : c == O_LOGS_CA  ? &a->logs_ca
                            : c == O_IDENTITY ? &a->identity
                                              : &a->output;
        if (*slot != NULL)
            return cli_usage_error("%s: --%s given twice", cmd, flag_name(c));
        *slot = optarg;
    }
    a->rest = argv + optind;
    a->n_rest = argc - optind;
    return DM_EXIT_OK;
}

static int need(const log_args *a, const char *value, const char *flag) {
    if (value == NULL)
        return cli_usage_error("%s: missing %s (see doormat escrow --help)", a->cmd, flag);
    return DM_EXIT_OK;
}

static int parse_size(const log_args *a, const char *flag, const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || s[0] == '+' ||
        (s[0] == '0' && s[1] != '\0'))
        return cli_usage_error("%s: %s wants a number, not \"%s\"", a->cmd, flag, s);
    *out = v;
    return DM_EXIT_OK;
}

static int load_authority(const log_args *a, dm_escrow_authority **auth) {
    int rc = need(a, a->authority, "--authority DIR/authority.pub");
    if (rc == DM_EXIT_OK)
        rc = cli_init();
    if (rc == DM_EXIT_OK) {
        int err = dm_escrow_authority_load(a->authority, auth);
        if (err != DM_OK)
            rc = cli_fail(err, "%s: authority", a->cmd);
    }
    return rc;
}

/* The published checkpoint of a log and the agent whose log it is. */
static int read_checkpoint(const log_args *a, dm_tlog_fetcher f, const char *where,
                           const dm_escrow_authority *auth, char **text, size_t *len,
                           size_t *agent) {
    uint8_t *data = NULL;
    int err = f.fetch(f.ctx, "checkpoint", &data, len);
    if (err != DM_OK)
        return cli_fail(err == DM_ERR_NOT_FOUND ? DM_ERR_IO : err, "%s: %s", a->cmd, where);
    dm_tlog_note *n = NULL;
    dm_tlog_checkpoint c;
    err = dm_tlog_note_parse((const char *)data, *len, &n);
    if (err == DM_OK)
        err = dm_tlog_checkpoint_parse(n->text, n->text_len, &c);
    dm_tlog_note_free(n);
    if (err != DM_OK) {
        free(data);
        return cli_fail(DM_ERR_LOG, "%s: %s/checkpoint", a->cmd, where);
    }
    for (size_t i = 0; i < dm_escrow_authority_agents(auth); i++)
        if (strcmp(dm_escrow_authority_log_key(auth, i)->name, c.origin) == 0) {
            *agent = i;
            *text = (char *)data;
            return DM_EXIT_OK;
        }
    free(data);
    return cli_fail(dm_fail(DM_ERR_LOG, "the checkpoint is for log \"%s\", not a log of %s",
                            c.origin, dm_escrow_authority_name(auth)),
                    "%s: %s", a->cmd, where);
}

/* How many of the authority's witnesses validly cosigned a checkpoint. */
static unsigned cosignatures(const dm_escrow_authority *auth, size_t agent, const char *text,
                             size_t len) {
    size_t nw = dm_escrow_authority_witnesses(auth);
    dm_tlog_verifier vs[DM_ESCROW_MAX_WITNESSES + 1];
    uint8_t ok[DM_ESCROW_MAX_WITNESSES + 1] = {0};
    vs[0] = *dm_escrow_authority_log_key(auth, agent);
    for (size_t i = 0; i < nw; i++)
        vs[i + 1] = *dm_escrow_authority_witness(auth, i);
    dm_tlog_note *n = NULL;
    unsigned have = 0;
    if (dm_tlog_note_parse(text, len, &n) == DM_OK &&
        dm_tlog_note_verify(n, vs, nw + 1, ok, NULL) == DM_OK)
        for (size_t i = 1; i <= nw; i++)
            have += ok[i];
    dm_tlog_note_free(n);
    return have;
}

/* ------------------------------------------------------------- entries */

typedef struct lister {
    const dm_escrow_authority *auth;
    size_t agent;
    const uint8_t (*files)[DM_FILE_ID_LEN];
    size_t n_files;
    int print;
    uint64_t shown, seen;
    uint64_t list_from; /* entries before it are checked, not listed nor counted */
    char last_time[21]; /* the latest entry time so far, "" at first */
    /* The witnesses' times: entries from after_from on were not in a
     * checkpoint cosigned at after.time; every entry is in one cosigned at
     * before.time (time 0: none known). */
    dm_escrow_witness_time after, before;
    uint64_t after_from;
} lister;

static int list_entry(void *ctx, uint64_t index, const uint8_t *entry, size_t len) {
    lister *l = ctx;
    dm_escrow_entry e;
    const char *agent = dm_escrow_authority_agent_name(l->auth, l->agent);
    if (dm_escrow_entry_parse(entry, len, &e) != DM_OK)
        return dm_fail(DM_ERR_LOG, "entry %" PRIu64 " of agent %s's log is not a release entry",
                       index, agent);
    if (memcmp(e.authority_id, dm_escrow_authority_id(l->auth), DM_ESCROW_ID_LEN) != 0 ||
        strcmp(e.agent, agent) != 0)
        return dm_fail(DM_ERR_LOG,
                       "entry %" PRIu64 " of agent %s's log records a release by %s of another "
                       "authority or agent",
                       index, agent, e.agent);
    if (dm_escrow_entry_in_order(&e, index, l->last_time) != DM_OK ||
        dm_escrow_entry_in_witness_time(&e, index, index >= l->after_from ? &l->after : NULL,
                                        &l->before) != DM_OK) {
        char why[400];
        snprintf(why, sizeof why, "%s", dm_err_detail());
        return dm_fail(DM_ERR_LOG, "agent %s's log: %s", agent, why);
    }
    if (index < l->list_from)
        return DM_OK;
    l->seen++;
    int match = l->n_files == 0;
    for (size_t i = 0; !match && i < l->n_files; i++)
        match = memcmp(l->files[i], e.file_id, DM_FILE_ID_LEN) == 0;
    if (!match || !l->print)
        return DM_OK;
    char file[2 * DM_FILE_ID_LEN + 1], cs[2 * DM_ESCROW_DIGEST_LEN + 1],
        w[2 * DM_ESCROW_DIGEST_LEN + 1];
    sodium_bin2hex(file, sizeof file, e.file_id, DM_FILE_ID_LEN);
    sodium_bin2hex(cs, sizeof cs, e.case_digest, DM_ESCROW_DIGEST_LEN);
    sodium_bin2hex(w, sizeof w, e.warrant, DM_ESCROW_DIGEST_LEN);
    printf("%s %s #%" PRIu64 " file %s warrant %.16s case %.16s requester %s\n", e.time, e.agent,
           index, file, w, cs, e.requester);
    l->shown++;
    return DM_OK;
}

/* ------------------------------------------------------------ audit */

static int audit_verify(int argc, char **argv) {
    static const int allowed[] = {O_AUTHORITY, O_SINCE, 0};
    log_args a;
    int rc = parse(argc, argv, "escrow audit verify", allowed, &a);
    if (rc == DM_EXIT_OK && a.help)
        return cli_help(cli_escrow_usage);
    if (rc == DM_EXIT_OK)
        rc = a.n_rest == 1 ? DM_EXIT_OK : cli_usage_error("escrow audit verify: name one LOGDIR");
    dm_escrow_authority *auth = NULL;
    char *text = NULL, *old_text = NULL;
    size_t len = 0, old_len = 0, agent = 0;
    if (rc == DM_EXIT_OK)
        rc = load_authority(&a, &auth);
    const char *dir = rc == DM_EXIT_OK ? a.rest[0] : NULL;
    dm_tlog_fetcher f = dm_tlog_dir_fetcher(dir ? dir : ".");
    if (rc == DM_EXIT_OK)
        rc = read_checkpoint(&a, f, dir, auth, &text, &len, &agent);
    dm_tlog_checkpoint c, old;
    const dm_tlog_verifier *key =
        rc == DM_EXIT_OK ? dm_escrow_authority_log_key(auth, agent) : NULL;
    if (rc == DM_EXIT_OK) {
        int err = dm_tlog_checkpoint_open(text, len, key, NULL, 0, 0, &c);
        if (err != DM_OK)
            rc = cli_fail(DM_ERR_LOG, "escrow audit verify: %s/checkpoint: %s", dir,
                          dm_err_detail());
    }
    if (rc == DM_EXIT_OK && a.since != NULL) {
        int err = cli_read_file(a.since, &old_text, &old_len);
        if (err != DM_OK)
            rc = cli_fail(err, "escrow audit verify: --since");
        else if ((err = dm_tlog_checkpoint_open(old_text, old_len, key, NULL, 0, 0, &old)) != DM_OK)
            rc = cli_fail(DM_ERR_LOG, "escrow audit verify: --since %s: %s", a.since,
                          dm_err_detail());
    }
    lister l = {.auth = auth, .agent = agent};
    if (rc == DM_EXIT_OK) {
        /* The witnesses' times bound the entries' (a checkpoint whose
         * cosignatures do not verify gives none: the count below says 0). */
        if (dm_escrow_checkpoint_witness_times(auth, agent, text, len, &l.before, NULL) != DM_OK)
            memset(&l.before, 0, sizeof l.before);
        if (a.since != NULL && dm_escrow_checkpoint_witness_times(auth, agent, old_text, old_len,
                                                                  NULL, &l.after) == DM_OK)
            l.after_from = old.size;
        else
            l.after_from = UINT64_MAX;
        int err = dm_tlog_verify_log(f, &c, list_entry, &l);
        if (err == DM_OK && a.since != NULL)
            err = dm_tlog_catch_up(f, &old, &c, NULL, NULL);
        if (err != DM_OK)
            rc = cli_fail(err, "escrow audit verify: %s", dir);
    }
    if (rc == DM_EXIT_OK) {
        printf("%s: OK, log of agent %s (%s), %" PRIu64 " entr%s: every entry, every tile and the "
               "checkpoint signature verified\n",
               dir, dm_escrow_authority_agent_name(auth, agent), c.origin, c.size,
               c.size == 1 ? "y" : "ies");
        printf("witness cosignatures: %u valid (the authority asks for %u)\n",
               cosignatures(auth, agent, text, len), dm_escrow_authority_witness_threshold(auth));
        if (a.since != NULL)
            printf("consistent with %s (size %" PRIu64 "): nothing was removed or rewritten\n",
                   a.since, old.size);
        rc = cli_flush_stdout("the result");
    }
    dm_tlog_fetcher_clear(&f);
    free(text);
    free(old_text);
    dm_escrow_authority_free(auth);
    return rc;
}

static int audit_prove(int argc, char **argv) {
    static const int allowed[] = {O_AUTHORITY, O_SINCE, O_INDEX, 0};
    log_args a;
    int rc = parse(argc, argv, "escrow audit prove", allowed, &a);
    if (rc == DM_EXIT_OK && a.help)
        return cli_help(cli_escrow_usage);
    if (rc == DM_EXIT_OK && (a.since == NULL) == (a.index == NULL))
        rc = cli_usage_error("escrow audit prove: give one of --index N and --since N");
    if (rc == DM_EXIT_OK)
        rc = a.n_rest == 1 ? DM_EXIT_OK : cli_usage_error("escrow audit prove: name one LOGDIR");
    uint64_t n = 0;
    if (rc == DM_EXIT_OK)
        rc = parse_size(&a, a.index ? "--index" : "--since", a.index ? a.index : a.since, &n);
    dm_escrow_authority *auth = NULL;
    char *text = NULL, *out = NULL;
    size_t len = 0, agent = 0, out_len = 0;
    if (rc == DM_EXIT_OK)
        rc = load_authority(&a, &auth);
    dm_tlog_fetcher f = dm_tlog_dir_fetcher(rc == DM_EXIT_OK ? a.rest[0] : ".");
    if (rc == DM_EXIT_OK)
        rc = read_checkpoint(&a, f, a.rest[0], auth, &text, &len, &agent);
    dm_tlog_checkpoint c;
    dm_tlog_reader *r = NULL;
    if (rc == DM_EXIT_OK) {
        int err = dm_tlog_checkpoint_open(text, len, dm_escrow_authority_log_key(auth, agent), NULL,
                                          0, 0, &c);
        if (err == DM_OK && ((a.index && n >= c.size) || (a.since && n > c.size)))
            err = dm_fail(DM_ERR_USAGE, "the log has %" PRIu64 " entries", c.size);
        if (err == DM_OK)
            err = dm_tlog_reader_new(f, c.size, &r);
        if (err == DM_OK && a.index) {
            dm_tlog_proof p = {.index = n, .checkpoint = text, .checkpoint_len = len};
            err = dm_tlog_reader_entry(r, n, &p.extra, &p.extra_len);
            if (err == DM_OK)
                err = dm_tlog_prove_inclusion(dm_tlog_reader_hash, r, n, c.size, p.path, &p.n);
            if (err == DM_OK)
                err = dm_tlog_proof_format(&p, &out, &out_len);
            free(p.extra);
        } else if (err == DM_OK) {
            dm_tlog_hash proof[DM_TLOG_MAX_PROOF];
            size_t np = 0;
            err = dm_tlog_prove_consistency(dm_tlog_reader_hash, r, n, c.size, proof, &np);
            if (err == DM_OK)
                err = dm_tlog_witness_request(n, proof, np, text, len, &out, &out_len);
        }
        if (err != DM_OK)
            rc = cli_fail(err, "%s: %s", a.cmd, a.rest[0]);
    }
    if (rc == DM_EXIT_OK) {
        fwrite(out, 1, out_len, stdout);
        rc = cli_flush_stdout("the proof");
    }
    dm_tlog_reader_free(r);
    dm_tlog_fetcher_clear(&f);
    free(out);
    free(text);
    dm_escrow_authority_free(auth);
    return rc;
}

int cli_escrow_audit(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return audit_verify(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "prove") == 0)
        return audit_prove(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cli_help(cli_escrow_usage);
    return cli_usage_error("escrow audit: the subcommands are \"verify\" and \"prove\" (doormat "
                           "escrow audit verify --authority DIR/authority.pub LOGDIR)");
}

/* ------------------------------------------------------------ witness */

int cli_witness_open(const char *cmd, const char *wdir, const dm_escrow_authority *auth,
                     cli_witness *w) {
    memset(w, 0, sizeof *w);
    char path[DM_TLOG_MAX_PATH];
    if (dm_tlog_witness_dir_path(wdir, DM_TLOG_WITNESS_KEY_FILE, path, sizeof path) != DM_OK)
        return cli_usage_error("%s: %s: path too long", cmd, wdir);
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
        return cli_usage_error("%s: %s is readable by others; run chmod 600 %s", cmd, path, path);
    dm_tlog_verifier logs[DM_ESCROW_MAX_AGENTS];
    size_t n_logs = 0;
    for (size_t i = 0; i < dm_escrow_authority_agents(auth); i++)
        logs[n_logs++] = *dm_escrow_authority_log_key(auth, i);
    char *text = NULL;
    size_t len = 0;
    int err = cli_read_secret_file(path, &text, &len);
    if (err == DM_OK)
        err = dm_tlog_witness_dir_open(wdir, text, len, logs, n_logs, &w->dir);
    dm_secret_free(text);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s: witness %s", cmd, wdir);
}

void cli_witness_close(cli_witness *w) {
    dm_tlog_witness_dir_free(w->dir);
    w->dir = NULL;
}

int cli_witness_add_checkpoint(void *ctx, const char *body, size_t len, int *status,
                               char **response, size_t *response_len) {
    cli_witness *w = ctx;
    return dm_tlog_witness_dir_add_checkpoint(w->dir, body, len, (uint64_t)cli_now(), status,
                                              response, response_len);
}

static int witness_init(int argc, char **argv) {
    static const int allowed[] = {O_NAME, 'o', 0};
    log_args a;
    int rc = parse(argc, argv, "escrow witness init", allowed, &a);
    if (rc == DM_EXIT_OK && a.help)
        return cli_help(cli_escrow_usage);
    if (rc == DM_EXIT_OK && a.n_rest > 0)
        rc = cli_usage_error("escrow witness init: unexpected argument \"%s\"", a.rest[0]);
    if (rc == DM_EXIT_OK && (rc = need(&a, a.name, "--name NAME")) == DM_EXIT_OK)
        rc = need(&a, a.output, "-o WDIR");
    if (rc == DM_EXIT_OK)
        rc = cli_init();
    char *vk = NULL;
    char key[DM_TLOG_MAX_PATH], pub[DM_TLOG_MAX_PATH], state[DM_TLOG_MAX_PATH];
    if (rc == DM_EXIT_OK &&
        (dm_tlog_witness_dir_path(a.output, DM_TLOG_WITNESS_KEY_FILE, key, sizeof key) != DM_OK ||
         dm_tlog_witness_dir_path(a.output, DM_TLOG_WITNESS_VKEY_FILE, pub, sizeof pub) != DM_OK ||
         dm_tlog_witness_dir_path(a.output, DM_TLOG_WITNESS_STATE_DIR, state, sizeof state) !=
             DM_OK))
        rc = cli_usage_error("escrow witness init: %s: path too long", a.output);
    if (rc == DM_EXIT_OK) {
        int err = dm_tlog_witness_dir_create(a.output, a.name, &vk);
        if (err != DM_OK) {
            rc = cli_fail(err, "escrow witness init");
        } else {
            printf("witness: %s\nkey: %s (secret)\npublic: %s\n%s\n", a.name, key, pub, vk);
            rc = cli_flush_stdout("the witness's summary");
        }
    }
    free(vk);
    return rc;
}

static int witness_add(int argc, char **argv) {
    static const int allowed[] = {O_WITNESS, O_AUTHORITY, 0};
    log_args a;
    int rc = parse(argc, argv, "escrow witness add-checkpoint", allowed, &a);
    if (rc == DM_EXIT_OK && a.help)
        return cli_help(cli_escrow_usage);
    if (rc == DM_EXIT_OK && a.n_rest > 1)
        rc = cli_usage_error("escrow witness add-checkpoint: at most one REQUEST");
    if (rc == DM_EXIT_OK)
        rc = need(&a, a.witness, "--witness WDIR");
    dm_escrow_authority *auth = NULL;
    cli_witness w = {0};
    int have_w = 0;
    if (rc == DM_EXIT_OK)
        rc = load_authority(&a, &auth);
    if (rc == DM_EXIT_OK && (rc = cli_witness_open(a.cmd, a.witness, auth, &w)) == DM_EXIT_OK)
        have_w = 1;
    char *body = NULL, *resp = NULL;
    size_t len = 0, resp_len = 0;
    if (rc == DM_EXIT_OK) {
        int err = cli_read_file(a.n_rest == 1 ? a.rest[0] : NULL, &body, &len);
        int status = 0;
        if (err == DM_OK)
            err = cli_witness_add_checkpoint(&w, body, len, &status, &resp, &resp_len);
        if (err != DM_OK) {
            rc = cli_fail(err, "%s", a.cmd);
        } else if (status == 200) {
            fwrite(resp, 1, resp_len, stdout);
            rc = cli_flush_stdout("the cosignature");
        } else {
            while (resp_len > 0 && resp[resp_len - 1] == '\n')
                resp_len--;
            cli_msg("%s: refused (%d): %.*s", a.cmd, status, (int)resp_len, resp);
            rc = status == 400 || status == 404 ? DM_EXIT_USAGE : DM_EXIT_LOG;
        }
    }
    free(body);
    free(resp);
    if (have_w)
        cli_witness_close(&w);
    dm_escrow_authority_free(auth);
    return rc;
}

int cli_escrow_witness(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "init") == 0)
        return witness_init(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "add-checkpoint") == 0)
        return witness_add(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cli_help(cli_escrow_usage);
    return cli_usage_error("escrow witness: the subcommands are \"init\" and \"add-checkpoint\"");
}

/* ------------------------------------------------------------ monitor */

/* The ids under which an agent logs the releases of an age file: the id its
 * escrow stanzas for auth bind (what an agent checks and logs, whatever
 * header a requester sends), and, given the owner's identities, the id
 * derived from its file key (the same, unless the sender bound another).
 * Appends one or two ids at files[*n]. */
static int file_ids(const char *cmd, const dm_escrow_authority *auth, const char *path,
                    dm_identity *const *ids, size_t n_ids, uint8_t (*files)[DM_FILE_ID_LEN],
                    size_t *n) {
    int fd = cli_open_input(path);
    if (fd < 0)
        return DM_EXIT_FAILURE;
    dm_inspect_info info;
    int err = dm_inspect(dm_source_fd(&fd), &info);
    close(fd);
    if (err == DM_ERR_PAYLOAD)
        err = DM_OK;
    size_t had = *n;
    int bound = err == DM_OK ? dm_escrow_file_id(auth, &info.header, files[*n]) : err;
    if (bound == DM_OK)
        (*n)++;
    else if (bound != DM_ERR_NO_STANZA || n_ids == 0)
        err = bound; /* no escrow stanza: only the owner's key can name the file */
    uint8_t *key = NULL;
    if (err == DM_OK && n_ids > 0) {
        key = dm_secret_alloc(DM_FILE_KEY_LEN);
        err = key ? DM_ERR_NO_MATCH : dm_fail(DM_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n_ids && err == DM_ERR_NO_MATCH; i++)
            if (ids[i]->unwrap(ids[i], &info.header.stanzas, key) == DM_OK)
                err = dm_header_verify_mac(&info.header, key) == DM_OK
                          ? DM_OK
                          : dm_fail(DM_ERR_HMAC, "the header MAC does not verify with its key");
        if (err == DM_ERR_NO_MATCH)
            err = dm_fail(DM_ERR_NO_MATCH, "no identity opens it");
        if (err == DM_OK)
            err = dm_escrow_file_id_of_key(key, files[*n]);
        if (err == DM_OK && (*n == had || memcmp(files[had], files[*n], DM_FILE_ID_LEN) != 0))
            (*n)++;
        dm_secret_free(key);
    }
    dm_inspect_info_clear(&info);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s: %s", cmd, path);
}

static int monitor_fetched(const log_args *a, const dm_escrow_authority *auth, size_t agent,
                           dm_tlog_fetcher f, const uint8_t (*files)[DM_FILE_ID_LEN],
                           size_t n_files);

/* A log published on a web server: agent NAME's log is the directory NAME/
 * under the URL, read through the one fetcher (one connection) of the URL. */
typedef struct published_log {
    const dm_tlog_fetcher *site;
    const char *name;
} published_log;

static int fetch_published(void *ctx, const char *path, uint8_t **data, size_t *len) {
    const published_log *p = ctx;
    char sub[512];
    if ((size_t)snprintf(sub, sizeof sub, "%s/%s", p->name, path) >= sizeof sub)
        return dm_fail(DM_ERR_INTERNAL, "%s/%s: path too long", p->name, path);
    return p->site->fetch(p->site->ctx, sub, data, len);
}

/* The log of one agent: from its directory under logs; with --logs https
 * from the agent over HTTPS (its url: and tls: lines; service/fetch.c); with
 * --logs https://URL from URL/NAME/ on a web server (site). */
static int monitor_log(const log_args *a, const dm_escrow_authority *auth, size_t agent,
                       const char *logs, const dm_tlog_fetcher *site,
                       const uint8_t (*files)[DM_FILE_ID_LEN], size_t n_files) {
    const char *name = dm_escrow_authority_agent_name(auth, agent);
    dm_tlog_fetcher f = {0};
    if (site != NULL) {
        published_log p = {.site = site, .name = name};
        f.fetch = fetch_published;
        f.ctx = &p;
        return monitor_fetched(a, auth, agent, f, files, n_files);
    }
    if (strcmp(logs, "https") != 0) {
        char dir[4096];
        if ((size_t)snprintf(dir, sizeof dir, "%s/%s", logs, name) >= sizeof dir)
            return cli_usage_error("%s: %s: path too long", a->cmd, logs);
        return monitor_fetched(a, auth, agent, dm_tlog_dir_fetcher(dir), files, n_files);
    }
    const char *url = dm_escrow_authority_agent_url(auth, agent);
    const char *pin = dm_escrow_authority_agent_tls_pin(auth, agent);
    char base[DM_ESCROW_MAX_URL + 8];
    if (url == NULL || pin == NULL)
        return cli_usage_error("%s: --logs https: authority.pub gives no %s for agent %s", a->cmd,
                               url == NULL ? "url:" : "tls:", name);
    snprintf(base, sizeof base, "%s/log", url);
    const cli_service_api *svc = cli_service(a->cmd);
    if (svc == NULL)
        return DM_EXIT_FAILURE;
    int err = svc->fetcher_new(base, pin, 30, &f);
    if (err != DM_OK)
        return cli_fail(err, "%s: log of agent %s", a->cmd, name);
    int rc = monitor_fetched(a, auth, agent, f, files, n_files);
    dm_tlog_fetcher_clear(&f);
    return rc;
}

static int monitor_fetched(const log_args *a, const dm_escrow_authority *auth, size_t agent,
                           dm_tlog_fetcher f, const uint8_t (*files)[DM_FILE_ID_LEN],
                           size_t n_files) {
    const char *name = dm_escrow_authority_agent_name(auth, agent);
    const dm_tlog_verifier *key = dm_escrow_authority_log_key(auth, agent);
    char state[DM_TLOG_MAX_PATH] = "";
    if (a->state != NULL &&
        dm_tlog_monitor_state_path(a->state, key->name, state, sizeof state) != DM_OK)
        return cli_usage_error("%s: %s: path too long", a->cmd, a->state);
    uint8_t *data = NULL;
    size_t len = 0;
    int err = f.fetch(f.ctx, "checkpoint", &data, &len);
    if (err != DM_OK)
        return cli_fail(err == DM_ERR_NOT_FOUND ? DM_ERR_IO : err, "%s: log of agent %s", a->cmd,
                        name);
    dm_tlog_checkpoint c, old;
    /* The empty tree a log starts with was never cosigned (escrow init makes
     * it without the witnesses); every larger one must be. */
    err = dm_tlog_checkpoint_open((const char *)data, len, key, NULL, 0, 0, &c);
    if (err == DM_OK && c.size > 0)
        err = dm_tlog_checkpoint_open(
            (const char *)data, len, key,
            dm_escrow_authority_witnesses(auth) ? dm_escrow_authority_witness(auth, 0) : NULL,
            dm_escrow_authority_witnesses(auth), dm_escrow_authority_witness_threshold(auth), &c);
    if (err != DM_OK) {
        free(data);
        return cli_fail(DM_ERR_LOG, "%s: log of agent %s", a->cmd, name);
    }
    char *old_text = NULL;
    size_t old_len = 0;
    int have_old = 0, legacy = 0;
    lister l = {.auth = auth, .agent = agent, .files = files, .n_files = n_files, .print = 1};
    /* Every entry lies before the witnesses' earliest time on this checkpoint. */
    err = dm_escrow_checkpoint_witness_times(auth, agent, (const char *)data, len, &l.before, NULL);
    struct stat st;
    if (err == DM_OK && state[0] && stat(state, &st) == 0) {
        err = cli_read_file(state, &old_text, &old_len);
        dm_tlog_monitor_state kept = {0};
        if (err == DM_OK) {
            err = dm_tlog_monitor_state_parse(old_text, old_len, &kept);
            const char *old_note = kept.note;
            size_t old_note_len = kept.note_len;
            legacy = kept.legacy;
            memcpy(l.last_time, kept.last_entry, sizeof l.last_time);
            if (err == DM_OK)
                err = dm_tlog_checkpoint_open(old_note, old_note_len, key, NULL, 0, 0, &old);
            /* The new entries were not in the kept tree when its witnesses
             * cosigned it. */
            if (err == DM_OK)
                err = dm_escrow_checkpoint_witness_times(auth, agent, old_note, old_note_len, NULL,
                                                         &l.after);
            if (err != DM_OK) {
                char d[256];
                snprintf(d, sizeof d, "%s", dm_err_detail()); /* dm_fail writes over it */
                err = dm_fail(DM_ERR_LOG, "the kept checkpoint %s: %s", state, d);
            }
            have_old = err == DM_OK;
            l.after_from = have_old ? old.size : 0;
        }
    }
    /* A kept checkpoint without the time of its last entry (older doormat)
     * gives the order check nothing to start from: the whole log is read
     * again (only the new entries listed), then checked against it. */
    if (err == DM_OK && have_old && legacy) {
        l.list_from = old.size;
        err = dm_tlog_verify_log(f, &c, list_entry, &l);
        if (err == DM_OK)
            err = dm_tlog_catch_up(f, &old, &c, NULL, NULL);
    } else if (err == DM_OK) {
        err = have_old ? dm_tlog_catch_up(f, &old, &c, list_entry, &l)
                       : dm_tlog_verify_log(f, &c, list_entry, &l);
    }
    if (err == DM_OK && state[0])
        err = dm_tlog_monitor_state_save(state, (const char *)data, len, l.last_time);
    int rc = err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s: log of agent %s", a->cmd, name);
    /* The summary goes with the listing on standard output: standard error
     * carries failures only, one line each. */
    if (rc == DM_EXIT_OK && have_old)
        printf("log %s: OK at size %" PRIu64 ", consistent with the kept size %" PRIu64 " (%" PRIu64
               " new entr%s, %" PRIu64 " listed)\n",
               name, c.size, old.size, l.seen, l.seen == 1 ? "y" : "ies", l.shown);
    else if (rc == DM_EXIT_OK)
        printf("log %s: OK at size %" PRIu64 ", verified from nothing (%" PRIu64 " listed)\n", name,
               c.size, l.shown);
    free(old_text);
    free(data);
    return rc;
}

int cli_escrow_monitor(int argc, char **argv) {
    static const int allowed[] = {O_AUTHORITY, O_STATE, O_LOGS, O_LOGS_CA, O_IDENTITY, 0};
    log_args a;
    int rc = parse(argc, argv, "escrow monitor", allowed, &a);
    if (rc == DM_EXIT_OK && a.help)
        return cli_help(cli_escrow_usage);
    /* A URL names a web server that publishes the log directories. */
    int published = rc == DM_EXIT_OK && a.logs != NULL && strstr(a.logs, "://") != NULL;
    if (rc == DM_EXIT_OK && a.logs_ca != NULL && !published)
        rc = cli_usage_error("escrow monitor: --logs-ca applies to --logs https://URL only");
    if (rc == DM_EXIT_OK && a.identity != NULL && a.n_rest == 0)
        rc = cli_usage_error("escrow monitor: -i IDENTITY names files: give the FILE(s)");
    dm_escrow_authority *auth = NULL;
    uint8_t(*files)[DM_FILE_ID_LEN] = NULL;
    size_t n_files = 0;
    dm_identity **ids = NULL;
    size_t n_ids = 0;
    char logs[4096];
    if (rc == DM_EXIT_OK)
        rc = load_authority(&a, &auth);
    if (rc == DM_EXIT_OK) {
        if (a.logs != NULL) {
            snprintf(logs, sizeof logs, "%s", a.logs);
        } else {
            /* Beside authority.pub, where escrow init put them. */
            snprintf(logs, sizeof logs, "%s", a.authority);
            char *slash = strrchr(logs, '/');
            if (slash)
                snprintf(slash, sizeof logs - (size_t)(slash - logs), "/logs");
            else
                snprintf(logs, sizeof logs, "logs");
        }
    }
    const cli_service_api *svc = NULL;
    dm_tlog_fetcher site = {0};
    if (rc == DM_EXIT_OK && published && (svc = cli_service(a.cmd)) == NULL)
        rc = DM_EXIT_FAILURE;
    if (rc == DM_EXIT_OK && published) {
        int err = svc->fetcher_new_ca(a.logs, a.logs_ca, 30, &site);
        if (err != DM_OK)
            rc = cli_fail(err, "escrow monitor: --logs%s", a.logs_ca ? " / --logs-ca" : "");
    }
    if (rc == DM_EXIT_OK && a.state != NULL && mkdir(a.state, 0755) != 0 && errno != EEXIST)
        rc = cli_fail(dm_fail(DM_ERR_IO, "%s: %s", a.state, strerror(errno)), "escrow monitor");
    if (rc == DM_EXIT_OK && a.identity != NULL) {
        char *secret = NULL;
        size_t secret_len = 0, line = 0;
        int err = cli_read_secret_file(a.identity, &secret, &secret_len);
        if (err == DM_OK)
            err = dm_identity_file_parse(secret, secret_len, &ids, &n_ids, &line);
        dm_secret_free(secret);
        if (err != DM_OK)
            rc = cli_fail(err, "escrow monitor: identity file %s", a.identity);
    }
    if (rc == DM_EXIT_OK && a.n_rest > 0 &&
        (files = calloc(2 * (size_t)a.n_rest, sizeof *files)) == NULL)
        rc = cli_fail(DM_ERR_NOMEM, "escrow monitor");
    for (int i = 0; rc == DM_EXIT_OK && i < a.n_rest; i++)
        rc = file_ids(a.cmd, auth, a.rest[i], ids, n_ids, files, &n_files);
    /* Every log is checked even after one fails; the worst failure decides.
     * But a web server whose certificate is not trusted serves no log that
     * could be read: one line says so, not one per log. */
    int worst = DM_EXIT_OK;
    for (size_t i = 0; rc == DM_EXIT_OK && i < dm_escrow_authority_agents(auth); i++) {
        int r = monitor_log(&a, auth, i, logs, published ? &site : NULL,
                            (const uint8_t(*)[DM_FILE_ID_LEN])files, n_files);
        if (r != DM_EXIT_OK && (worst == DM_EXIT_OK || r == DM_EXIT_LOG))
            worst = r;
        if (published && r == DM_EXIT_DENIED)
            break;
    }
    if (rc == DM_EXIT_OK)
        rc = cli_flush_stdout("the accesses");
    if (rc == DM_EXIT_OK)
        rc = worst;
    if (site.fetch != NULL)
        dm_tlog_fetcher_clear(&site);
    free(files);
    for (size_t i = 0; i < n_ids; i++)
        dm_identity_free(ids[i]);
    free(ids);
    dm_escrow_authority_free(auth);
    return rc;
}
