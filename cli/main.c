/* doormat: the command. Finds the command group and hands it the rest of argv;
 * nothing is initialised here that a one-kilobyte encryption does not need. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_service.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

/* Every command group, in the order the usage lists them. */
static const command commands[] = {
    {"keygen", cmd_keygen, "make a new identity, or print an identity's recipient (-y)"},
    {"encrypt", cmd_encrypt, "encrypt a file to recipients or a passphrase"},
    {"decrypt", cmd_decrypt, "decrypt a file with identities or a passphrase"},
    {"inspect", cmd_inspect, "show who can open a file, without any key"},
    {"rekey", cmd_rekey, "re-address a file to new recipients without re-encrypting it"},
    {"escrow", cmd_escrow, "exceptional access: authority, warrants, shares, transparency log"},
    {"lab", cmd_lab, "classroom labs: how exceptional access fails, measured"},
    {"bench", cmd_bench, "time encrypt and decrypt in-process (vault, escrow, passphrase)"},
    {"report", cmd_report, "write the policy briefing (HTML, Markdown) from fresh measurements"},
};

static const char usage_head[] =
    "doormat - age v1 file encryption, and what exceptional access would do to it\n"
    "\n"
    "Usage:\n"
    "  doormat keygen [-o FILE] [--force]\n"
    "  doormat keygen -y [-o FILE] [FILE]\n"
    "  doormat encrypt (-r RECIPIENT | -R FILE)... [-a] [-o OUT] [--threads N] [IN]\n"
    "  doormat encrypt (-p | --passphrase-file FILE) [-a] [-o OUT] [--threads N] [IN]\n"
    "  doormat decrypt [-i FILE]... [--passphrase-file FILE] [-o OUT] [--threads N] [IN]\n"
    "  doormat inspect [--json] [IN]\n"
    "  doormat rekey [-i FILE]... (-r RECIPIENT | -R FILE | -p)... [-a] [-o OUT] [IN]\n"
    "  doormat [-e] (-r RECIPIENT | -R FILE | -i FILE)... [-a] [-o OUT] [IN]   (age's flags)\n"
    "  doormat -d [-i FILE]... [-o OUT] [IN]                                 (age's flags)\n"
    "  doormat escrow init --name NAME [--agents A,B,C] [--threshold K] -o DIR\n"
    "  doormat encrypt ... --escrow DIR/authority.pub\n"
    "  doormat decrypt ... [--require-escrow DIR/authority.pub]\n"
    "  doormat escrow warrant|unwrap|recover|audit|witness|monitor|tamper ... (doormat escrow "
    "--help)\n"
    "  doormat lab list | doormat lab NAME [--dir DIR] [--json] ... (doormat lab --help)\n"
    "  doormat bench [--quick] [--sizes LIST] [--modes LIST] [--json | --csv] ...\n"
    "  doormat report [--quick] -o DIR\n"
    "  doormat --help | doormat COMMAND --help | doormat -e --help (age's flags) | doormat "
    "--version\n"
    "  doormat --features                 what this build can do (NAME: yes | no (why))\n"
    "\n"
    "Files are in the age v1 format (c2sp.org/age): anything doormat encrypts, age\n"
    "decrypts, and the other way round. IN defaults to standard input and OUT to\n"
    "standard output. With -o, the output is written to a temporary file next to OUT\n"
    "and renamed into place only when everything succeeded, so a failure never\n"
    "leaves a partial or unauthenticated file at OUT.\n"
    "\n"
    "Commands:\n";

static const char usage_tail[] =
    "\n"
    "Examples:\n"
    "  doormat keygen -o key.txt                  # prints \"Public key: age1...\"\n"
    "  doormat encrypt -r age1... -o notes.age notes.txt\n"
    "  doormat decrypt -i key.txt -o notes.txt notes.age\n"
    "  doormat encrypt -p -a secret.txt > secret.txt.age\n"
    "  doormat inspect notes.age\n"
    "  doormat -r \"$(cat ~/.ssh/id_ed25519.pub)\" -o notes.age notes.txt   # as with age\n"
    "  doormat -d -i ~/.ssh/id_ed25519 notes.age\n"
    "  doormat rekey -i key.txt -r age1... -o notes.age notes.age\n"
    "\n"
    "Every failure prints one line, \"doormat: <what failed>\", on standard error.\n";

static int usage(FILE *to) {
    fputs(usage_head, to);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(to, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs(usage_tail, to);
    fputs(cli_exit_codes_help, to);
    return cli_flush_stdout("the help");
}

/* What this build can do, one "NAME: yes" or "NAME: no (WHY)" line each, for
 * scripts and tests (tests/testscript.py skips what the build lacks, by name).
 * The hybrid post-quantum recipient needs ML-KEM-768 from OpenSSL 3.5; the
 * build defines DM_HAVE_MLKEM where it has it. */
static int features(void) {
    static const char *const lines[] = {
        "x25519: yes",  "scrypt: yes",    "ssh-ed25519: yes", "ssh-rsa: yes",
        "plugins: yes", "batchpass: yes", "escrow: yes",
#ifdef DM_HAVE_MLKEM
        "age1pq: yes",
#else
        ("age1pq: no (this build cannot use age1pq recipients: it needs OpenSSL 3.5 or later, "
         "with ML-KEM-768)"),
#endif
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        puts(lines[i]);
    return cli_flush_stdout("the features");
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLI_LEAK_CHECKED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CLI_LEAK_CHECKED 1
#endif

/* Leaves without the libraries' exit handlers: OpenSSL's cleanup alone is a
 * noticeable part of a one-kilobyte decryption (docs/benchmarks.md, "Start-up"),
 * for memory the kernel reclaims anyway (secrets were already zeroed by their
 * owners). Sanitizer builds exit normally so that the leak checker still runs. */
static int leave(int rc) {
#ifdef CLI_LEAK_CHECKED
    return rc;
#else
    if (fflush(NULL) != 0 && rc == DM_EXIT_OK)
        rc = DM_EXIT_FAILURE;
    _exit(rc);
#endif
}

int main(int argc, char **argv) {
    cli_harden();
    if (argc < 2) {
        /* As age with no arguments: the usage on standard error, and a failure. */
        usage(stderr);
        return DM_EXIT_USAGE;
    }
    /* A network command is doormat-net's (cli/net.c). */
    int net = cli_net_handover(argc, argv);
    if (net >= 0)
        return net;
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0)
        return usage(stdout);
    if (strcmp(name, "--features") == 0)
        return features();
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("doormat %s\n", DM_VERSION);
        return cli_flush_stdout("the version");
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return leave(commands[i].run(argc - 1, argv + 1));
    /* Flags first and no command: age's command line (doormat -d -i key file). */
    if (name[0] == '-')
        return leave(cmd_age(argc, argv));
    return cli_usage_error("unknown command \"%s\" (see doormat --help)", name);
}
