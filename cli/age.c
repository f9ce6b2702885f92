/* age's own command line (doormat -d -i key file, doormat -r age1... -o out
 * in): age's flags and words, doormat's encrypt and decrypt runs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"

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
    cli_flags f;
    int rc = cli_flags_init(&f, argc, "age");
    if (rc != DM_EXIT_OK)
        return rc;
    size_t n_r = 0, n_R = 0, n_i = 0, n_j = 0;
    int enc = 0, dec = 0, c;
    int done = 0; /* help, version or a bad option: rc says how it went */
    optind = 1;
    opterr = 0;
    /* "+": like Go's flag package, options stop at the first other word. */
    while (!done &&
           (c = getopt_long_only(argc, argv, "+:edo:apr:R:i:j:h", age_longopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            enc = 1;
            break;
        case 'd':
            dec = 1;
            break;
        case 'o':
            f.output = optarg;
            break;
        case 'a':
            f.armor = 1;
            break;
        case 'p':
            f.passphrase_tty = 1;
            break;
        case 'r':
        case 'R':
        case 'i':
        case 'j':
            cli_flags_push_spec(&f, c, optarg);
            n_r += c == 'r';
            n_R += c == 'R';
            n_i += c == 'i';
            n_j += c == 'j';
            break;
        case OPT_AGE_VERSION:
            printf("doormat %s\n", DM_VERSION);
            rc = cli_flush_stdout("the version");
            done = 1;
            break;
        case 'h':
            /* As age: -h, -help and --help print the usage on standard error. */
            fputs(age_usage, stderr);
            fputs(cli_exit_codes_help, stderr);
            f.help = 1;
            rc = DM_EXIT_OK;
            done = 1;
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
            done = 1;
            break;
        }
    }
    int pass = f.passphrase_tty;
    if (done) {
        /* done: help, version or a bad option */
    } else if (argc - optind > 1) {
        rc = cli_usage_error(
            "too many INPUT arguments: \"%s\", \"%s\" (%s)", argv[optind], argv[optind + 1],
            argv[optind + 1][0] == '-' ? "the input file must be specified after all flags"
                                       : "only a single input file may be specified at a time");
    } else if (dec && enc) {
        rc = cli_usage_error("-e/--encrypt can't be used with -d/--decrypt");
    } else if (dec && f.armor) {
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
    } else if (!dec && f.n_specs == 0 && !pass) {
        rc = cli_usage_error("missing recipients (did you forget to specify -r/--recipient, "
                             "-R/--recipients-file or -p/--passphrase?)");
    } else if (!dec && pass && n_r > 0) {
        rc = cli_usage_error("-p/--passphrase can't be combined with -r/--recipient");
    } else if (!dec && pass && n_R > 0) {
        rc = cli_usage_error("-p/--passphrase can't be combined with -R/--recipients-file");
    } else if (!dec && pass && (n_i > 0 || n_j > 0)) {
        rc = cli_usage_error("-p/--passphrase can't be combined with -i/--identity and -j");
    } else {
        f.input = optind < argc ? argv[optind] : NULL;
        int stdin_users = cli_is_stdin(f.input, 1);
        for (size_t i = 0; i < f.n_specs; i++)
            stdin_users += (f.specs[i].kind == CLI_SPEC_RECIPIENTS_FILE ||
                            f.specs[i].kind == CLI_SPEC_IDENTITY_FILE) &&
                           cli_is_stdin(f.specs[i].value, 0);
        cli_warn_duplicates(f.specs, f.n_specs);
        if (stdin_users > 1)
            rc =
                cli_usage_error("standard input is used for multiple purposes (INPUT, -R -, -i -)");
        else /* with -d, -i and -j alone are given (-r and -R were refused) */
            rc = dec ? cli_run_decrypt(&f) : cli_run_encrypt(&f);
    }
    cli_flags_clear(&f);
    return rc;
}
