/* doormat inspect: who can open this file, read from its header alone. Needs no
 * key: that is the point, a header tells everyone which keys open the file. */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "doormat/escrow.h"

static const char inspect_usage[] =
    "Usage:\n"
    "  doormat inspect [--json] [IN]\n"
    "\n"
    "Shows, without any key, what anyone holding an age file can learn from it:\n"
    "the format, whether it is ASCII-armored, each stanza type in the header and how\n"
    "many there are (so who can open it: which identities, or a passphrase), the\n"
    "header and payload sizes, the number of payload chunks, the plaintext size they\n"
    "imply, and the file id (the first 16 bytes of the header's SHA-256, in hex).\n"
    "For an escrowed file, also the escrow file id its stanzas bind (derived from the\n"
    "file key): the id warrants name and the agents' logs record.\n"
    "IN defaults to standard input.\n"
    "\n"
    "Options:\n"
    "      --json    print the same facts as one JSON object\n"
    "  -h, --help    this text\n"
    "\n"
    "Example:\n"
    "  $ doormat inspect notes.age\n"
    "  format: age v1\n"
    "  armor: no\n"
    "  stanza: X25519 x2\n"
    "  can be opened by: the holder of any of 2 X25519 identities\n"
    "  header bytes: 250\n"
    "  payload bytes: 1056\n"
    "  chunks: 1\n"
    "  plaintext bytes: 1024\n"
    "  file id: 5b0c...\n"
    "\n"
    "A post-quantum stanza (mlkem768x25519: age 1.3's ML-KEM-768 + X25519 hybrid,\n"
    "age1pq recipients) is named so on its line (\"stanza: mlkem768x25519 x1\n"
    "(post-quantum)\"). A file that holds both post-quantum and classical stanzas\n"
    "(X25519, ssh-ed25519, ssh-rsa, or an escrow authority with classical agent keys)\n"
    "can be opened by a quantum attacker through the classical ones, as if it had no\n"
    "post-quantum recipient: inspect warns on standard error (the spec says a file\n"
    "SHOULD NOT mix them; doormat encrypt refuses to). --json gives each stanza type\n"
    "a \"post_quantum\" boolean and the file \"mixes_post_quantum\".\n";

enum { OPT_JSON = 256 };

static const struct option inspect_longopts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct type_count {
    const char *type;
    size_t count;
} type_count;

/* Stanza types that resist a quantum attacker, and those that do not; any
 * other type (scrypt, a plugin's) is neither. */
static int is_post_quantum(const char *type) {
    return strcmp(type, "mlkem768x25519") == 0 || strcmp(type, "mlkem768p256tag") == 0;
}

static int is_classical(const char *type) {
    static const char *const classical[] = {"X25519", "ssh-ed25519", "ssh-rsa", "p256tag",
                                            "piv-p256"};
    for (size_t i = 0; i < sizeof classical / sizeof classical[0]; i++)
        if (strcmp(type, classical[i]) == 0)
            return 1;
    return 0;
}

/* Distinct stanza types in header order, with how often each appears. */
static size_t count_types(const dm_stanza_list *l, type_count *out) {
    size_t n = 0;
    for (size_t i = 0; i < l->len; i++) {
        size_t j = 0;
        while (j < n && strcmp(out[j].type, l->items[i].type) != 0)
            j++;
        if (j == n) {
            out[n].type = l->items[i].type;
            out[n].count = 0;
            n++;
        }
        out[j].count++;
    }
    return n;
}

/* A growing line of text; on running out of memory it stays NULL. */
typedef struct words {
    char *text;
    size_t len;
    int failed;
} words;

static void say(words *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(words *w, const char *fmt, ...) {
    if (w->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *t = n < 0 ? NULL : realloc(w->text, w->len + (size_t)n + 1);
    if (t == NULL) {
        free(w->text);
        *w = (words){.failed = 1};
        return;
    }
    w->text = t;
    va_start(ap, fmt);
    vsnprintf(w->text + w->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->len += (size_t)n;
}

/* Who can open the file, in words, from the header's stanza types and the
 * escrow's description: one phrase per way in, joined by "; or ". The one
 * place the command words it. */
static char *who_can_open(const type_count *types, size_t n_types,
                          const dm_escrow_description *escrow) {
    words w = {0};
    const char *sep = "";
    for (size_t i = 0; i < n_types; i++) {
        const type_count *t = &types[i];
        if (strcmp(t->type, DM_ESCROW_STANZA_TYPE) == 0)
            continue; /* worded per authority below */
        say(&w, "%s", sep);
        sep = "; or ";
        if (strcmp(t->type, "scrypt") == 0)
            say(&w, "anyone with the passphrase");
        else if (t->count == 1)
            say(&w, "the holder of one %s identity", t->type);
        else
            say(&w, "the holder of any of %zu %s identities", t->count, t->type);
    }
    for (size_t i = 0; i < escrow->n_authorities; i++) {
        const dm_escrow_holders *g = &escrow->authorities[i];
        say(&w, "%s", sep);
        sep = "; or ";
        if (g->n_agents == 1)
            say(&w, "agent %s", g->agents[0]);
        else if (g->k >= g->n_agents)
            say(&w, "all %zu of", g->n_agents);
        else
            say(&w, "any %u of", g->k);
        for (size_t a = 0; g->n_agents > 1 && a < g->n_agents; a++)
            say(&w, "%s %s", a ? "," : "", g->agents[a]);
        if (escrow->n_authorities > 1)
            say(&w, " (authority %s)", g->name);
    }
    if (w.len == 0 && !w.failed)
        say(&w, "nobody (the header has no stanza)");
    return w.text;
}

static int print_info(const dm_inspect_info *info, int json) {
    const dm_stanza_list *st = &info->header.stanzas;
    type_count *types = calloc(st->len ? st->len : 1, sizeof *types);
    if (types == NULL)
        return cli_fail(DM_ERR_NOMEM, "inspect");
    size_t n_types = count_types(st, types);
    /* Escrowed files: the authority, k-of-n and agents. Unreadable escrow
     * stanzas do not stop inspect: it says so, and words the rest. */
    dm_escrow_description escrow;
    char unreadable[300] = "";
    if (dm_escrow_describe(&info->header, &escrow) != DM_OK) {
        snprintf(unreadable, sizeof unreadable, "unreadable %s stanzas (%s)", DM_ESCROW_STANZA_TYPE,
                 dm_err_detail());
        memset(&escrow, 0, sizeof escrow);
    }
    char *who = who_can_open(types, n_types, &escrow);
    if (who == NULL) {
        free(types);
        return cli_fail(DM_ERR_NOMEM, "inspect");
    }
    char id[2 * DM_FILE_ID_LEN + 1];
    dm_hex(info->file_id, DM_FILE_ID_LEN, id);
    const char *pq = NULL, *classical = NULL;
    for (size_t i = 0; i < n_types; i++) {
        if (is_post_quantum(types[i].type) && pq == NULL)
            pq = types[i].type;
        else if (is_classical(types[i].type) && classical == NULL)
            classical = types[i].type;
    }
    for (size_t i = 0; i < escrow.n_authorities && classical == NULL; i++)
        if (!escrow.authorities[i].post_quantum)
            classical = DM_ESCROW_STANZA_TYPE;
    for (size_t i = 0; i < escrow.n_authorities && pq == NULL; i++)
        if (escrow.authorities[i].post_quantum)
            pq = DM_ESCROW_STANZA_TYPE;
    if (pq != NULL && classical != NULL)
        cli_msg("inspect: warning: the file mixes post-quantum (%s) and classical (%s) "
                "recipients: a quantum attacker can open it through the classical ones",
                pq, classical);

    if (json) {
        printf("{\"format\":\"age v1\",\"armor\":%s,\"stanzas\":[",
               info->armored ? "true" : "false");
        for (size_t i = 0; i < n_types; i++) {
            printf("%s{\"type\":", i ? "," : "");
            cli_json_string(stdout, types[i].type);
            printf(",\"count\":%zu,\"post_quantum\":%s}", types[i].count,
                   is_post_quantum(types[i].type) ? "true" : "false");
        }
        printf("],\"mixes_post_quantum\":%s,\"can_be_opened_by\":",
               pq != NULL && classical != NULL ? "true" : "false");
        cli_json_string(stdout, who);
        if (escrow.n_authorities > 0) {
            printf(",\"escrow\":[");
            for (size_t i = 0; i < escrow.n_authorities; i++) {
                const dm_escrow_holders *g = &escrow.authorities[i];
                printf("%s{\"authority\":", i ? "," : "");
                cli_json_string(stdout, g->name);
                printf(",\"id\":");
                cli_json_string(stdout, g->id_hex);
                printf(",\"mode\":");
                cli_json_string(stdout, g->mode);
                if (g->file_id) {
                    printf(",\"file_id\":");
                    cli_json_string(stdout, g->file_id);
                }
                printf(",\"post_quantum\":%s", g->post_quantum ? "true" : "false");
                printf(",\"threshold\":%u,\"agents_total\":%u,\"agents\":[", g->k, g->n);
                for (size_t a = 0; a < g->n_agents; a++) {
                    printf("%s", a ? "," : "");
                    cli_json_string(stdout, g->agents[a]);
                }
                printf("]}");
            }
            printf("]");
        } else if (unreadable[0] != '\0') {
            printf(",\"escrow_error\":");
            cli_json_string(stdout, unreadable);
        }
        printf(",\"header_bytes\":%" PRIu64 ",\"payload_bytes\":%" PRIu64 ",\"chunks\":%" PRIu64
               ",\"plaintext_bytes\":%" PRIu64 ",\"file_id\":\"%s\"}\n",
               info->header_size, info->payload_size, info->chunks, info->plaintext_size, id);
    } else {
        printf("format: age v1\n");
        printf("armor: %s\n", info->armored ? "yes" : "no");
        for (size_t i = 0; i < n_types; i++)
            printf("stanza: %s x%zu%s\n", types[i].type, types[i].count,
                   is_post_quantum(types[i].type) ? " (post-quantum)" : "");
        for (size_t i = 0; i < escrow.n_authorities; i++) {
            const dm_escrow_holders *g = &escrow.authorities[i];
            printf("escrow: authority %s (%s), %u-of-%u %s%s:", g->name, g->id_hex, g->k, g->n,
                   g->mode, g->post_quantum ? " (post-quantum agent keys)" : "");
            for (size_t a = 0; a < g->n_agents; a++)
                printf("%s %s", a ? "," : "", g->agents[a]);
            printf("\n");
            /* What warrants name and agents log (docs/escrow-format.md, "File id"). */
            if (g->file_id)
                printf("escrow file id: %s\n", g->file_id);
            else
                printf("escrow file id: none (v1 stanzas: agents refuse them)\n");
        }
        if (unreadable[0] != '\0')
            printf("escrow: %s\n", unreadable);
        printf("can be opened by: %s\n", who);
        printf("header bytes: %" PRIu64 "\n", info->header_size);
        printf("payload bytes: %" PRIu64 "\n", info->payload_size);
        printf("chunks: %" PRIu64 "\n", info->chunks);
        printf("plaintext bytes: %" PRIu64 "\n", info->plaintext_size);
        printf("file id: %s\n", id);
    }
    free(who);
    free(types);
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_fail(dm_fail(DM_ERR_IO, "standard output"), "inspect");
    return DM_EXIT_OK;
}

int cmd_inspect(int argc, char **argv) {
    int json = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", inspect_longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            return cli_help(inspect_usage);
        default:
            return cli_bad_option("inspect", argv, c);
        }
    }
    if (argc - optind > 1)
        return cli_usage_error("inspect: more than one input (see doormat inspect --help)");
    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    int fd = cli_open_input(optind < argc ? argv[optind] : NULL);
    if (fd < 0)
        return DM_EXIT_FAILURE;
    dm_inspect_info info;
    memset(&info, 0, sizeof info);
    int err = dm_inspect(dm_source_fd(&fd), &info);
    if (fd != STDIN_FILENO)
        close(fd);
    if (err != DM_OK) {
        dm_inspect_info_clear(&info);
        return cli_fail(err, "inspect");
    }
    rc = print_info(&info, json);
    dm_inspect_info_clear(&info);
    return rc;
}
