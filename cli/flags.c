/* The flags of encrypt, decrypt, rekey and age's command line: one option
 * table, one parser, the checks they share, and the lists their keys are
 * read into (cli/flags.h). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flags.h"

/* Every long option of the four commands; a command takes those it names. */
static const struct option all_longopts[] = {
    {"recipient", required_argument, NULL, 'r'},
    {"recipients-file", required_argument, NULL, 'R'},
    {"identity", required_argument, NULL, 'i'},
    {"plugin", required_argument, NULL, 'j'},
    {"old-passphrase-file", required_argument, NULL, CLI_OPT_OLD_PASSPHRASE_FILE},
    {"passphrase", no_argument, NULL, 'p'},
    {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
    {"armor", no_argument, NULL, 'a'},
    {"escrow", required_argument, NULL, CLI_OPT_ESCROW},
    {"require-escrow", required_argument, NULL, CLI_OPT_REQUIRE_ESCROW},
    {"leaf-bits", required_argument, NULL, CLI_OPT_LEAF_BITS},
    {"crumple-bits", required_argument, NULL, CLI_OPT_CRUMPLE_BITS},
    {"output", required_argument, NULL, 'o'},
    {"threads", required_argument, NULL, CLI_OPT_THREADS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
#define N_LONGOPTS (sizeof all_longopts / sizeof all_longopts[0])

int cli_flags_init(cli_flags *f, int argc, const char *cmd) {
    memset(f, 0, sizeof *f);
    f->specs = calloc((size_t)argc + 1, sizeof *f->specs);
    return f->specs != NULL ? DM_EXIT_OK : cli_fail(DM_ERR_NOMEM, "%s", cmd);
}

void cli_flags_clear(cli_flags *f) {
    if (f == NULL)
        return;
    free(f->specs);
    memset(f, 0, sizeof *f);
}

void cli_flags_push_spec(cli_flags *f, int c, const char *value) {
    f->specs[f->n_specs].kind = c == 'R'   ? CLI_SPEC_RECIPIENTS_FILE
                                : c == 'i' ? CLI_SPEC_IDENTITY_FILE
                                : c == 'j' ? CLI_SPEC_PLUGIN
                                           : CLI_SPEC_RECIPIENT;
    f->specs[f->n_specs++].value = value;
}

size_t cli_flags_count(const cli_flags *f, cli_spec_kind kind) {
    size_t n = 0;
    for (size_t i = 0; i < f->n_specs; i++)
        n += f->specs[i].kind == kind;
    return n;
}

/* A flag that may be given once. */
static int flag_once(const char *cmd, const char *flag, const char **slot, const char *value) {
    if (*slot != NULL)
        return cli_usage_error("%s: %s given twice", cmd, flag);
    *slot = value;
    return DM_EXIT_OK;
}

static int flag_threads(const char *cmd, const char *value, unsigned *threads) {
    if (cli_parse_threads(value, threads) != DM_OK)
        return cli_usage_error("%s: --threads wants a number from 0 to %u, not \"%s\"", cmd,
                               CLI_MAX_THREADS, value);
    return DM_EXIT_OK;
}

/* One flag the command takes (getopt saw it in the command's table). */
static int take_flag(const char *cmd, int c, const char *value, cli_flags *f) {
    switch (c) {
    case 'r':
    case 'R':
    case 'i':
    case 'j':
        cli_flags_push_spec(f, c, value);
        return DM_EXIT_OK;
    case 'p':
        f->passphrase_tty = 1;
        return DM_EXIT_OK;
    case CLI_OPT_PASSPHRASE_FILE:
        return flag_once(cmd, "--passphrase-file", &f->passphrase_file, value);
    case CLI_OPT_OLD_PASSPHRASE_FILE:
        return flag_once(cmd, "--old-passphrase-file", &f->old_passphrase_file, value);
    case 'a':
        f->armor = 1;
        return DM_EXIT_OK;
    case CLI_OPT_ESCROW:
        return flag_once(cmd, "--escrow", &f->escrow, value);
    case CLI_OPT_REQUIRE_ESCROW:
        return flag_once(cmd, "--require-escrow", &f->require_escrow, value);
    case CLI_OPT_LEAF_BITS:
    case CLI_OPT_CRUMPLE_BITS:
        return cli_escrow_mode_flag(cmd, c == CLI_OPT_LEAF_BITS, value, &f->escrow_opts);
    case 'o':
        f->output = value;
        return DM_EXIT_OK;
    case CLI_OPT_THREADS:
        return flag_threads(cmd, value, &f->threads);
    case 'h':
        f->help = 1;
        return DM_EXIT_OK;
    default: /* not reached: getopt returns the command's flags only */
        return DM_EXIT_FAILURE;
    }
}

int cli_flags_parse(const char *cmd, int argc, char **argv, const char *shortopts,
                    const int *allowed, cli_flags *f) {
    int rc = cli_flags_init(f, argc, cmd);
    if (rc != DM_EXIT_OK)
        return rc;
    struct option longopts[N_LONGOPTS];
    size_t n = 0;
    for (const struct option *o = all_longopts; o->name != NULL; o++)
        if (cli_option_in(o->val, allowed))
            longopts[n++] = *o;
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    opterr = 0;
    int c;
    while (rc == DM_EXIT_OK && !f->help &&
           (c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
        rc =
            cli_option_in(c, allowed) ? take_flag(cmd, c, optarg, f) : cli_bad_option(cmd, argv, c);
    return rc;
}

int cli_flags_check_new(const char *cmd, const cli_flags *f, size_t n_rcpts, int argc, char **argv,
                        const char *rcpt_any, const char *rcpt_all, const char *new_) {
    int passphrase = f->passphrase_tty || f->passphrase_file != NULL;
    if (argc - optind > 1)
        return cli_usage_error("%s: more than one input (\"%s\", \"%s\"); see doormat %s --help",
                               cmd, argv[optind], argv[optind + 1], cmd);
    if (f->passphrase_tty && f->passphrase_file != NULL)
        return cli_usage_error("%s: -p and --passphrase-file can't be used together", cmd);
    if (passphrase && n_rcpts > 0)
        return cli_usage_error("%s: a passphrase can't be combined with %s (a passphrase stanza "
                               "must stand alone)",
                               cmd, rcpt_any);
    if (!passphrase && n_rcpts == 0)
        return cli_usage_error("%s: no %srecipients: use %s, -p or --passphrase-file (see "
                               "doormat %s --help)",
                               cmd, new_, rcpt_all, cmd);
    if (f->escrow_opts.mode != DM_ESCROW_MODE_SHAMIR && f->escrow == NULL)
        return cli_usage_error("%s: --leaf-bits and --crumple-bits need --escrow", cmd);
    return DM_EXIT_OK;
}

/* Standard input can feed only one of IN, a key file or a passphrase file.
 * IN is stdin when absent; the others only when they are "-". */
int cli_is_stdin(const char *arg, int absent_is_stdin) {
    return arg == NULL ? absent_is_stdin : strcmp(arg, "-") == 0;
}

static void warn_duplicates(const cli_spec *specs, size_t n, cli_spec_kind kind, const char *what) {
    for (size_t i = 0; i < n; i++) {
        if (specs[i].kind != kind)
            continue;
        /* A secret pasted as a recipient is refused later, and never echoed. */
        if (kind == CLI_SPEC_RECIPIENT && (strncmp(specs[i].value, "AGE-SECRET-KEY-", 15) == 0 ||
                                           dm_is_plugin_identity(specs[i].value)))
            continue;
        int seen_before = 0, seen_after = 0;
        for (size_t j = 0; j < i && !seen_before; j++)
            seen_before = specs[j].kind == kind && strcmp(specs[j].value, specs[i].value) == 0;
        for (size_t j = i + 1; j < n && !seen_after; j++)
            seen_after = specs[j].kind == kind && strcmp(specs[j].value, specs[i].value) == 0;
        if (!seen_before && seen_after)
            cli_msg("warning: duplicate %s \"%s\"", what, specs[i].value);
    }
}

void cli_warn_duplicates(const cli_spec *specs, size_t n) {
    warn_duplicates(specs, n, CLI_SPEC_RECIPIENT, "recipient");
    warn_duplicates(specs, n, CLI_SPEC_RECIPIENTS_FILE, "recipients file");
    warn_duplicates(specs, n, CLI_SPEC_IDENTITY_FILE, "identity file");
}

/* Whether OUT would replace one of the files the run reads (IN, a key or
 * recipients file): the same file, however named (same device and inode). */
static int same_file(const char *out, const char *in) {
    if (out == NULL || in == NULL || strcmp(out, "-") == 0 || strcmp(in, "-") == 0)
        return 0;
    struct stat so, si;
    return stat(out, &so) == 0 && stat(in, &si) == 0 && so.st_dev == si.st_dev &&
           so.st_ino == si.st_ino;
}

/* -o naming the input encrypted it in place, and -d -i key -o key replaced
 * the key with plaintext. */
int cli_refuse_output_over_input(const char *cmd, const char *out, const char *input,
                                 const char *const *files, size_t n_files) {
    int clash = same_file(out, input);
    for (size_t i = 0; i < n_files && !clash; i++)
        clash = same_file(out, files[i]);
    if (clash)
        return cli_usage_error("%s: input and output file are the same: \"%s\"", cmd, out);
    return DM_EXIT_OK;
}

int cli_refuse_binary_tty(const char *cmd) {
    return cli_usage_error("%s: refusing to write binary ciphertext to a terminal; "
                           "use -a (--armor) or -o FILE (\"-o -\" forces it)",
                           cmd);
}

int cli_finish_output(cli_output *out, int err, const char *cmd) {
    if (err != DM_OK) {
        cli_output_abort(out);
        return cli_fail(err, "%s", cmd);
    }
    err = cli_output_commit(out);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s", cmd);
}

/* ------------------------------------------------------------- lists */

static int grow(void **items, size_t *cap, size_t len, size_t elem, const char *what) {
    if (len < *cap)
        return DM_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *n = realloc(*items, ncap * elem);
    if (n == NULL)
        return dm_fail(DM_ERR_NOMEM, "%s", what);
    *items = n;
    *cap = ncap;
    return DM_OK;
}

int cli_rcpt_push(cli_rcpt_list *l, dm_recipient *r) {
    int err = grow((void **)&l->items, &l->cap, l->len, sizeof *l->items, "recipient list");
    if (err != DM_OK) {
        dm_recipient_free(r);
        return err;
    }
    l->items[l->len++] = r;
    return DM_OK;
}

int cli_ident_push(cli_ident_list *l, dm_identity *id) {
    int err = grow((void **)&l->items, &l->cap, l->len, sizeof *l->items, "identity list");
    if (err != DM_OK) {
        dm_identity_free(id);
        return err;
    }
    l->items[l->len++] = id;
    return DM_OK;
}

int cli_rcpt_push_all(cli_rcpt_list *l, dm_recipient **items, size_t n) {
    int err = DM_OK;
    size_t i = 0;
    for (; i < n && err == DM_OK; i++)
        err = cli_rcpt_push(l, items[i]);
    for (; i < n; i++)
        dm_recipient_free(items[i]);
    free(items);
    return err;
}

int cli_ident_push_all(cli_ident_list *l, dm_identity **items, size_t n) {
    int err = DM_OK;
    size_t i = 0;
    for (; i < n && err == DM_OK; i++)
        err = cli_ident_push(l, items[i]);
    for (; i < n; i++)
        dm_identity_free(items[i]);
    free(items);
    return err;
}

void cli_rcpt_list_clear(cli_rcpt_list *l) {
    for (size_t i = 0; i < l->len; i++)
        dm_recipient_free(l->items[i]);
    free(l->items);
}

void cli_ident_list_clear(cli_ident_list *l) {
    for (size_t i = 0; i < l->len; i++)
        dm_identity_free(l->items[i]);
    free(l->items);
}
