/* doormat encrypt: the flags become recipients, then the vault streams IN
 * to a safe OUT. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flags.h"

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

static const int encrypt_flags[] = {'r',
                                    'R',
                                    'i',
                                    'j',
                                    'p',
                                    CLI_OPT_PASSPHRASE_FILE,
                                    'a',
                                    CLI_OPT_ESCROW,
                                    CLI_OPT_LEAF_BITS,
                                    CLI_OPT_CRUMPLE_BITS,
                                    'o',
                                    CLI_OPT_THREADS,
                                    'h',
                                    0};

int cli_run_encrypt(const cli_flags *f) {
    /* Refuse early, before asking for a passphrase, when stdout is a terminal. */
    /* "-o -" asks for binary on the terminal on purpose, as with age. */
    int forced = f->output != NULL && strcmp(f->output, "-") == 0;
    if (!f->armor && f->output == NULL && isatty(STDOUT_FILENO))
        return cli_refuse_binary_tty("encrypt");
    const char **read_files = calloc(f->n_specs + 2, sizeof *read_files);
    if (read_files == NULL)
        return cli_fail(DM_ERR_NOMEM, "encrypt");
    size_t n_read = 0;
    for (size_t i = 0; i < f->n_specs; i++)
        if (f->specs[i].kind == CLI_SPEC_RECIPIENTS_FILE ||
            f->specs[i].kind == CLI_SPEC_IDENTITY_FILE)
            read_files[n_read++] = f->specs[i].value;
    read_files[n_read++] = f->passphrase_file;
    int rc = cli_refuse_output_over_input("encrypt", f->output, f->input, read_files, n_read);
    free(read_files);
    if (rc != DM_EXIT_OK)
        return rc;
    /* -j batchpass is a passphrase: its scrypt stanza must stand alone (age's words). */
    for (size_t i = 0; i < f->n_specs; i++)
        if (f->specs[i].kind == CLI_SPEC_PLUGIN && strcmp(f->specs[i].value, "batchpass") == 0 &&
            (f->n_specs > 1 || f->passphrase_tty || f->passphrase_file != NULL || f->escrow))
            return cli_usage_error("encrypt: incompatible recipients: -j batchpass (a passphrase) "
                                   "can't be combined with other recipients");
    rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;

    cli_rcpt_list rcpts = {0};
    for (size_t i = 0; i < f->n_specs && rc == DM_EXIT_OK; i++) {
        const char *v = f->specs[i].value;
        switch (f->specs[i].kind) {
        case CLI_SPEC_RECIPIENTS_FILE:
            rc = cli_add_recipients_file(&rcpts, v);
            break;
        case CLI_SPEC_IDENTITY_FILE:
            rc = cli_add_identity_recipients(&rcpts, v);
            break;
        case CLI_SPEC_PLUGIN:
            rc = cli_add_plugin_recipient(&rcpts, v);
            break;
        default:
            rc = cli_add_recipient(&rcpts, v);
        }
    }
    if (rc == DM_EXIT_OK)
        rc = cli_plugin_attach(rcpts.items, rcpts.len, NULL, 0);
    if (rc == DM_EXIT_OK && (f->passphrase_tty || f->passphrase_file != NULL))
        rc = cli_add_passphrase_recipient(&rcpts, f);
    if (rc == DM_EXIT_OK && f->escrow != NULL)
        rc = cli_add_escrow_recipient(&rcpts, f, "encrypt");
    if (rc != DM_EXIT_OK) {
        cli_rcpt_list_clear(&rcpts);
        return rc;
    }

    int in_fd = cli_open_input(f->input);
    if (in_fd < 0) {
        cli_rcpt_list_clear(&rcpts);
        return DM_EXIT_FAILURE;
    }
    cli_output out;
    int err = cli_output_open(&out, f->output, 0666);
    if (err != DM_OK) {
        rc = cli_fail(err, "encrypt: output");
        goto done;
    }
    if (!f->armor && out.is_tty && !forced) {
        cli_output_abort(&out);
        rc = cli_usage_error("encrypt: refusing to write binary ciphertext to a terminal; "
                             "use -a (--armor)");
        goto done;
    }

    dm_encrypt_opts opts = {0};
    opts.armor = f->armor;
    opts.threads = f->threads;
    opts.backend = DM_AEAD_AUTO;
    err = dm_encrypt(dm_source_fd(&in_fd), dm_sink_fd(&out.fd), rcpts.items, rcpts.len, &opts);
    rc = cli_finish_output(&out, err, "encrypt");
done:
    if (in_fd != STDIN_FILENO)
        close(in_fd);
    cli_rcpt_list_clear(&rcpts);
    return rc;
}

int cmd_encrypt(int argc, char **argv) {
    cli_flags f;
    int rc = cli_flags_parse("encrypt", argc, argv, ":r:R:i:j:pao:h", encrypt_flags, &f);
    if (rc == DM_EXIT_OK && f.help)
        rc = cli_help(encrypt_usage);
    else if (rc == DM_EXIT_OK)
        rc = cli_flags_check_new("encrypt", &f, f.n_specs, argc, argv, "-r, -R, -i or -j",
                                 "-r, -R, -i, -j", "");
    if (rc == DM_EXIT_OK && !f.help) {
        f.input = optind < argc ? argv[optind] : NULL;
        int stdin_users = cli_is_stdin(f.input, 1) + cli_is_stdin(f.passphrase_file, 0);
        for (size_t i = 0; i < f.n_specs; i++)
            stdin_users += f.specs[i].kind != CLI_SPEC_RECIPIENT &&
                           f.specs[i].kind != CLI_SPEC_PLUGIN && cli_is_stdin(f.specs[i].value, 0);
        cli_warn_duplicates(f.specs, f.n_specs);
        rc = stdin_users > 1 ? cli_usage_error("encrypt: standard input is used for more "
                                               "than one thing (IN, -R -, --passphrase-file -)")
                             : cli_run_encrypt(&f);
    }
    cli_flags_clear(&f);
    return rc;
}
