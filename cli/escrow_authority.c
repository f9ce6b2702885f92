/* doormat escrow authority endpoint: where an agent or a witness answers, and
 * the pin of its TLS key, written into authority.pub by a command rather than
 * by hand. These "url:" and "tls:" lines are outside the authority id, so the
 * id (and every file escrowed to it) is unchanged; the file is replaced
 * atomically. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_escrow.h"

static const char authority_usage[] =
    "Usage:\n"
    "  doormat escrow authority endpoint --authority DIR/authority.pub\n"
    "                 [--url NAME=https://HOST:PORT]... [--tls NAME=sha256//PIN]...\n"
    "\n"
    "Sets where agent or witness NAME answers (its \"url:\" line) and the pin of\n"
    "its TLS key (its \"tls:\" line) in authority.pub, adding the line or replacing\n"
    "the one there: the same command adds a witness's address after its first\n"
    "start, and rotates it when the machine moves or its TLS key is renewed. NAME\n"
    "is an agent's name or a witness's key name (as in its witness.vkey). The pin\n"
    "is the one the witness or agent prints when it starts (\"sha256//\" and 44\n"
    "base64 characters). These lines are not part of the authority id: the id,\n"
    "and every file escrowed to the authority, stay as they are. The file is\n"
    "replaced atomically (a temporary file renamed over it).\n"
    "\n"
    "Options:\n"
    "  --authority FILE   the authority's public file, rewritten in place\n"
    "  --url NAME=URL     an https:// URL, printable, at most 255 bytes (repeatable)\n"
    "  --tls NAME=PIN     a TLS key pin, sha256//BASE64 (repeatable)\n"
    "  -h, --help         this text\n"
    "\n"
    "Example (after the witness printed its pin on its first start):\n"
    "  doormat escrow authority endpoint --authority fbi/authority.pub \\\n"
    "      --url witness.example/w1=https://w1.example:8443 \\\n"
    "      --tls witness.example/w1=sha256//lmIZPUhHqiSdnesH0QVX4zEu8jEIWPI2xD3hZMnLQbM=\n";

enum { OPT_AUTHORITY = 256, OPT_URL, OPT_TLS };

static const struct option endpoint_longopts[] = {
    {"authority", required_argument, NULL, OPT_AUTHORITY},
    {"url", required_argument, NULL, OPT_URL},
    {"tls", required_argument, NULL, OPT_TLS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define MAX_SETTINGS 64

typedef struct endpoint_setting {
    int tls; /* a --tls pin, else a --url */
    const char *arg;
    char said[2 * DM_ESCROW_MAX_URL + DM_ESCROW_MAX_ENDPOINT_NAME + 32]; /* what changed */
} endpoint_setting;

/* One --url or --tls NAME=VALUE into the authority; s->said is what changed,
 * printed once the file is written. */
static int apply_setting(dm_escrow_authority *auth, endpoint_setting *s) {
    const char *flag = s->tls ? "--tls" : "--url";
    const char *eq = strchr(s->arg, '=');
    if (eq == NULL || eq == s->arg || eq[1] == '\0')
        return cli_usage_error("escrow authority endpoint: %s wants NAME=%s, not \"%s\"", flag,
                               s->tls ? "sha256//PIN" : "https://HOST:PORT", s->arg);
    size_t nlen = (size_t)(eq - s->arg);
    if (nlen > DM_ESCROW_MAX_ENDPOINT_NAME)
        return cli_usage_error("escrow authority endpoint: %s %s: no agent or witness has that name",
                               flag, s->arg);
    char name[DM_ESCROW_MAX_ENDPOINT_NAME + 1];
    memcpy(name, s->arg, nlen);
    name[nlen] = '\0';
    const char *old = s->tls ? dm_escrow_authority_endpoint_pin(auth, name)
                             : dm_escrow_authority_endpoint_url(auth, name);
    char was[DM_ESCROW_MAX_URL + 1] = "";
    if (old != NULL)
        snprintf(was, sizeof was, "%s", old);
    int err = dm_escrow_authority_set_endpoint(auth, name, s->tls ? eq + 1 : NULL,
                                               s->tls ? NULL : eq + 1);
    if (err != DM_OK) {
        char why[400];
        snprintf(why, sizeof why, "%s", dm_err_detail());
        return cli_usage_error("escrow authority endpoint: %s %s: %s", flag, s->arg, why);
    }
    const char *kind = s->tls ? "tls" : "url";
    if (was[0] == '\0')
        snprintf(s->said, sizeof s->said, "%s: %s %s (added)", name, kind, eq + 1);
    else if (strcmp(was, eq + 1) == 0)
        snprintf(s->said, sizeof s->said, "%s: %s %s (unchanged)", name, kind, eq + 1);
    else
        snprintf(s->said, sizeof s->said, "%s: %s %s (was %s)", name, kind, eq + 1, was);
    return DM_EXIT_OK;
}

static int authority_endpoint(int argc, char **argv) {
    const char *path = NULL;
    endpoint_setting settings[MAX_SETTINGS];
    size_t n = 0;
    int c, li = -1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", endpoint_longopts, &li)) != -1) {
        switch (c) {
        case OPT_AUTHORITY:
            if (path != NULL)
                return cli_usage_error("escrow authority endpoint: --authority given twice");
            path = optarg;
            break;
        case OPT_URL:
        case OPT_TLS:
            if (n == MAX_SETTINGS)
                return cli_usage_error("escrow authority endpoint: more than %d --url and --tls",
                                       MAX_SETTINGS);
            settings[n].tls = c == OPT_TLS;
            settings[n].arg = optarg;
            n++;
            break;
        case 'h':
            return cli_help(authority_usage);
        default:
            return cli_bad_option("escrow authority endpoint", argv, c);
        }
    }
    if (optind < argc)
        return cli_usage_error("escrow authority endpoint: unexpected argument \"%s\"",
                               argv[optind]);
    if (path == NULL)
        return cli_usage_error("escrow authority endpoint: need --authority DIR/authority.pub");
    if (n == 0)
        return cli_usage_error("escrow authority endpoint: give --url NAME=URL or --tls NAME=PIN");
    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    dm_escrow_authority *auth = NULL;
    int err = dm_escrow_authority_load(path, &auth);
    if (err != DM_OK)
        return cli_fail(err, "escrow authority endpoint: %s", path);
    char id_before[64];
    snprintf(id_before, sizeof id_before, "%s", dm_escrow_authority_id_hex(auth));
    for (size_t i = 0; i < n && rc == DM_EXIT_OK; i++)
        rc = apply_setting(auth, &settings[i]);
    char *text = NULL;
    size_t len = 0;
    if (rc == DM_EXIT_OK) {
        err = dm_escrow_authority_format(auth, &text, &len);
        if (err != DM_OK)
            rc = cli_fail(err, "escrow authority endpoint: %s", path);
    }
    /* The network section is outside the id: a change of id is a bug here. */
    if (rc == DM_EXIT_OK && strcmp(id_before, dm_escrow_authority_id_hex(auth)) != 0)
        rc = cli_fail(dm_fail(DM_ERR_INTERNAL, "the authority id changed"),
                      "escrow authority endpoint: %s", path);
    cli_output out;
    if (rc == DM_EXIT_OK) {
        err = cli_output_open(&out, path, 0644);
        if (err != DM_OK) {
            rc = cli_fail(err, "escrow authority endpoint: %s", path);
        } else {
            if (dm_write_all(out.fd, text, len) != 0)
                err = dm_fail(DM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
            if (err == DM_OK)
                err = cli_output_commit(&out);
            else
                cli_output_abort(&out);
            if (err != DM_OK)
                rc = cli_fail(err, "escrow authority endpoint: %s", path);
        }
    }
    free(text);
    dm_escrow_authority_free(auth);
    for (size_t i = 0; rc == DM_EXIT_OK && i < n; i++)
        printf("%s\n", settings[i].said);
    if (rc == DM_EXIT_OK)
        rc = cli_flush_stdout("escrow authority endpoint");
    return rc;
}

int cli_escrow_authority(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2)
            return cli_usage_error("escrow authority: missing subcommand (endpoint; see doormat "
                                   "escrow authority --help)");
        return cli_help(authority_usage);
    }
    if (strcmp(argv[1], "endpoint") == 0)
        return authority_endpoint(argc - 1, argv + 1);
    return cli_usage_error("escrow authority: unknown subcommand \"%s\" (see doormat escrow "
                           "authority --help)",
                           argv[1]);
}
