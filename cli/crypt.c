/* doormat encrypt and doormat decrypt: flags become recipients or identities,
 * then the vault streams IN to a safe OUT. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_escrow.h"

static const char encrypt_usage[] =
    "Usage:\n"
    "  doormat encrypt (-r RECIPIENT | -R FILE | -i FILE | -j NAME)... [-a] [-o OUT]\n"
    "                  [--threads N] [IN]\n"
    "  doormat encrypt (-p | --passphrase-file FILE) [-a] [-o OUT] [--threads N] [IN]\n"
    "\n"
    "Encrypts IN (standard input if none or \"-\") to every recipient given, in the\n"
    "age v1 format. Any one of the recipients' identities opens the file; nobody\n"
    "else can, not even whoever made it.\n"
    "\n"
    "Options:\n"
    "  -r, --recipient RECIPIENT   encrypt to RECIPIENT: an age key (age1...), a plugin\n"
    "                              recipient (age1NAME1..., runs age-plugin-NAME) or an\n"
    "                              SSH public key (\"ssh-ed25519 AAAA...\", \"ssh-rsa\n"
    "                              AAAA...\"); repeatable\n"
    "  -R, --recipients-file FILE  encrypt to every recipient in FILE: one per line,\n"
    "                              '#' comments and blank lines allowed (an\n"
    "                              authorized_keys file works: other SSH key types are\n"
    "                              passed over with a warning); repeatable, mixes with -r\n"
    "  -i, --identity FILE         encrypt to the recipients of the identities in FILE\n"
    "                              (an age-keygen file, plugin identities, an SSH private\n"
    "                              key, or either encrypted with age -p); repeatable\n"
    "  -j, --plugin NAME           encrypt to the default identity of age-plugin-NAME\n"
    "                              (found on $PATH; see \"Plugins\" in the README)\n"
    "  -p, --passphrase            encrypt with a passphrase read from the terminal\n"
    "                              without echo, asked twice (scrypt, work factor 2^18);\n"
    "                              an empty answer makes and shows one of ten random words\n"
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
    "Binary ciphertext is not written to a terminal (exit 2) unless asked for with\n"
    "\"-o -\": use -a, -o FILE or a redirection.\n"
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
    "  doormat encrypt -r \"$(cat ~/.ssh/id_ed25519.pub)\" -o notes.age notes.txt\n"
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
    "  -i, --identity FILE         try the identities in FILE: an age-keygen file (one\n"
    "                              or more AGE-SECRET-KEY-1 lines, or plugin identities\n"
    "                              AGE-PLUGIN-NAME-1...), an OpenSSH private\n"
    "                              key (ssh-ed25519, ssh-rsa; its passphrase is asked\n"
    "                              only when the file names the key; a protected\n"
    "                              ssh-rsa key in OpenSSH format is converted in\n"
    "                              memory by ssh-keygen from $PATH), or either\n"
    "                              encrypted with age -p (its passphrase is asked);\n"
    "                              repeatable. FILE is read whatever its mode, as age\n"
    "                              reads it\n"
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
    "  doormat decrypt -i ~/.ssh/id_ed25519 -o notes.txt notes.age\n"
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
    {"identity", required_argument, NULL, 'i'},
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

static int rcpt_push(rcpt_list *l, dm_recipient *r) {
    int err = grow((void **)&l->items, &l->cap, l->len, sizeof *l->items, "recipient list");
    if (err != DM_OK) {
        dm_recipient_free(r);
        return err;
    }
    l->items[l->len++] = r;
    return DM_OK;
}

static int ident_push(ident_list *l, dm_identity *id) {
    int err = grow((void **)&l->items, &l->cap, l->len, sizeof *l->items, "identity list");
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

/* A -r, -R, -i (encrypt to an identity's recipient) or -j, kept in
 * command-line order so the header lists them as given. */
enum { SPEC_RECIPIENT = 0, SPEC_RECIPIENTS_FILE = 1, SPEC_IDENTITY_FILE = 2, SPEC_PLUGIN = 3 };
typedef struct rcpt_spec {
    int is_file; /* one of SPEC_* */
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

/* The flag parsers below return FLAG_OK when the flag was theirs and fine,
 * FLAG_NOT_MINE when it was not theirs, or an exit code (a usage error). */
enum { FLAG_OK = -1, FLAG_NOT_MINE = -2 };

static void push_spec(rcpt_spec *specs, size_t *n, int c, const char *value) {
    specs[*n].is_file = c == 'R'   ? SPEC_RECIPIENTS_FILE
                        : c == 'i' ? SPEC_IDENTITY_FILE
                        : c == 'j' ? SPEC_PLUGIN
                                   : SPEC_RECIPIENT;
    specs[(*n)++].value = value;
}

/* age 1.3's warnings: a recipient, recipients file or identity file named
 * twice is used once... and said once, whatever stands between the two. */
static void warn_duplicates(const rcpt_spec *specs, size_t n, int kind, const char *what) {
    for (size_t i = 0; i < n; i++) {
        if (specs[i].is_file != kind)
            continue;
        /* A secret pasted as a recipient is refused later, and never echoed. */
        if (kind == SPEC_RECIPIENT && (strncmp(specs[i].value, "AGE-SECRET-KEY-", 15) == 0 ||
                                       dm_is_plugin_identity(specs[i].value)))
            continue;
        int seen_before = 0, seen_after = 0;
        for (size_t j = 0; j < i && !seen_before; j++)
            seen_before = specs[j].is_file == kind && strcmp(specs[j].value, specs[i].value) == 0;
        for (size_t j = i + 1; j < n && !seen_after; j++)
            seen_after = specs[j].is_file == kind && strcmp(specs[j].value, specs[i].value) == 0;
        if (!seen_before && seen_after)
            cli_msg("warning: duplicate %s \"%s\"", what, specs[i].value);
    }
}

static void warn_all_duplicates(const rcpt_spec *specs, size_t n) {
    warn_duplicates(specs, n, SPEC_RECIPIENT, "recipient");
    warn_duplicates(specs, n, SPEC_RECIPIENTS_FILE, "recipients file");
    warn_duplicates(specs, n, SPEC_IDENTITY_FILE, "identity file");
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

/* age 1.2's refusal (its issue 491): -o naming the input encrypted it in
 * place, and -d -i key -o key replaced the key with plaintext. */
static int refuse_output_over_input(const char *cmd, const char *out, const char *input,
                                    const char *const *files, size_t n_files) {
    int clash = same_file(out, input);
    for (size_t i = 0; i < n_files && !clash; i++)
        clash = same_file(out, files[i]);
    if (clash)
        return cli_usage_error("%s: input and output file are the same: \"%s\"", cmd, out);
    return DM_EXIT_OK;
}

/* A flag that may be given once. */
static int flag_once(const char *cmd, const char *flag, const char **slot, const char *value) {
    if (*slot != NULL)
        return cli_usage_error("%s: %s given twice", cmd, flag);
    *slot = value;
    return FLAG_OK;
}

static int flag_threads(const char *cmd, const char *value, unsigned *threads) {
    if (cli_parse_threads(value, threads) != DM_OK)
        return cli_usage_error("%s: --threads wants a number from 0 to %u, not \"%s\"", cmd,
                               CLI_MAX_THREADS, value);
    return FLAG_OK;
}

/* The flags of the new file's side, shared by encrypt and rekey. */
static int encrypt_flag(const char *cmd, int c, const char *value, encrypt_args *a) {
    switch (c) {
    case 'r':
    case 'R':
    case 'i':
    case 'j':
        push_spec(a->specs, &a->n_specs, c, value);
        return FLAG_OK;
    case 'p':
        a->passphrase_tty = 1;
        return FLAG_OK;
    case OPT_PASSPHRASE_FILE:
        return flag_once(cmd, "--passphrase-file", &a->passphrase_file, value);
    case 'a':
        a->armor = 1;
        return FLAG_OK;
    case OPT_ESCROW:
        return flag_once(cmd, "--escrow", &a->escrow, value);
    case OPT_LEAF_BITS:
    case OPT_CRUMPLE_BITS:
        return cli_escrow_mode_flag(cmd, c == OPT_LEAF_BITS, value, &a->escrow_opts);
    case 'o':
        a->output = value;
        return FLAG_OK;
    case OPT_THREADS:
        return flag_threads(cmd, value, &a->threads);
    default:
        return FLAG_NOT_MINE;
    }
}

/* What encrypt and rekey check once the flags are read; rcpt_any and
 * rcpt_all name the command's recipient flags ("-r, -R, -i or -j", "-r, -R,
 * -i, -j"), new_ is "new " where the recipients are a file's new ones.
 * FLAG_OK or an exit code. */
static int encrypt_args_check(const char *cmd, const encrypt_args *a, int argc, char **argv,
                              const char *rcpt_any, const char *rcpt_all, const char *new_) {
    int passphrase = a->passphrase_tty || a->passphrase_file != NULL;
    if (argc - optind > 1)
        return cli_usage_error("%s: more than one input (\"%s\", \"%s\"); see doormat %s --help",
                               cmd, argv[optind], argv[optind + 1], cmd);
    if (a->passphrase_tty && a->passphrase_file != NULL)
        return cli_usage_error("%s: -p and --passphrase-file can't be used together", cmd);
    if (passphrase && a->n_specs > 0)
        return cli_usage_error("%s: a passphrase can't be combined with %s (a passphrase stanza "
                               "must stand alone)",
                               cmd, rcpt_any);
    if (!passphrase && a->n_specs == 0)
        return cli_usage_error("%s: no %srecipients: use %s, -p or --passphrase-file (see "
                               "doormat %s --help)",
                               cmd, new_, rcpt_all, cmd);
    if (a->escrow_opts.mode != DM_ESCROW_MODE_SHAMIR && a->escrow == NULL)
        return cli_usage_error("%s: --leaf-bits and --crumple-bits need --escrow", cmd);
    return FLAG_OK;
}

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
    if (err != DM_OK) {
        /* An SSH key is long: name it by its start. */
        int shown = (int)strnlen(s, 40);
        return cli_fail(err, "encrypt: recipient \"%.*s%s\"", shown, s, s[shown] ? "..." : "");
    }
    err = rcpt_push(l, r);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt");
}

/* age's words: an authorized_keys file may hold keys of types age can't use. */
static void warn_skipped(void *ctx, size_t line, const char *type) {
    cli_msg("warning: recipients file \"%s\": ignoring unsupported SSH key of type \"%s\" at "
            "line %zu",
            (const char *)ctx, type, line);
}

/* ----------------------------------------------------- identity files */

/* A key file's passphrase, asked as age asks it. ctx is the file's path. */
static int ask_key_passphrase(void *ctx, char **pass, size_t *len) {
    char prompt[PATH_MAX + 64];
    snprintf(prompt, sizeof prompt, "Enter passphrase for \"%s\": ", (const char *)ctx);
    int err = cli_read_passphrase_tty(prompt, 0, pass, len);
    /* --passphrase-file is the file's passphrase, not the key's: don't suggest it. */
    if (err == DM_ERR_USAGE && strncmp(dm_err_detail(), "no terminal", 11) == 0)
        err = dm_fail(err, "no terminal to ask for the passphrase of the SSH key \"%s\"",
                      (const char *)ctx);
    return err;
}

/* The first line of KEY.pub beside an SSH key file, as age reads it (NULL when
 * there is none; an identity on standard input has none). *name gets the
 * .pub path, for messages. */
static char *read_pub_beside(const char *path, char **name) {
    *name = NULL;
    if (strcmp(path, "-") == 0)
        return NULL;
    size_t n = strlen(path);
    *name = malloc(n + 5);
    if (*name == NULL)
        return NULL;
    memcpy(*name, path, n);
    memcpy(*name + n, ".pub", 5);
    char *text = NULL;
    size_t len = 0;
    if (access(*name, F_OK) != 0 || cli_read_file(*name, &text, &len) != DM_OK)
        return NULL;
    text[strcspn(text, "\r\n")] = '\0';
    return text;
}

/* An identity file that is an age file: asks for its passphrase and decrypts
 * it into guarded memory. */
static int open_encrypted_identity_file(const char *path, const char *text, size_t len,
                                        char **plain, size_t *plain_len) {
    char prompt[PATH_MAX + 64];
    snprintf(prompt, sizeof prompt, "Enter passphrase for identity file \"%s\": ", path);
    char *pass = NULL;
    size_t pass_len = 0;
    int err = cli_read_passphrase_tty(prompt, 0, &pass, &pass_len);
    if (err == DM_ERR_USAGE && strncmp(dm_err_detail(), "no terminal", 11) == 0)
        err = dm_fail(err, "no terminal to ask for the passphrase of identity file \"%s\"", path);
    if (err != DM_OK)
        return err;
    err = dm_identity_file_decrypt((const uint8_t *)text, len, pass, pass_len, plain, plain_len);
    dm_secret_free(pass);
    return err;
}

/* What an identity file holds, in guarded memory: its own text, or the text
 * of the age file it is (decrypted); *is_ssh for an SSH private key. */
static int read_identity_text(const char *path, char **text, size_t *len, int *is_ssh) {
    int err = cli_read_identity_file(path, text, len);
    if (err != DM_OK)
        return err;
    /* An armored age file begins "-----BEGIN" too: it is looked for first. */
    *is_ssh = 0;
    if (dm_is_age_file((const uint8_t *)*text, *len)) {
        char *plain = NULL;
        size_t plain_len = 0;
        err = open_encrypted_identity_file(path, *text, *len, &plain, &plain_len);
        dm_secret_free(*text);
        *text = NULL;
        if (err != DM_OK)
            return err;
        *text = plain;
        *len = plain_len;
        return DM_OK;
    }
    *is_ssh = dm_ssh_is_private_key(*text, *len);
    return DM_OK;
}

/* An SSH private key file (its text, freed here) as an identity (id non-NULL)
 * or as its recipient line, with the .pub file beside it read as age reads it. */
static int open_ssh_key(const char *path, char *text, size_t len, dm_identity **id, char **line) {
    char *pub_name = NULL, *pub = read_pub_beside(path, &pub_name);
    int err = id != NULL ? dm_ssh_identity_parse_pub(text, len, pub, pub_name, ask_key_passphrase,
                                                     (void *)path, id)
                         : dm_ssh_identity_public_pub(text, len, pub, pub_name, ask_key_passphrase,
                                                      (void *)path, line);
    free(pub);
    free(pub_name);
    dm_secret_free(text);
    return err;
}

/* The message of a failure that has its own words ("incorrect passphrase",
 * a passphrase-encrypted file opened with -i): said without the generic
 * "no identity matched" in front. */
static int fail_plainly(int err, const char *cmd, const char *path) {
    const char *detail = dm_err_detail();
    if ((err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE) && detail[0] != '\0' &&
        strncmp(detail, "none of ", 8) != 0) {
        /* The vault says what; the command says what to do about it. */
        const char *hint = strstr(detail, "passphrase-encrypted but identities were specified")
                               ? ": leave out -i and -j to be asked for the passphrase (or use "
                                 "--passphrase-file)"
                               : "";
        if (path != NULL)
            cli_msg("%s: identity file %s: %s%s", cmd, path, detail, hint);
        else
            cli_msg("%s: %s%s", cmd, detail, hint);
        return DM_EXIT_NO_MATCH;
    }
    /* A detail that already names the file ("identity file k.txt is group-readable") is
     * not prefixed with it again. */
    if (path != NULL && strstr(detail, path) == NULL)
        return cli_fail(err, "%s: identity file %s", cmd, path);
    return cli_fail(err, "%s", cmd);
}

/* Adds the recipients of every identity in an identity file (encrypt -i). */
static int add_identity_recipients(rcpt_list *l, const char *path) {
    const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
    char *text = NULL;
    size_t len = 0;
    int is_ssh = 0;
    int err = read_identity_text(path, &text, &len, &is_ssh);
    if (err != DM_OK)
        return fail_plainly(err, "encrypt", name);
    if (is_ssh) {
        char *line = NULL;
        dm_recipient *r = NULL;
        err = open_ssh_key(path, text, len, NULL, &line);
        if (err == DM_OK)
            err = dm_ssh_recipient_parse(line, &r);
        free(line);
        if (err == DM_OK)
            err = rcpt_push(l, r);
        return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: identity file %s", name);
    }
    /* Checked whole first, so a bad line is reported as decrypt reports it. */
    dm_identity **ids = NULL;
    size_t n = 0, bad_line = 0;
    err = dm_identity_file_parse(text, len, &ids, &n, &bad_line);
    for (size_t i = 0; err == DM_OK && i < n; i++)
        dm_identity_free(ids[i]);
    free(ids);
    const char *p = text, *end = text + len;
    while (err == DM_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n_line = (size_t)((nl ? nl : end) - p);
        if (n_line > 0 && p[n_line - 1] == '\r')
            n_line--;
        if (n_line > 0 && p[0] != '#') {
            char *secret = dm_secret_alloc(n_line + 1);
            char *public = NULL;
            dm_recipient *r = NULL;
            if (secret == NULL) {
                err = dm_fail(DM_ERR_NOMEM, "identity");
                break;
            }
            memcpy(secret, p, n_line);
            secret[n_line] = '\0';
            if (dm_is_plugin_identity(secret)) {
                /* recipient-v1's add-identity: the plugin encrypts to it. */
                dm_identity *id = NULL;
                err = dm_plugin_identity_parse(secret, NULL, &id);
                if (err == DM_OK)
                    err = dm_plugin_identity_to_recipient(id, &r);
                dm_identity_free(id);
            } else if (dm_pq_is_identity(secret)) {
                err = dm_pq_identity_to_recipient(secret, &public);
                if (err == DM_OK)
                    err = dm_pq_recipient_parse(public, &r);
            } else {
                err = dm_x25519_identity_to_recipient(secret, &public);
                if (err == DM_OK)
                    err = dm_x25519_recipient_parse(public, &r);
            }
            dm_secret_free(secret);
            free(public);
            if (err == DM_OK)
                err = rcpt_push(l, r);
        }
        p = nl ? nl + 1 : end;
    }
    dm_secret_free(text);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: identity file %s", name);
}

static int add_recipients_file(rcpt_list *l, const char *path) {
    char *text = NULL;
    size_t len = 0;
    int err = cli_read_file(path, &text, &len);
    if (err != DM_OK)
        return cli_fail(err, "encrypt: recipients file");
    dm_recipient **rs = NULL;
    size_t n = 0, bad_line = 0;
    err =
        dm_recipient_file_parse_skipping(text, len, &rs, &n, &bad_line, warn_skipped, (void *)path);
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

/* ---------------------------------------------------------- batchpass */

/* age 1.3's batchpass plugin, built in: -j batchpass is a passphrase from the
 * environment (AGE_PASSPHRASE, or AGE_PASSPHRASE_FD, a file descriptor whose
 * contents less their trailing newlines are the passphrase), for scripts.
 * Empty variables count as unset, as in age. The same words as age's plugin. */
static const char *env_set(const char *name) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int batchpass_passphrase(char **out, size_t *len) {
    const char *pass = env_set("AGE_PASSPHRASE"), *fd_text = env_set("AGE_PASSPHRASE_FD");
    if (pass != NULL && fd_text != NULL)
        return dm_fail(DM_ERR_USAGE, "AGE_PASSPHRASE and AGE_PASSPHRASE_FD are mutually exclusive");
    if (pass == NULL && fd_text == NULL)
        return dm_fail(DM_ERR_USAGE, "either AGE_PASSPHRASE or AGE_PASSPHRASE_FD must be set");
    if (pass != NULL) {
        size_t n = strlen(pass);
        char *copy = dm_secret_alloc(n + 1);
        if (copy == NULL)
            return dm_fail(DM_ERR_NOMEM, "passphrase");
        memcpy(copy, pass, n + 1);
        *out = copy;
        *len = n;
        return DM_OK;
    }
    unsigned long fd = 0;
    if (cli_parse_ulong(fd_text, 0, INT_MAX, &fd) != DM_OK)
        return dm_fail(DM_ERR_USAGE, "invalid AGE_PASSPHRASE_FD: \"%s\"", fd_text);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%lu", fd);
    char *text = NULL;
    size_t n = 0;
    int err = cli_read_identity_file(path, &text, &n);
    if (err != DM_OK)
        return dm_fail(err, "reading AGE_PASSPHRASE_FD %lu: %s", fd, dm_err_detail());
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    if (n == 0) {
        dm_secret_free(text);
        return dm_fail(DM_ERR_USAGE, "the passphrase from AGE_PASSPHRASE_FD is empty");
    }
    *out = text;
    *len = n;
    return DM_OK;
}

/* AGE_PASSPHRASE_WORK_FACTOR and AGE_PASSPHRASE_MAX_WORK_FACTOR: 1 to 30, or
 * 0 when unset (doormat's defaults, as age's: 18, and at most 22). */
static int batchpass_work_factor(const char *name, int *out) {
    const char *v = env_set(name);
    unsigned long n = 0;
    *out = 0;
    if (v == NULL)
        return DM_OK;
    if (cli_parse_ulong(v, 1, 30, &n) != DM_OK)
        return dm_fail(DM_ERR_USAGE, "%s must be between 1 and 30, not \"%s\"", name, v);
    *out = (int)n;
    return DM_OK;
}

static int batchpass_recipient(rcpt_list *l) {
    char *pass = NULL;
    size_t len = 0;
    int log_n = 0;
    int err = batchpass_work_factor("AGE_PASSPHRASE_WORK_FACTOR", &log_n);
    if (err == DM_OK)
        err = batchpass_passphrase(&pass, &len);
    dm_recipient *r = NULL;
    if (err == DM_OK)
        err = dm_scrypt_recipient_new(pass, len, log_n, &r);
    dm_secret_free(pass);
    if (err == DM_OK)
        err = rcpt_push(l, r);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: -j batchpass");
}

/* The identity of decrypt -j batchpass: the scrypt identity, whose failure
 * is the passphrase's ("incorrect passphrase"), and only for a file whose one
 * stanza is scrypt, as age's plugin says. */
typedef struct batchpass_ctx {
    dm_identity *scrypt;
} batchpass_ctx;

static int batchpass_unwrap(const dm_identity *self, const dm_stanza_list *stanzas,
                            uint8_t file_key[DM_FILE_KEY_LEN]) {
    const batchpass_ctx *ctx = self->ctx;
    if (stanzas->len != 1 || strcmp(stanzas->items[0].type, "scrypt") != 0)
        return dm_fail(DM_ERR_NO_MATCH, "file is not passphrase-encrypted");
    int err = ctx->scrypt->unwrap(ctx->scrypt, stanzas, file_key);
    if (err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE)
        return dm_fail(DM_ERR_BAD_PASSPHRASE, "incorrect passphrase");
    return err;
}

static void batchpass_destroy(dm_identity *self) {
    batchpass_ctx *ctx = self->ctx;
    if (ctx != NULL && ctx->scrypt != NULL)
        dm_identity_free(ctx->scrypt);
    free(ctx);
}

static int batchpass_identity(ident_list *l) {
    char *pass = NULL;
    size_t len = 0;
    int max_log_n = 0;
    int err = batchpass_work_factor("AGE_PASSPHRASE_MAX_WORK_FACTOR", &max_log_n);
    if (err == DM_OK)
        err = batchpass_passphrase(&pass, &len);
    dm_identity *scrypt = NULL;
    if (err == DM_OK)
        err = dm_scrypt_identity_new(pass, len, max_log_n, &scrypt);
    dm_secret_free(pass);
    dm_identity *id = NULL;
    batchpass_ctx *ctx = NULL;
    if (err == DM_OK) {
        id = calloc(1, sizeof *id);
        ctx = calloc(1, sizeof *ctx);
        if (id == NULL || ctx == NULL) {
            free(id);
            free(ctx);
            dm_identity_free(scrypt);
            err = dm_fail(DM_ERR_NOMEM, "identity");
        }
    }
    if (err == DM_OK) {
        ctx->scrypt = scrypt;
        id->unwrap = batchpass_unwrap;
        id->destroy = batchpass_destroy;
        id->ctx = ctx;
        err = ident_push(l, id);
    }
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "decrypt: -j batchpass");
}

static int add_plugin_recipient(rcpt_list *l, const char *name) {
    if (strcmp(name, "batchpass") == 0)
        return batchpass_recipient(l);
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
    int err = a->passphrase_tty
                  ? cli_read_passphrase_tty("Enter passphrase (leave empty to autogenerate a "
                                            "secure one): ",
                                            CLI_PASS_AUTOGENERATE, &pass, &len)
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

static int add_escrow_recipient(rcpt_list *l, const encrypt_args *a, const char *cmd) {
    dm_recipient *escrow = NULL;
    int rc = cli_escrow_recipient(a->escrow, &a->escrow_opts, &escrow);
    if (rc == DM_EXIT_OK && rcpt_push(l, escrow) != DM_OK)
        rc = cli_fail(DM_ERR_NOMEM, "%s", cmd);
    return rc;
}

/* Stdout is a terminal and no armor: asked before any passphrase. */
static int refuse_binary_tty(const char *cmd) {
    return cli_usage_error("%s: refusing to write binary ciphertext to a terminal; "
                           "use -a (--armor) or -o FILE (\"-o -\" forces it)",
                           cmd);
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
    /* "-o -" asks for binary on the terminal on purpose, as with age. */
    int forced = a->output != NULL && strcmp(a->output, "-") == 0;
    if (!a->armor && a->output == NULL && isatty(STDOUT_FILENO))
        return refuse_binary_tty("encrypt");
    const char **read_files = calloc(a->n_specs + 2, sizeof *read_files);
    if (read_files == NULL)
        return cli_fail(DM_ERR_NOMEM, "encrypt");
    size_t n_read = 0;
    for (size_t i = 0; i < a->n_specs; i++)
        if (a->specs[i].is_file == SPEC_RECIPIENTS_FILE ||
            a->specs[i].is_file == SPEC_IDENTITY_FILE)
            read_files[n_read++] = a->specs[i].value;
    read_files[n_read++] = a->passphrase_file;
    int rc = refuse_output_over_input("encrypt", a->output, a->input, read_files, n_read);
    free(read_files);
    if (rc != DM_EXIT_OK)
        return rc;
    /* -j batchpass is a passphrase: its scrypt stanza must stand alone (age's words). */
    for (size_t i = 0; i < a->n_specs; i++)
        if (a->specs[i].is_file == SPEC_PLUGIN && strcmp(a->specs[i].value, "batchpass") == 0 &&
            (a->n_specs > 1 || a->passphrase_tty || a->passphrase_file != NULL || a->escrow))
            return cli_usage_error("encrypt: incompatible recipients: -j batchpass (a passphrase) "
                                   "can't be combined with other recipients");
    rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;

    rcpt_list rcpts = {0};
    for (size_t i = 0; i < a->n_specs && rc == DM_EXIT_OK; i++) {
        const char *v = a->specs[i].value;
        switch (a->specs[i].is_file) {
        case SPEC_RECIPIENTS_FILE:
            rc = add_recipients_file(&rcpts, v);
            break;
        case SPEC_IDENTITY_FILE:
            rc = add_identity_recipients(&rcpts, v);
            break;
        case SPEC_PLUGIN:
            rc = add_plugin_recipient(&rcpts, v);
            break;
        default:
            rc = add_recipient_string(&rcpts, v);
        }
    }
    if (rc == DM_EXIT_OK)
        rc = cli_plugin_attach(rcpts.items, rcpts.len, NULL, 0);
    if (rc == DM_EXIT_OK && (a->passphrase_tty || a->passphrase_file != NULL))
        rc = add_passphrase_recipient(&rcpts, a);
    if (rc == DM_EXIT_OK && a->escrow != NULL)
        rc = add_escrow_recipient(&rcpts, a, "encrypt");
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
    if (!a->armor && out.is_tty && !forced) {
        cli_output_abort(&out);
        rc = cli_usage_error("encrypt: refusing to write binary ciphertext to a terminal; "
                             "use -a (--armor)");
        goto done;
    }

    dm_encrypt_opts opts = {0};
    opts.armor = a->armor;
    opts.threads = a->threads;
    opts.backend = DM_AEAD_AUTO;
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
    while (rc < 0 &&
           (c = getopt_long(argc, argv, ":r:R:i:j:pao:h", encrypt_longopts, NULL)) != -1) {
        if (c == 'h')
            rc = cli_help(encrypt_usage);
        else if ((rc = encrypt_flag("encrypt", c, optarg, &a)) == FLAG_NOT_MINE)
            rc = cli_bad_option("encrypt", argv, c);
    }
    if (rc < 0 && (rc = encrypt_args_check("encrypt", &a, argc, argv, "-r, -R, -i or -j",
                                           "-r, -R, -i, -j", "")) < 0) {
        a.input = optind < argc ? argv[optind] : NULL;
        int stdin_users = is_stdin_arg(a.input, 1) + is_stdin_arg(a.passphrase_file, 0);
        for (size_t i = 0; i < a.n_specs; i++)
            stdin_users += a.specs[i].is_file != SPEC_RECIPIENT &&
                           a.specs[i].is_file != SPEC_PLUGIN && is_stdin_arg(a.specs[i].value, 0);
        warn_all_duplicates(a.specs, a.n_specs);
        rc = stdin_users > 1 ? cli_usage_error("encrypt: standard input is used for more "
                                               "than one thing (IN, -R -, --passphrase-file -)")
                             : run_encrypt(&a);
    }
    free(a.specs);
    return rc;
}

/* ------------------------------------------------------------ decrypt */

typedef struct decrypt_args {
    const char **identity_files;
    unsigned char *is_plugin; /* identity_files[i] is the NAME of -j NAME (NULL: none is) */
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
        return dm_fail(DM_ERR_USAGE, "file is not passphrase-encrypted, identities are "
                                     "required: use -i FILE or -j NAME");
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
    if (err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE)
        return dm_fail(DM_ERR_BAD_PASSPHRASE, "incorrect passphrase");
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

/* No identity given: the passphrase, asked on the terminal when a stanza wants it. */
static int add_prompt_identity(ident_list *l, const char *cmd) {
    dm_identity *prompt = NULL;
    int err = prompt_identity_new(&prompt);
    if (err == DM_OK)
        err = ident_push(l, prompt);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s", cmd);
}

static int add_identity_file(ident_list *l, const char *path) {
    const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
    char *text = NULL;
    size_t len = 0;
    int is_ssh = 0;
    int err = read_identity_text(path, &text, &len, &is_ssh);
    if (err != DM_OK)
        return fail_plainly(err, "decrypt", name);
    if (is_ssh) {
        dm_identity *id = NULL;
        err = open_ssh_key(path, text, len, &id, NULL);
        if (err == DM_OK)
            err = ident_push(l, id);
        return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "decrypt: identity file %s", name);
    }
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
    if (strcmp(name, "batchpass") == 0)
        return batchpass_identity(l);
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

/* Armored ciphertext typed (or pasted) on a terminal, read up to its END line
 * (or an end of file), a byte at a time so that nothing after it is taken:
 * what follows on the same terminal is the passphrase, asked afterwards (as
 * age 1.3 does, its issue 364). */
#define CLI_MAX_TYPED_ARMOR (16u << 20)
static int read_terminal_armor(int fd, char **out, size_t *out_len) {
    static const char end_line[] = "-----END AGE ENCRYPTED FILE-----";
    size_t cap = 4096, len = 0, line_start = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return dm_fail(DM_ERR_NOMEM, "reading the terminal");
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            return dm_fail(DM_ERR_IO, "reading standard input: %s", strerror(e));
        }
        if (n == 0)
            break;
        if (len + 1 >= cap) {
            if (cap >= CLI_MAX_TYPED_ARMOR) {
                free(buf);
                return dm_fail(DM_ERR_USAGE, "more than %u bytes typed on the terminal",
                               CLI_MAX_TYPED_ARMOR);
            }
            char *nbuf = realloc(buf, cap * 2);
            if (nbuf == NULL) {
                free(buf);
                return dm_fail(DM_ERR_NOMEM, "reading the terminal");
            }
            buf = nbuf;
            cap *= 2;
        }
        buf[len++] = c;
        if (c != '\n')
            continue;
        size_t line_len = len - 1 - line_start;
        if (line_len > 0 && buf[len - 2] == '\r')
            line_len--;
        int is_end =
            line_len == sizeof end_line - 1 && memcmp(buf + line_start, end_line, line_len) == 0;
        line_start = len;
        if (is_end)
            break;
    }
    *out = buf;
    *out_len = len;
    return DM_OK;
}

static int run_decrypt(const decrypt_args *a) {
    const char **read_files = calloc(a->n_identity_files + 2, sizeof *read_files);
    if (read_files == NULL)
        return cli_fail(DM_ERR_NOMEM, "decrypt");
    size_t n_read = 0;
    for (size_t i = 0; i < a->n_identity_files; i++)
        if (a->is_plugin == NULL || !a->is_plugin[i])
            read_files[n_read++] = a->identity_files[i];
    read_files[n_read++] = a->passphrase_file;
    int rc = refuse_output_over_input("decrypt", a->output, a->input, read_files, n_read);
    free(read_files);
    if (rc != DM_EXIT_OK)
        return rc;
    rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    ident_list ids = {0};
    for (size_t i = 0; i < a->n_identity_files && rc == DM_EXIT_OK; i++)
        rc = a->is_plugin != NULL && a->is_plugin[i]
                 ? add_plugin_identity(&ids, a->identity_files[i])
                 : add_identity_file(&ids, a->identity_files[i]);
    if (rc == DM_EXIT_OK)
        rc = cli_plugin_attach(NULL, 0, ids.items, ids.len);
    if (rc == DM_EXIT_OK && a->passphrase_file != NULL)
        rc = add_passphrase_identity(&ids, a->passphrase_file);
    if (rc == DM_EXIT_OK && ids.len == 0)
        rc = add_prompt_identity(&ids, "decrypt");
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
    char *typed = NULL;
    dm_membuf typed_in = {0};
    int err = DM_OK;
    if (in_fd == STDIN_FILENO && isatty(STDIN_FILENO)) {
        size_t typed_len = 0;
        err = read_terminal_armor(in_fd, &typed, &typed_len);
        if (err != DM_OK) {
            rc = cli_fail(err, "decrypt");
            goto done;
        }
        typed_in.data = (const uint8_t *)typed;
        typed_in.len = typed_len;
    }
    cli_output out;
    err = cli_output_open(&out, a->output, 0666);
    if (err != DM_OK) {
        rc = cli_fail(err, "decrypt: output");
        goto done;
    }
    dm_decrypt_opts opts = {0};
    opts.threads = a->threads;
    opts.backend = DM_AEAD_AUTO;
    cli_escrow_decrypt_opts(&escrow, &opts, ids.items, ids.len);
    err = dm_decrypt(typed != NULL ? dm_source_mem(&typed_in) : dm_source_fd(&in_fd),
                     dm_sink_fd(&out.fd), ids.items, ids.len, &opts);
    if (err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE) {
        cli_output_abort(&out);
        rc = fail_plainly(err, "decrypt", NULL);
    } else {
        rc = finish_output(&out, err, "decrypt");
    }
done:
    free(typed);
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
            rc = flag_once("decrypt", "--passphrase-file", &a.passphrase_file, optarg);
            break;
        case OPT_REQUIRE_ESCROW:
            rc = flag_once("decrypt", "--require-escrow", &a.require_escrow, optarg);
            break;
        case OPT_LEAF_BITS:
        case OPT_CRUMPLE_BITS:
            rc = cli_escrow_mode_flag("decrypt", c == OPT_LEAF_BITS, optarg, &a.escrow_opts);
            break;
        case 'o':
            a.output = optarg;
            break;
        case OPT_THREADS:
            rc = flag_threads("decrypt", optarg, &a.threads);
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
            for (size_t i = 0; i < a.n_identity_files; i++) {
                int earlier = 0;
                for (size_t j = 0; j < i && !earlier; j++)
                    earlier =
                        !a.is_plugin[j] && strcmp(a.identity_files[j], a.identity_files[i]) == 0;
                for (size_t j = i + 1; j < a.n_identity_files && !a.is_plugin[i] && !earlier; j++)
                    if (!a.is_plugin[j] && strcmp(a.identity_files[j], a.identity_files[i]) == 0) {
                        cli_msg("warning: duplicate identity file \"%s\"", a.identity_files[i]);
                        break;
                    }
            }
            rc = stdin_users > 1 ? cli_usage_error("decrypt: standard input is used for more "
                                                   "than one thing (IN, -i -, --passphrase-file -)")
                                 : run_decrypt(&a);
        }
    }
    free(a.identity_files);
    free(a.is_plugin);
    return rc;
}

/* ------------------------------------------------------- age's command line */

static const char age_usage[] =
    "Usage:\n"
    "  doormat [-e] (-r RECIPIENT | -R PATH | -i PATH)... [-a] [-o OUTPUT] [INPUT]\n"
    "  doormat [-e] -p [-a] [-o OUTPUT] [INPUT]\n"
    "  doormat -d [-i PATH]... [-o OUTPUT] [INPUT]\n"
    "\n"
    "age's own command line, for scripts written for age 1.1.1: the same flags\n"
    "(long ones with one dash or two), the same keys and files. doormat keeps its\n"
    "own safer output (a temporary file renamed into place) and its exit codes.\n"
    "\n"
    "Options:\n"
    "  -e, --encrypt               encrypt (the default)\n"
    "  -d, --decrypt               decrypt\n"
    "  -o, --output OUTPUT         write to OUTPUT (\"-o -\": standard output, even a\n"
    "                              terminal)\n"
    "  -a, --armor                 write PEM-style ASCII armor\n"
    "  -p, --passphrase            encrypt with a passphrase (asked twice; an empty\n"
    "                              answer autogenerates ten words and shows them)\n"
    "  -r, --recipient RECIPIENT   age1..., \"ssh-ed25519 AAAA...\" or \"ssh-rsa AAAA...\"\n"
    "  -R, --recipients-file PATH  one recipient per line (authorized_keys works)\n"
    "  -i, --identity PATH         an identity file: age-keygen's, an OpenSSH private key,\n"
    "                              or a passphrase-encrypted age file of either kind;\n"
    "                              with -e, encrypt to its recipients\n"
    "  -j NAME                     an age plugin without data (age-plugin-NAME)\n";

enum { OPT_AGE_VERSION = 300 };

static const struct option age_longopts[] = {
    {"encrypt", no_argument, NULL, 'e'},
    {"decrypt", no_argument, NULL, 'd'},
    {"output", required_argument, NULL, 'o'},
    {"armor", no_argument, NULL, 'a'},
    {"passphrase", no_argument, NULL, 'p'},
    {"recipient", required_argument, NULL, 'r'},
    {"recipients-file", required_argument, NULL, 'R'},
    {"identity", required_argument, NULL, 'i'},
    {"plugin", required_argument, NULL, 'j'},
    {"version", no_argument, NULL, OPT_AGE_VERSION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_age(int argc, char **argv) {
    rcpt_spec *specs = calloc((size_t)argc + 1, sizeof *specs);
    const char **ids = calloc((size_t)argc + 1, sizeof *ids);
    if (specs == NULL || ids == NULL) {
        free(specs);
        free(ids);
        return cli_fail(DM_ERR_NOMEM, "age");
    }
    size_t n_specs = 0, n_ids = 0, n_r = 0, n_R = 0, n_j = 0;
    int enc = 0, dec = 0, pass = 0, armor = 0, rc = -1, c;
    const char *output = NULL;
    optind = 1;
    opterr = 0;
    /* "+": like Go's flag package, options stop at the first other word. */
    while (rc < 0 &&
           (c = getopt_long_only(argc, argv, "+:edo:apr:R:i:j:h", age_longopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            enc = 1;
            break;
        case 'd':
            dec = 1;
            break;
        case 'o':
            output = optarg;
            break;
        case 'a':
            armor = 1;
            break;
        case 'p':
            pass = 1;
            break;
        case 'r':
        case 'R':
        case 'i':
        case 'j':
            push_spec(specs, &n_specs, c, optarg);
            n_r += c == 'r';
            n_R += c == 'R';
            n_j += c == 'j';
            if (c == 'i')
                ids[n_ids++] = optarg;
            break;
        case OPT_AGE_VERSION:
            printf("doormat %s\n", DM_VERSION);
            rc = cli_flush_stdout("the version");
            break;
        case 'h':
            /* As age: -h, -help and --help print the usage on standard error. */
            fputs(age_usage, stderr);
            fputs(cli_exit_codes_help, stderr);
            rc = DM_EXIT_OK;
            break;
        default:
            /* No "age" command to point at: the help is doormat's own. */
            if (c == ':') {
                rc = cli_usage_error("option %s needs an argument (see doormat -e --help)",
                                     argv[optind - 1]);
            } else {
                /* age's words (Go's flag package), then the usage, as age prints them. */
                if (optopt != 0)
                    rc = cli_usage_error("flag provided but not defined: -%c", optopt);
                else
                    rc = cli_usage_error("flag provided but not defined: %s", argv[optind - 1]);
                fputs(age_usage, stderr);
            }
            break;
        }
    }
    size_t n_i = n_ids;
    if (rc >= 0) {
        /* done: help, version or a bad option */
    } else if (argc - optind > 1) {
        rc = cli_usage_error(
            "too many INPUT arguments: \"%s\", \"%s\" (%s)", argv[optind], argv[optind + 1],
            argv[optind + 1][0] == '-' ? "the input file must be specified after all flags"
                                       : "only a single input file may be specified at a time");
    } else if (dec && enc) {
        rc = cli_usage_error("-e/--encrypt can't be used with -d/--decrypt");
    } else if (dec && armor) {
        rc = cli_usage_error("-a/--armor can't be used with -d/--decrypt (armored files are "
                             "detected automatically)");
    } else if (dec && pass) {
        rc = cli_usage_error("-p/--passphrase can't be used with -d/--decrypt "
                             "(passphrase-protected files are detected automatically)");
    } else if (dec && (n_r > 0 || n_R > 0)) {
        rc = cli_usage_error("%s can't be used with -d/--decrypt (did you mean to use "
                             "-i/--identity to specify a private key?)",
                             n_r > 0 ? "-r/--recipient" : "-R/--recipients-file");
    } else if (!dec && (n_i > 0 || n_j > 0) && !enc) {
        rc = cli_usage_error("-i/--identity and -j can't be used in encryption mode unless "
                             "symmetric encryption is explicitly selected with -e/--encrypt "
                             "(did you forget to specify -d/--decrypt?)");
    } else if (!dec && n_specs == 0 && !pass) {
        rc = cli_usage_error("missing recipients (did you forget to specify -r/--recipient, "
                             "-R/--recipients-file or -p/--passphrase?)");
    } else if (!dec && pass && n_r > 0) {
        rc = cli_usage_error("-p/--passphrase can't be combined with -r/--recipient");
    } else if (!dec && pass && n_R > 0) {
        rc = cli_usage_error("-p/--passphrase can't be combined with -R/--recipients-file");
    } else if (!dec && pass && (n_i > 0 || n_j > 0)) {
        rc = cli_usage_error("-p/--passphrase can't be combined with -i/--identity and -j");
    } else {
        const char *input = optind < argc ? argv[optind] : NULL;
        int stdin_users = is_stdin_arg(input, 1);
        for (size_t i = 0; i < n_specs; i++)
            stdin_users += (specs[i].is_file == SPEC_RECIPIENTS_FILE ||
                            specs[i].is_file == SPEC_IDENTITY_FILE) &&
                           is_stdin_arg(specs[i].value, 0);
        warn_all_duplicates(specs, n_specs);
        if (stdin_users > 1) {
            rc =
                cli_usage_error("standard input is used for multiple purposes (INPUT, -R -, -i -)");
        } else if (dec) {
            /* -i and -j in command-line order, as decrypt takes them. */
            decrypt_args d = {0};
            unsigned char *is_plugin = calloc(n_specs + 1, 1);
            const char **files = calloc(n_specs + 1, sizeof *files);
            for (size_t i = 0; is_plugin != NULL && files != NULL && i < n_specs; i++)
                if (specs[i].is_file == SPEC_IDENTITY_FILE || specs[i].is_file == SPEC_PLUGIN) {
                    is_plugin[d.n_identity_files] = specs[i].is_file == SPEC_PLUGIN;
                    files[d.n_identity_files++] = specs[i].value;
                }
            d.identity_files = files;
            d.is_plugin = is_plugin;
            d.output = output;
            d.input = input;
            rc = is_plugin == NULL || files == NULL ? cli_fail(DM_ERR_NOMEM, "age")
                                                    : run_decrypt(&d);
            free(is_plugin);
            free(files);
        } else {
            encrypt_args e = {0};
            e.specs = specs;
            e.n_specs = n_specs;
            e.passphrase_tty = pass;
            e.armor = armor;
            e.output = output;
            e.input = input;
            rc = run_encrypt(&e);
        }
    }
    free(specs);
    free(ids);
    return rc;
}

/* --------------------------------------------------------------- rekey */

static const char rekey_usage[] =
    "Usage:\n"
    "  doormat rekey [-i FILE]... [--old-passphrase-file FILE]\n"
    "                (-r RECIPIENT | -R FILE)... [--escrow FILE] [-a] [-o OUT] [IN]\n"
    "  doormat rekey [-i FILE]... (-p | --passphrase-file FILE) [-a] [-o OUT] [IN]\n"
    "\n"
    "Re-addresses an age file without re-encrypting it: opens its file key with the\n"
    "identities (-i) or the passphrase (asked on the terminal when no -i is given),\n"
    "writes a new header for the new recipients, and copies the payload bytes as\n"
    "they are. The new recipients are given exactly as to encrypt.\n"
    "\n"
    "What it cannot do: take access away. The file key does not change, so whoever\n"
    "could open the file before (with an old key, an old copy, or the file key\n"
    "itself) can still read this one. To revoke, decrypt and encrypt again.\n"
    "\n"
    "Options:\n"
    "  -i, --identity FILE             an identity that opens IN (as decrypt -i)\n"
    "      --old-passphrase-file FILE  IN's passphrase, from the first line of FILE\n"
    "  -r, --recipient RECIPIENT       a new recipient (age1..., ssh-ed25519, ssh-rsa)\n"
    "  -R, --recipients-file FILE      new recipients, one per line\n"
    "  -p, --passphrase                a new passphrase, asked on the terminal\n"
    "      --passphrase-file FILE      a new passphrase from the first line of FILE\n"
    "      --escrow FILE               also escrow the file key (as encrypt --escrow)\n"
    "      --leaf-bits N, --crumple-bits C   escrow modes, as encrypt\n"
    "  -a, --armor                     armor the output (an armored IN is read either way)\n"
    "  -o, --output OUT                write to OUT atomically (may be IN itself)\n"
    "  -h, --help                      this text\n"
    "\n"
    "On any failure (a wrong identity, a damaged header) nothing is written and an\n"
    "existing OUT is left as it was.\n"
    "\n"
    "Example:\n"
    "  doormat rekey -i old.txt -r age1... -o notes.age notes.age\n";

enum { OPT_OLD_PASSPHRASE_FILE = 400 };

static const struct option rekey_longopts[] = {
    {"identity", required_argument, NULL, 'i'},
    {"old-passphrase-file", required_argument, NULL, OPT_OLD_PASSPHRASE_FILE},
    {"recipient", required_argument, NULL, 'r'},
    {"recipients-file", required_argument, NULL, 'R'},
    {"passphrase", no_argument, NULL, 'p'},
    {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
    {"escrow", required_argument, NULL, OPT_ESCROW},
    {"leaf-bits", required_argument, NULL, OPT_LEAF_BITS},
    {"crumple-bits", required_argument, NULL, OPT_CRUMPLE_BITS},
    {"armor", no_argument, NULL, 'a'},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int run_rekey(const encrypt_args *a, const decrypt_args *d) {
    if (!a->armor && a->output == NULL && isatty(STDOUT_FILENO))
        return refuse_binary_tty("rekey");
    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    ident_list ids = {0};
    rcpt_list rcpts = {0};
    for (size_t i = 0; i < d->n_identity_files && rc == DM_EXIT_OK; i++)
        rc = add_identity_file(&ids, d->identity_files[i]);
    if (rc == DM_EXIT_OK && d->passphrase_file != NULL)
        rc = add_passphrase_identity(&ids, d->passphrase_file);
    if (rc == DM_EXIT_OK && ids.len == 0)
        rc = add_prompt_identity(&ids, "rekey");
    for (size_t i = 0; i < a->n_specs && rc == DM_EXIT_OK; i++)
        rc = a->specs[i].is_file == SPEC_RECIPIENTS_FILE
                 ? add_recipients_file(&rcpts, a->specs[i].value)
                 : add_recipient_string(&rcpts, a->specs[i].value);
    if (rc == DM_EXIT_OK && (a->passphrase_tty || a->passphrase_file != NULL))
        rc = add_passphrase_recipient(&rcpts, a);
    if (rc == DM_EXIT_OK && a->escrow != NULL)
        rc = add_escrow_recipient(&rcpts, a, "rekey");
    if (rc == DM_EXIT_OK)
        rc = cli_plugin_attach(rcpts.items, rcpts.len, ids.items, ids.len);
    int in_fd = -1;
    if (rc == DM_EXIT_OK && (in_fd = cli_open_input(a->input)) < 0)
        rc = DM_EXIT_FAILURE;
    if (rc != DM_EXIT_OK) {
        ident_list_free(&ids);
        rcpt_list_free(&rcpts);
        return rc;
    }
    cli_output out;
    int err = cli_output_open(&out, a->output, 0666);
    if (err != DM_OK) {
        rc = cli_fail(err, "rekey: output");
    } else {
        dm_rekey_opts opts = {0};
        opts.encrypt.armor = a->armor;
        /* Escrow stanzas may stand beside a passphrase, in the old file and
         * the new (the escrow recipient is a companion). */
        for (size_t i = 0; i < ids.len; i++)
            ids.items[i]->beside = dm_escrow_beside;
        err = dm_rekey(dm_source_fd(&in_fd), dm_sink_fd(&out.fd), ids.items, ids.len, rcpts.items,
                       rcpts.len, &opts);
        if (err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE) {
            cli_output_abort(&out);
            rc = fail_plainly(err, "rekey", NULL);
        } else {
            rc = finish_output(&out, err, "rekey");
        }
    }
    if (in_fd != STDIN_FILENO)
        close(in_fd);
    ident_list_free(&ids);
    rcpt_list_free(&rcpts);
    return rc;
}

int cmd_rekey(int argc, char **argv) {
    encrypt_args a = {0};
    decrypt_args d = {0};
    a.specs = calloc((size_t)argc, sizeof *a.specs);
    d.identity_files = calloc((size_t)argc, sizeof *d.identity_files);
    int rc = -1, c;
    if (a.specs == NULL || d.identity_files == NULL)
        rc = cli_fail(DM_ERR_NOMEM, "rekey");
    optind = 1;
    opterr = 0;
    while (rc < 0 && (c = getopt_long(argc, argv, ":i:r:R:pao:h", rekey_longopts, NULL)) != -1) {
        if (c == 'i') /* the old file's identities; -r, -R and the rest are the new file's */
            d.identity_files[d.n_identity_files++] = optarg;
        else if (c == OPT_OLD_PASSPHRASE_FILE)
            rc = flag_once("rekey", "--old-passphrase-file", &d.passphrase_file, optarg);
        else if (c == 'h')
            rc = cli_help(rekey_usage);
        else if ((rc = encrypt_flag("rekey", c, optarg, &a)) == FLAG_NOT_MINE)
            rc = cli_bad_option("rekey", argv, c);
    }
    if (rc < 0 &&
        (rc = encrypt_args_check("rekey", &a, argc, argv, "-r or -R", "-r, -R", "new ")) < 0) {
        a.input = optind < argc ? argv[optind] : NULL;
        int stdin_users = is_stdin_arg(a.input, 1) + is_stdin_arg(a.passphrase_file, 0) +
                          is_stdin_arg(d.passphrase_file, 0);
        for (size_t i = 0; i < d.n_identity_files; i++)
            stdin_users += is_stdin_arg(d.identity_files[i], 0);
        for (size_t i = 0; i < a.n_specs; i++)
            stdin_users +=
                a.specs[i].is_file == SPEC_RECIPIENTS_FILE && is_stdin_arg(a.specs[i].value, 0);
        rc = stdin_users > 1
                 ? cli_usage_error("rekey: standard input is used for more than one thing")
                 : run_rekey(&a, &d);
    }
    free(a.specs);
    free(d.identity_files);
    return rc;
}
