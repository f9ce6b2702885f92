/* doormat rekey: a new header for new recipients, the payload copied as it
 * is. */
#include <string.h>
#include <unistd.h>

#include "flags.h"

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

static const int rekey_flags[] = {'i',
                                  CLI_OPT_OLD_PASSPHRASE_FILE,
                                  'r',
                                  'R',
                                  'p',
                                  CLI_OPT_PASSPHRASE_FILE,
                                  CLI_OPT_ESCROW,
                                  CLI_OPT_LEAF_BITS,
                                  CLI_OPT_CRUMPLE_BITS,
                                  'a',
                                  'o',
                                  'h',
                                  0};

/* The -i files of f open the old file; its other specs are the new file's
 * recipients. */
static int run_rekey(const cli_flags *f) {
    if (!f->armor && f->output == NULL && isatty(STDOUT_FILENO))
        return cli_refuse_binary_tty("rekey");
    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    cli_ident_list ids = {0};
    cli_rcpt_list rcpts = {0};
    for (size_t i = 0; i < f->n_specs && rc == DM_EXIT_OK; i++)
        if (f->specs[i].kind == CLI_SPEC_IDENTITY_FILE)
            rc = cli_add_identity_file(&ids, f->specs[i].value);
    if (rc == DM_EXIT_OK && f->old_passphrase_file != NULL)
        rc = cli_add_passphrase_identity(&ids, f->old_passphrase_file);
    if (rc == DM_EXIT_OK && ids.len == 0)
        rc = cli_add_prompt_identity(&ids, "rekey");
    for (size_t i = 0; i < f->n_specs && rc == DM_EXIT_OK; i++)
        if (f->specs[i].kind == CLI_SPEC_RECIPIENTS_FILE)
            rc = cli_add_recipients_file(&rcpts, f->specs[i].value);
        else if (f->specs[i].kind == CLI_SPEC_RECIPIENT)
            rc = cli_add_recipient(&rcpts, f->specs[i].value);
    if (rc == DM_EXIT_OK && (f->passphrase_tty || f->passphrase_file != NULL))
        rc = cli_add_passphrase_recipient(&rcpts, f);
    if (rc == DM_EXIT_OK && f->escrow != NULL)
        rc = cli_add_escrow_recipient(&rcpts, f, "rekey");
    if (rc == DM_EXIT_OK)
        rc = cli_plugin_attach(rcpts.items, rcpts.len, ids.items, ids.len);
    int in_fd = -1;
    if (rc == DM_EXIT_OK && (in_fd = cli_open_input(f->input)) < 0)
        rc = DM_EXIT_FAILURE;
    if (rc != DM_EXIT_OK) {
        cli_ident_list_clear(&ids);
        cli_rcpt_list_clear(&rcpts);
        return rc;
    }
    cli_output out;
    int err = cli_output_open(&out, f->output, 0666);
    if (err != DM_OK) {
        rc = cli_fail(err, "rekey: output");
    } else {
        dm_rekey_opts opts = {0};
        opts.encrypt.armor = f->armor;
        /* Escrow stanzas may stand beside a passphrase, in the old file and
         * the new (the escrow recipient is a companion). */
        for (size_t i = 0; i < ids.len; i++)
            ids.items[i]->beside = dm_escrow_beside;
        err = dm_rekey(dm_source_fd(&in_fd), dm_sink_fd(&out.fd), ids.items, ids.len, rcpts.items,
                       rcpts.len, &opts);
        if (err == DM_ERR_NO_MATCH || err == DM_ERR_BAD_PASSPHRASE) {
            cli_output_abort(&out);
            rc = cli_fail_plainly(err, "rekey", NULL);
        } else {
            rc = cli_finish_output(&out, err, "rekey");
        }
    }
    if (in_fd != STDIN_FILENO)
        close(in_fd);
    cli_ident_list_clear(&ids);
    cli_rcpt_list_clear(&rcpts);
    return rc;
}

int cmd_rekey(int argc, char **argv) {
    cli_flags f;
    int rc = cli_flags_parse("rekey", argc, argv, ":i:r:R:pao:h", rekey_flags, &f);
    size_t n_old = rc == DM_EXIT_OK ? cli_flags_count(&f, CLI_SPEC_IDENTITY_FILE) : 0;
    if (rc == DM_EXIT_OK && f.help)
        rc = cli_help(rekey_usage);
    else if (rc == DM_EXIT_OK)
        rc = cli_flags_check_new("rekey", &f, f.n_specs - n_old, argc, argv, "-r or -R", "-r, -R",
                                 "new ");
    if (rc == DM_EXIT_OK && !f.help) {
        f.input = optind < argc ? argv[optind] : NULL;
        int stdin_users = cli_is_stdin(f.input, 1) + cli_is_stdin(f.passphrase_file, 0) +
                          cli_is_stdin(f.old_passphrase_file, 0);
        for (size_t i = 0; i < f.n_specs; i++)
            stdin_users +=
                f.specs[i].kind != CLI_SPEC_RECIPIENT && cli_is_stdin(f.specs[i].value, 0);
        rc = stdin_users > 1
                 ? cli_usage_error("rekey: standard input is used for more than one thing")
                 : run_rekey(&f);
    }
    cli_flags_clear(&f);
    return rc;
}
