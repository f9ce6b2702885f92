/* doormat encrypt and doormat decrypt: flags become recipients or identities,
 * then the vault streams IN to a safe OUT. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_escrow.h"

static const char encrypt_usage[] =
    "Usage:\n"
    "  doormat encrypt (-r RECIPIENT | -R FILE | -j NAME)... [-a] [-o OUT]\n"
    "                  [--threads N] [IN]\n"
    "  doormat encrypt (-p | --passphrase-file FILE) [-a] [-o OUT] [--threads N] [IN]\n"
    "\n"
    "Encrypts IN (standard input if none or \"-\") to every recipient given, in the\n"
    "age v1 format. Any one of the recipients' identities opens the file; nobody\n"
    "else can, not even whoever made it.\n"
    "\n"
    "Options:\n"
    "  -r, --recipient RECIPIENT   encrypt to an X25519 recipient (age1...) or a plugin\n"
    "                              recipient (age1NAME1..., runs age-plugin-NAME);\n"
    "                              repeatable\n"
    "  -R, --recipients-file FILE  encrypt to every recipient in FILE: one per line,\n"
    "                              '#' comments and blank lines allowed; repeatable,\n"
    "                              and may be mixed with -r\n"
    "  -j, --plugin NAME           encrypt to the default identity of age-plugin-NAME\n"
    "                              (found on $PATH; see \"Plugins\" in the README)\n"
    "  -p, --passphrase            encrypt with a passphrase read from the terminal\n"
    "                              without echo, asked twice (scrypt, work factor 2^18)\n"
    "      --passphrase-file FILE  encrypt with the first line of FILE as the passphrase\n"
    "                              (a passphrase can't be combined with -r or -R)\n"
    "      --escrow FILE           also escrow the file key to the authority in FILE\n"
    "                              (DIR/authority.pub of doormat escrow init): one\n"
    "                              doormat-escrow stanza per agent; plain age ignores\n"
    "                              them. Allowed beside a passphrase: a doormat\n"
    "                              extension that age refuses (see docs/escrow-format.md)\n"
    "      --leaf-bits N           with --escrow: Clipper mode, an N-bit LEAF checksum\n"
    "                              (1-64) is all a compliant client can check (labs)\n"
    "      --crumple-bits C        with --escrow: crumple zone, each recovery by the\n"
    "                              authority costs a 2^C search (1-48; labs)\n"
    "  -a, --armor                 write PEM-style ASCII armor instead of binary\n"
    "  -o, --output OUT            write to OUT (atomically: a temporary file renamed\n"
    "                              into place on success) instead of standard output\n"
    "      --threads N             seal payload chunks on N threads (0: one per CPU)\n"
    "  -h, --help                  this text\n"
    "\n"
    "Binary ciphertext is never written to a terminal (exit 2): use -a, -o or a\n"
    "redirection.\n"
    "\n"
    "Plugins run age-plugin-NAME from $PATH: its messages appear on standard error,\n"
    "its questions on the terminal. A plugin missing from $PATH is exit 2; one that\n"
    "crashes, gives no answer for DOORMAT_PLUGIN_TIMEOUT seconds (default 60; 0: no\n"
    "limit), breaks the protocol or reports an error is exit 1. Nothing is written then.\n"
    "\n"
    "Examples:\n"
    "  doormat encrypt -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p \\\n"
    "      -o report.pdf.age report.pdf\n"
    "  doormat encrypt -R team.txt -a < notes.txt > notes.txt.age\n"
    "  doormat encrypt -p -o diary.age diary.txt\n"
    "  doormat encrypt -r age1yubikey1q... -o notes.age notes.txt   # a plugin\n";

static const char decrypt_usage[] =
    "Usage:\n"
    "  doormat decrypt [-i FILE | -j NAME]... [--passphrase-file FILE] [-o OUT]\n"
    "                  [--threads N] [IN]\n"
    "\n"
    "Decrypts IN (standard input if none or \"-\"), binary or ASCII-armored. Nothing\n"
    "unauthenticated is ever released: with -o, OUT appears only if the whole file\n"
    "decrypted and authenticated; on any failure OUT is not created, and an existing\n"
    "OUT is left untouched.\n"
    "\n"
    "Options:\n"
    "  -i, --identity FILE         try the identities in FILE (age-keygen format, one\n"
    "                              or more AGE-SECRET-KEY-1 lines, or plugin identities\n"
    "                              AGE-PLUGIN-NAME-1...); repeatable. FILE must not be\n"
    "                              readable by group or others (exit 2)\n"
    "  -j, --plugin NAME           use the default identity of age-plugin-NAME\n"
    "      --passphrase-file FILE  use the first line of FILE as the passphrase\n"
    "      --require-escrow FILE   refuse (exit 7, no output) unless the file's escrow\n"
    "                              stanzas for the authority in FILE are all there and\n"
    "                              exactly as derived from the file key\n"
    "      --leaf-bits N           with --require-escrow: accept Clipper mode (LEAF with\n"
    "                              an N-bit checksum) instead, checking the checksum only\n"
    "      --crumple-bits C        with --require-escrow: require crumple mode (C bits)\n"
    "  -o, --output OUT            write to OUT instead of standard output\n"
    "      --threads N             open payload chunks on N threads (0: one per CPU)\n"
    "  -h, --help                  this text\n"
    "\n"
    "With neither -i nor --passphrase-file, a passphrase-encrypted file makes doormat\n"
    "ask for the passphrase on the terminal, as age does.\n"
    "\n"
    "Plugins (age1NAME1... recipients, AGE-PLUGIN-NAME-1... identities, -j NAME) run\n"
    "age-plugin-NAME from $PATH: its messages appear on standard error, its questions\n"
    "on the terminal. A plugin missing from $PATH is exit 2; one that crashes, gives\n"
    "no answer for DOORMAT_PLUGIN_TIMEOUT seconds (default 60; 0: no limit), breaks\n"
    "the protocol or reports an error is exit 1. Nothing is written then.\n"
    "\n"
    "Examples:\n"
    "  doormat decrypt -i key.txt -o report.pdf report.pdf.age\n"
    "  doormat decrypt -i mine.txt -i backup.txt < notes.txt.age\n"
    "  doormat decrypt diary.age > diary.txt      # asks for the passphrase\n"
    "  doormat decrypt -j yubikey -o notes.txt notes.age\n";

enum {
    OPT_PASSPHRASE_FILE = 256,
    OPT_THREADS,
    OPT_ESCROW,
    OPT_REQUIRE_ESCROW,
    OPT_LEAF_BITS,
    OPT_CRUMPLE_BITS
};

/* Extensions (escrow) add their flags here and a case in the parser below. */
static const struct option encrypt_longopts[] = {
    {"recipient", required_argument, NULL, 'r'},
    {"recipients-file", required_argument, NULL, 'R'},
    {"plugin", required_argument, NULL, 'j'},
    {"passphrase", no_argument, NULL, 'p'},
    {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
    {"armor", no_argument, NULL, 'a'},
    {"escrow", required_argument, NULL, OPT_ESCROW},
    {"leaf-bits", required_argument, NULL, OPT_LEAF_BITS},
    {"crumple-bits", required_argument, NULL, OPT_CRUMPLE_BITS},
    {"output", required_argument, NULL, 'o'},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const struct option decrypt_longopts[] = {
    {"identity", required_argument, NULL, 'i'},
    {"plugin", required_argument, NULL, 'j'},
    {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
    {"require-escrow", required_argument, NULL, OPT_REQUIRE_ESCROW},
    {"leaf-bits", required_argument, NULL, OPT_LEAF_BITS},
    {"crumple-bits", required_argument, NULL, OPT_CRUMPLE_BITS},
    {"output", required_argument, NULL, 'o'},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* ------------------------------------------------------------- lists */

typedef struct rcpt_list {
    dm_recipient **items;
    size_t len, cap;
} rcpt_list;

typedef struct ident_list {
    dm_identity **items;
    size_t len, cap;
} ident_list;

static int grow(void **items, size_t *cap, size_t len, size_t elem) {
    if (len < *cap)
        return DM_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *n = realloc(*items, ncap * elem);
    if (n == NULL)
        return dm_fail(DM_ERR_NOMEM, "recipient list");
    *items = n;
    *cap = ncap;
    return DM_OK;
}

static int rcpt_push(rcpt_list *l, dm_recipient *r) {
    int err = grow((void **)&l->items, &l->cap, l->len, sizeof *l->items);
    if (err != DM_OK) {
        dm_recipient_free(r);
        return err;
    }
    l->items[l->len++] = r;
    return DM_OK;
}

static int ident_push(ident_list *l, dm_identity *id) {
    int err = grow((void **)&l->items, &l->cap, l->len, sizeof *l->items);
    if (err != DM_OK) {
        dm_identity_free(id);
        return err;
    }
    l->items[l->len++] = id;
    return DM_OK;
}

static void rcpt_list_free(rcpt_list *l) {
    for (size_t i = 0; i < l->len; i++)
        dm_recipient_free(l->items[i]);
    free(l->items);
}

static void ident_list_free(ident_list *l) {
    for (size_t i = 0; i < l->len; i++)
        dm_identity_free(l->items[i]);
    free(l->items);
}

/* Standard input can feed only one of IN, a key file or a passphrase file.
 * IN is stdin when absent; the others only when they are "-". */
static int is_stdin_arg(const char *arg, int absent_is_stdin) {
    return arg == NULL ? absent_is_stdin : strcmp(arg, "-") == 0;
}

/* ------------------------------------------------------------ encrypt */

/* A -r or -R, kept in command-line order so the header lists them as given. */
typedef struct rcpt_spec {
    int is_file;
    int is_plugin; /* -j NAME */
    const char *value;
} rcpt_spec;

typedef struct encrypt_args {
    rcpt_spec *specs;
    size_t n_specs;
    int passphrase_tty;
    const char *passphrase_file;
    int armor;
    const char *output;
    const char *input;
    unsigned threads;
    const char *escrow;
    dm_escrow_opts escrow_opts; /* --leaf-bits, --crumple-bits */
} encrypt_args;

static int add_recipient_string(rcpt_list *l, const char *s) {
    /* A secret key pasted where a recipient belongs must not be echoed back. */
    if (strncmp(s, "AGE-SECRET-KEY-", 15) == 0)
        return cli_usage_error("encrypt: -r was given a secret key; give its recipient (age1..., "
                               "see doormat keygen -y)");
    if (dm_is_plugin_identity(s))
        return cli_usage_error("encrypt: -r was given a plugin identity; give its recipient "
                               "(age1NAME1...) or use -j NAME");
    dm_recipient *r = NULL;
    int err = dm_recipient_parse(s, &r);
    if (err != DM_OK)
        return cli_fail(err, "encrypt: recipient \"%s\"", s);
    err = rcpt_push(l, r);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt");
}

static int add_recipients_file(rcpt_list *l, const char *path) {
    char *text = NULL;
    size_t len = 0;
    int err = cli_read_file(path, &text, &len);
    if (err != DM_OK)
        return cli_fail(err, "encrypt: recipients file");
    dm_recipient **rs = NULL;
    size_t n = 0, bad_line = 0;
    err = dm_recipient_file_parse(text, len, &rs, &n, &bad_line);
    free(text);
    if (err != DM_OK) {
        /* The detail already names the line (bad_line); the line itself is not echoed. */
        (void)bad_line;
        return cli_fail(err, "encrypt: recipients file %s", path);
    }
    size_t i = 0;
    for (; i < n && err == DM_OK; i++)
        err = rcpt_push(l, rs[i]);
    for (; i < n; i++)
        dm_recipient_free(rs[i]);
    free(rs);
    if (err != DM_OK)
        return cli_fail(err, "encrypt");
    if (n == 0)
        return cli_usage_error("encrypt: recipients file %s holds no recipient", path);
    return DM_EXIT_OK;
}

static int add_plugin_recipient(rcpt_list *l, const char *name) {
    dm_identity *id = NULL;
    dm_recipient *r = NULL;
    int err = dm_plugin_identity_default(name, NULL, &id);
    if (err == DM_OK)
        err = dm_plugin_identity_to_recipient(id, &r);
    dm_identity_free(id);
    if (err == DM_OK)
        err = rcpt_push(l, r);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: -j %s", name);
}

static int add_passphrase_recipient(rcpt_list *l, const encrypt_args *a) {
    char *pass = NULL;
    size_t len = 0;
    int err = a->passphrase_tty ? cli_read_passphrase_tty("Enter passphrase: ", 1, &pass, &len)
                                : cli_read_passphrase_file(a->passphrase_file, &pass, &len);
    if (err != DM_OK)
        return cli_fail(err, "encrypt: passphrase");
    dm_recipient *r = NULL;
    err = dm_scrypt_recipient_new(pass, len, 0, &r);
    dm_secret_free(pass);
    if (err == DM_OK)
        err = rcpt_push(l, r);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: passphrase");
}

/* Keeps the output when the run went well (err is DM_OK), drops it otherwise. */
static int finish_output(cli_output *out, int err, const char *cmd) {
    if (err != DM_OK) {
        cli_output_abort(out);
        return cli_fail(err, "%s", cmd);
    }
    err = cli_output_commit(out);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s", cmd);
}

static int run_encrypt(const encrypt_args *a) {
    /* Refuse early, before asking for a passphrase, when stdout is a terminal. */
    int to_stdout = a->output == NULL || strcmp(a->output, "-") == 0;
    if (!a->armor && to_stdout && isatty(STDOUT_FILENO))
        return cli_usage_error("encrypt: refusing to write binary ciphertext to a terminal; "
                               "use -a (--armor) or -o FILE");
    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;

    rcpt_list rcpts = {0};
    for (size_t i = 0; i < a->n_specs && rc == DM_EXIT_OK; i++)
        rc = a->specs[i].is_plugin ? add_plugin_recipient(&rcpts, a->specs[i].value)
             : a->specs[i].is_file ? add_recipients_file(&rcpts, a->specs[i].value)
                                   : add_recipient_string(&rcpts, a->specs[i].value);
    if (rc == DM_EXIT_OK)
        rc = cli_plugin_attach(rcpts.items, rcpts.len, NULL, 0);
    if (rc == DM_EXIT_OK && (a->passphrase_tty || a->passphrase_file != NULL))
        rc = add_passphrase_recipient(&rcpts, a);
    if (rc == DM_EXIT_OK && a->escrow != NULL) {
        dm_recipient *escrow = NULL;
        rc = cli_escrow_recipient(a->escrow, &a->escrow_opts, &escrow);
        if (rc == DM_EXIT_OK && rcpt_push(&rcpts, escrow) != DM_OK)
            rc = cli_fail(DM_ERR_NOMEM, "encrypt");
    }
    if (rc != DM_EXIT_OK) {
        rcpt_list_free(&rcpts);
        return rc;
    }

    int in_fd = cli_open_input(a->input);
    if (in_fd < 0) {
        rcpt_list_free(&rcpts);
        return DM_EXIT_FAILURE;
    }
    cli_output out;
    int err = cli_output_open(&out, a->output, 0666);
    if (err != DM_OK) {
        rc = cli_fail(err, "encrypt: output");
        goto done;
    }
    if (!a->armor && out.is_tty) {
        cli_output_abort(&out);
        rc = cli_usage_error("encrypt: refusing to write binary ciphertext to a terminal; "
                             "use -a (--armor)");
        goto done;
    }

    dm_encrypt_opts opts = {0};
    opts.armor = a->armor;
    opts.threads = a->threads;
    opts.backend = DM_AEAD_AUTO;
    if (a->escrow != NULL) {
        opts.alone_companions = dm_escrow_alone_companions;
        opts.n_alone_companions = DM_ESCROW_N_ALONE_COMPANIONS;
    }
    err = dm_encrypt(dm_source_fd(&in_fd), dm_sink_fd(&out.fd), rcpts.items, rcpts.len, &opts);
    rc = finish_output(&out, err, "encrypt");
done:
    if (in_fd != STDIN_FILENO)
        close(in_fd);
    rcpt_list_free(&rcpts);
    return rc;
}

int cmd_encrypt(int argc, char **argv) {
    encrypt_args a = {0};
    a.specs = calloc((size_t)argc, sizeof *a.specs);
    if (a.specs == NULL)
        return cli_fail(DM_ERR_NOMEM, "encrypt");
    int rc = -1;
    int c;
    optind = 1;
    opterr = 0;
    while (rc < 0 && (c = getopt_long(argc, argv, ":r:R:j:pao:h", encrypt_longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
        case 'R':
        case 'j':
            a.specs[a.n_specs].is_file = c == 'R';
            a.specs[a.n_specs].is_plugin = c == 'j';
            a.specs[a.n_specs++].value = optarg;
            break;
        case 'p':
            a.passphrase_tty = 1;
            break;
        case OPT_PASSPHRASE_FILE:
            if (a.passphrase_file != NULL)
                rc = cli_usage_error("encrypt: --passphrase-file given twice");
            a.passphrase_file = optarg;
            break;
        case 'a':
            a.armor = 1;
            break;
        case OPT_ESCROW:
            if (a.escrow != NULL)
                rc = cli_usage_error("encrypt: --escrow given twice");
            a.escrow = optarg;
            break;
        case OPT_LEAF_BITS:
        case OPT_CRUMPLE_BITS:
            rc = cli_escrow_mode_flag("encrypt", c == OPT_LEAF_BITS, optarg, &a.escrow_opts);
            break;
        case 'o':
            a.output = optarg;
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, &a.threads) != DM_OK)
                rc = cli_usage_error("encrypt: --threads wants a number from 0 to %u, not \"%s\"",
                                     CLI_MAX_THREADS, optarg);
            break;
        case 'h':
            rc = cli_help(encrypt_usage);
            break;
        default:
            rc = cli_bad_option("encrypt", argv, c);
            break;
        }
    }
    if (rc < 0) {
        int passphrase = a.passphrase_tty || a.passphrase_file != NULL;
        if (argc - optind > 1)
            rc = cli_usage_error("encrypt: more than one input (\"%s\", \"%s\"); see doormat "
                                 "encrypt --help",
                                 argv[optind], argv[optind + 1]);
        else if (a.passphrase_tty && a.passphrase_file != NULL)
            rc = cli_usage_error("encrypt: -p and --passphrase-file can't be used together");
        else if (passphrase && a.n_specs > 0)
            rc = cli_usage_error("encrypt: a passphrase can't be combined with -r, -R or -j "
                                 "(a passphrase stanza must stand alone)");
        else if (!passphrase && a.n_specs == 0)
            rc = cli_usage_error("encrypt: no recipients: use -r, -R, -j, -p or --passphrase-file "
                                 "(see doormat encrypt --help)");
        else if (a.escrow_opts.mode != DM_ESCROW_MODE_SHAMIR && a.escrow == NULL)
            rc = cli_usage_error("encrypt: --leaf-bits and --crumple-bits need --escrow");
        else {
            a.input = optind < argc ? argv[optind] : NULL;
            int stdin_users = is_stdin_arg(a.input, 1) + is_stdin_arg(a.passphrase_file, 0);
            for (size_t i = 0; i < a.n_specs; i++)
                stdin_users += a.specs[i].is_file && is_stdin_arg(a.specs[i].value, 0);
            rc = stdin_users > 1 ? cli_usage_error("encrypt: standard input is used for more "
                                                   "than one thing (IN, -R -, --passphrase-file -)")
                                 : run_encrypt(&a);
        }
    }
    free(a.specs);
    return rc;
}

/* ------------------------------------------------------------ decrypt */

typedef struct decrypt_args {
    const char **identity_files;
    unsigned char *is_plugin; /* identity_files[i] is the NAME of -j NAME */
    size_t n_identity_files;
    const char *passphrase_file;
    const char *output;
    const char *input;
    unsigned threads;
    const char *require_escrow;
    dm_escrow_opts escrow_opts; /* --leaf-bits, --crumple-bits */
} decrypt_args;

/* With no identity given, age asks for a passphrase only once it has seen that
 * the file holds a scrypt stanza; this identity does the same, lazily. */
typedef struct prompt_ctx {
    dm_identity *scrypt;
} prompt_ctx;

static int prompt_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                         uint8_t file_key[DM_FILE_KEY_LEN]) {
    prompt_ctx *ctx = self->ctx;
    int has_scrypt = 0;
    for (size_t i = 0; i < stanzas->len; i++)
        if (strcmp(stanzas->items[i].type, "scrypt") == 0)
            has_scrypt = 1;
    if (!has_scrypt)
        return dm_fail(DM_ERR_USAGE, "no identity given; use -i FILE (the file is not "
                                     "passphrase-encrypted)");
    if (ctx->scrypt == NULL) {
        char *pass = NULL;
        size_t len = 0;
        int err = cli_read_passphrase_tty("Enter passphrase: ", 0, &pass, &len);
        if (err != DM_OK)
            return err;
        err = dm_scrypt_identity_new(pass, len, 0, &ctx->scrypt);
        dm_secret_free(pass);
        if (err != DM_OK)
            return err;
    }
    int err = ctx->scrypt->unwrap(ctx->scrypt, stanzas, file_key);
    if (err == DM_ERR_NO_MATCH)
        return dm_fail(DM_ERR_NO_MATCH, "incorrect passphrase");
    return err;
}

static void prompt_destroy(dm_identity *self) {
    prompt_ctx *ctx = self->ctx;
    if (ctx != NULL && ctx->scrypt != NULL)
        dm_identity_free(ctx->scrypt);
    free(ctx); /* dm_identity_free frees the identity itself */
}

static int prompt_identity_new(dm_identity **out) {
    dm_identity *id = calloc(1, sizeof *id);
    prompt_ctx *ctx = calloc(1, sizeof *ctx);
    if (id == NULL || ctx == NULL) {
        free(id);
        free(ctx);
        return dm_fail(DM_ERR_NOMEM, "identity");
    }
    id->unwrap = prompt_unwrap;
    id->destroy = prompt_destroy;
    id->ctx = ctx;
    *out = id;
    return DM_OK;
}

static int add_identity_file(ident_list *l, const char *path) {
    const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
    char *text = NULL;
    size_t len = 0;
    int err = cli_read_secret_file(path, &text, &len);
    if (err != DM_OK)
        return cli_fail(err, "decrypt");
    dm_identity **ids = NULL;
    size_t n = 0, bad_line = 0;
    err = dm_identity_file_parse(text, len, &ids, &n, &bad_line);
    dm_secret_free(text);
    if (err != DM_OK) {
        (void)bad_line; /* the detail names the line; a secret line is never echoed */
        return cli_fail(err, "decrypt: identity file %s", name);
    }
    size_t i = 0;
    for (; i < n && err == DM_OK; i++)
        err = ident_push(l, ids[i]);
    for (; i < n; i++)
        dm_identity_free(ids[i]);
    free(ids);
    if (err != DM_OK)
        return cli_fail(err, "decrypt");
    if (n == 0)
        return cli_usage_error("decrypt: identity file %s holds no identity", name);
    return DM_EXIT_OK;
}

static int add_plugin_identity(ident_list *l, const char *name) {
    dm_identity *id = NULL;
    int err = dm_plugin_identity_default(name, NULL, &id);
    if (err == DM_OK)
        err = ident_push(l, id);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "decrypt: -j %s", name);
}

static int add_passphrase_identity(ident_list *l, const char *path) {
    char *pass = NULL;
    size_t len = 0;
    int err = cli_read_passphrase_file(path, &pass, &len);
    if (err != DM_OK)
        return cli_fail(err, "decrypt: passphrase");
    dm_identity *id = NULL;
    err = dm_scrypt_identity_new(pass, len, 0, &id);
    dm_secret_free(pass);
    if (err == DM_OK)
        err = ident_push(l, id);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "decrypt: passphrase");
}

static int run_decrypt(const decrypt_args *a) {
    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    ident_list ids = {0};
    for (size_t i = 0; i < a->n_identity_files && rc == DM_EXIT_OK; i++)
        rc = a->is_plugin[i] ? add_plugin_identity(&ids, a->identity_files[i])
                             : add_identity_file(&ids, a->identity_files[i]);
    if (rc == DM_EXIT_OK)
        rc = cli_plugin_attach(NULL, 0, ids.items, ids.len);
    if (rc == DM_EXIT_OK && a->passphrase_file != NULL)
        rc = add_passphrase_identity(&ids, a->passphrase_file);
    if (rc == DM_EXIT_OK && ids.len == 0) {
        dm_identity *prompt = NULL;
        int err = prompt_identity_new(&prompt);
        if (err == DM_OK)
            err = ident_push(&ids, prompt);
        if (err != DM_OK)
            rc = cli_fail(err, "decrypt");
    }
    cli_escrow_policy escrow = {0};
    if (rc == DM_EXIT_OK)
        rc = cli_escrow_policy_load(a->require_escrow, &a->escrow_opts, &escrow);
    if (rc != DM_EXIT_OK) {
        ident_list_free(&ids);
        return rc;
    }

    int in_fd = cli_open_input(a->input);
    if (in_fd < 0) {
        ident_list_free(&ids);
        cli_escrow_policy_free(&escrow);
        return DM_EXIT_FAILURE;
    }
    cli_output out;
    int err = cli_output_open(&out, a->output, 0666);
    if (err != DM_OK) {
        rc = cli_fail(err, "decrypt: output");
        goto done;
    }
    dm_decrypt_opts opts = {0};
    opts.threads = a->threads;
    opts.backend = DM_AEAD_AUTO;
    cli_escrow_decrypt_opts(&escrow, &opts);
    err = dm_decrypt(dm_source_fd(&in_fd), dm_sink_fd(&out.fd), ids.items, ids.len, &opts);
    rc = finish_output(&out, err, "decrypt");
done:
    if (in_fd != STDIN_FILENO)
        close(in_fd);
    ident_list_free(&ids);
    cli_escrow_policy_free(&escrow);
    return rc;
}

int cmd_decrypt(int argc, char **argv) {
    decrypt_args a = {0};
    a.identity_files = calloc((size_t)argc, sizeof *a.identity_files);
    a.is_plugin = calloc((size_t)argc, 1);
    if (a.identity_files == NULL || a.is_plugin == NULL) {
        free(a.identity_files);
        free(a.is_plugin);
        return cli_fail(DM_ERR_NOMEM, "decrypt");
    }
    int rc = -1;
    int c;
    optind = 1;
    opterr = 0;
    while (rc < 0 && (c = getopt_long(argc, argv, ":i:j:o:h", decrypt_longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
        case 'j':
            a.is_plugin[a.n_identity_files] = c == 'j';
            a.identity_files[a.n_identity_files++] = optarg;
            break;
        case OPT_PASSPHRASE_FILE:
            if (a.passphrase_file != NULL)
                rc = cli_usage_error("decrypt: --passphrase-file given twice");
            a.passphrase_file = optarg;
            break;
        case OPT_REQUIRE_ESCROW:
            if (a.require_escrow != NULL)
                rc = cli_usage_error("decrypt: --require-escrow given twice");
            a.require_escrow = optarg;
            break;
        case OPT_LEAF_BITS:
        case OPT_CRUMPLE_BITS:
            rc = cli_escrow_mode_flag("decrypt", c == OPT_LEAF_BITS, optarg, &a.escrow_opts);
            break;
        case 'o':
            a.output = optarg;
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, &a.threads) != DM_OK)
                rc = cli_usage_error("decrypt: --threads wants a number from 0 to %u, not \"%s\"",
                                     CLI_MAX_THREADS, optarg);
            break;
        case 'h':
            rc = cli_help(decrypt_usage);
            break;
        default:
            rc = cli_bad_option("decrypt", argv, c);
            break;
        }
    }
    if (rc < 0) {
        if (argc - optind > 1)
            rc = cli_usage_error("decrypt: more than one input (\"%s\", \"%s\"); see doormat "
                                 "decrypt --help",
                                 argv[optind], argv[optind + 1]);
        else if (a.escrow_opts.mode != DM_ESCROW_MODE_SHAMIR && a.require_escrow == NULL)
            rc = cli_usage_error("decrypt: --leaf-bits and --crumple-bits need --require-escrow");
        else {
            a.input = optind < argc ? argv[optind] : NULL;
            int stdin_users = is_stdin_arg(a.input, 1) + is_stdin_arg(a.passphrase_file, 0);
            for (size_t i = 0; i < a.n_identity_files; i++)
                stdin_users += !a.is_plugin[i] && is_stdin_arg(a.identity_files[i], 0);
            rc = stdin_users > 1 ? cli_usage_error("decrypt: standard input is used for more "
                                                   "than one thing (IN, -i -, --passphrase-file -)")
                                 : run_decrypt(&a);
        }
    }
    free(a.identity_files);
    free(a.is_plugin);
    return rc;
}
