/* doormat decrypt: the flags become identities, then the vault streams IN
 * to a safe OUT, which appears only if the whole file authenticated. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flags.h"

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

static const int decrypt_flags[] = {'i',
                                    'j',
                                    CLI_OPT_PASSPHRASE_FILE,
                                    CLI_OPT_REQUIRE_ESCROW,
                                    CLI_OPT_LEAF_BITS,
                                    CLI_OPT_CRUMPLE_BITS,
                                    'o',
                                    CLI_OPT_THREADS,
                                    'h',
                                    0};

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

int cli_run_decrypt(const cli_flags *f) {
    const char **read_files = calloc(f->n_specs + 2, sizeof *read_files);
    if (read_files == NULL)
        return cli_fail(DM_ERR_NOMEM, "decrypt");
    size_t n_read = 0;
    for (size_t i = 0; i < f->n_specs; i++)
        if (f->specs[i].kind == CLI_SPEC_IDENTITY_FILE)
            read_files[n_read++] = f->specs[i].value;
    read_files[n_read++] = f->passphrase_file;
    int rc = cli_refuse_output_over_input("decrypt", f->output, f->input, read_files, n_read);
    free(read_files);
    if (rc != DM_EXIT_OK)
        return rc;
    rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    /* -i and -j in command-line order. */
    cli_ident_list ids = {0};
    for (size_t i = 0; i < f->n_specs && rc == DM_EXIT_OK; i++)
        if (f->specs[i].kind == CLI_SPEC_PLUGIN)
            rc = cli_add_plugin_identity(&ids, f->specs[i].value);
        else if (f->specs[i].kind == CLI_SPEC_IDENTITY_FILE)
            rc = cli_add_identity_file(&ids, f->specs[i].value);
    if (rc == DM_EXIT_OK)
        rc = cli_plugin_attach(NULL, 0, ids.items, ids.len);
    if (rc == DM_EXIT_OK && f->passphrase_file != NULL)
        rc = cli_add_passphrase_identity(&ids, f->passphrase_file);
    if (rc == DM_EXIT_OK && ids.len == 0)
        rc = cli_add_prompt_identity(&ids, "decrypt");
    cli_escrow_policy escrow = {0};
    if (rc == DM_EXIT_OK)
        rc = cli_escrow_policy_load(f->require_escrow, &f->escrow_opts, &escrow);
    if (rc != DM_EXIT_OK) {
        cli_ident_list_clear(&ids);
        return rc;
    }

    int in_fd = cli_open_input(f->input);
    if (in_fd < 0) {
        cli_ident_list_clear(&ids);
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
    err = cli_output_open(&out, f->output, 0666);
    if (err != DM_OK) {
        rc = cli_fail(err, "decrypt: output");
        goto done;
    }
    dm_decrypt_opts opts = {0};
    opts.threads = f->threads;
    opts.backend = DM_AEAD_AUTO;
    cli_escrow_decrypt_opts(&escrow, &opts, ids.items, ids.len);
    err = dm_decrypt(typed != NULL ? dm_source_mem(&typed_in) : dm_source_fd(&in_fd),
                     dm_sink_fd(&out.fd), ids.items, ids.len, &opts);
    if (err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE) {
        cli_output_abort(&out);
        rc = cli_fail_plainly(err, "decrypt", NULL);
    } else {
        rc = cli_finish_output(&out, err, "decrypt");
    }
done:
    free(typed);
    if (in_fd != STDIN_FILENO)
        close(in_fd);
    cli_ident_list_clear(&ids);
    cli_escrow_policy_free(&escrow);
    return rc;
}

int cmd_decrypt(int argc, char **argv) {
    cli_flags f;
    int rc = cli_flags_parse("decrypt", argc, argv, ":i:j:o:h", decrypt_flags, &f);
    if (rc != DM_EXIT_OK) {
        /* a bad flag, said */
    } else if (f.help) {
        rc = cli_help(decrypt_usage);
    } else if (argc - optind > 1) {
        rc = cli_usage_error("decrypt: more than one input (\"%s\", \"%s\"); see doormat "
                             "decrypt --help",
                             argv[optind], argv[optind + 1]);
    } else if (f.escrow_opts.mode != DM_ESCROW_MODE_SHAMIR && f.require_escrow == NULL) {
        rc = cli_usage_error("decrypt: --leaf-bits and --crumple-bits need --require-escrow");
    } else {
        f.input = optind < argc ? argv[optind] : NULL;
        int stdin_users = cli_is_stdin(f.input, 1) + cli_is_stdin(f.passphrase_file, 0);
        for (size_t i = 0; i < f.n_specs; i++)
            stdin_users +=
                f.specs[i].kind == CLI_SPEC_IDENTITY_FILE && cli_is_stdin(f.specs[i].value, 0);
        cli_warn_duplicates(f.specs, f.n_specs); /* -i files only: -j names are not */
        rc = stdin_users > 1 ? cli_usage_error("decrypt: standard input is used for more "
                                               "than one thing (IN, -i -, --passphrase-file -)")
                             : cli_run_decrypt(&f);
    }
    cli_flags_clear(&f);
    return rc;
}
