/* doormat inspect: who can open this file, read from its header alone. Needs no
 * key: that is the point, a header tells everyone which keys open the file. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_escrow.h"

static const char inspect_usage[] =
    "Usage:\n"
    "  doormat inspect [--json] [IN]\n"
    "\n"
    "Shows, without any key, what anyone holding an age file can learn from it:\n"
    "the format, whether it is ASCII-armored, each stanza type in the header and how\n"
    "many there are (so who can open it: which identities, or a passphrase), the\n"
    "header and payload sizes, the number of payload chunks, the plaintext size they\n"
    "imply, and the file id (the first 16 bytes of the header's SHA-256, in hex).\n"
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
    "  file id: 5b0c...\n";

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

/* Plain words for one stanza type; extensions (escrow) add their phrase here. */
static void describe_type(const type_count *t, char *buf, size_t cap) {
    if (strcmp(t->type, "X25519") == 0) {
        if (t->count == 1)
            snprintf(buf, cap, "the holder of one X25519 identity");
        else
            snprintf(buf, cap, "the holder of any of %zu X25519 identities", t->count);
    } else if (strcmp(t->type, "scrypt") == 0) {
        snprintf(buf, cap, "anyone with the passphrase");
    } else if (t->count == 1) {
        snprintf(buf, cap, "the holder of one %s identity", t->type);
    } else {
        snprintf(buf, cap, "the holder of any of %zu %s identities", t->count, t->type);
    }
}

/* age puts random "grease" stanzas in headers; types are printable ASCII, but
 * a hostile file may still hold anything a JSON string needs escaped. */
static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void hex(const uint8_t *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int print_info(const dm_inspect_info *info, int json) {
    const dm_stanza_list *st = &info->header.stanzas;
    type_count *types = calloc(st->len ? st->len : 1, sizeof *types);
    if (types == NULL)
        return cli_fail(DM_ERR_NOMEM, "inspect");
    size_t n_types = count_types(st, types);

    /* "can be opened by" joins one phrase per type with "; or ". */
    size_t cap = 64 + n_types * 160;
    char *who = malloc(cap);
    if (who == NULL) {
        free(types);
        return cli_fail(DM_ERR_NOMEM, "inspect");
    }
    who[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n_types; i++) {
        char phrase[160];
        describe_type(&types[i], phrase, sizeof phrase);
        int w = snprintf(who + used, cap - used, "%s%s", i ? "; or " : "", phrase);
        if (w > 0)
            used += (size_t)w < cap - used ? (size_t)w : cap - used - 1;
    }
    if (n_types == 0)
        snprintf(who, cap, "nobody (the header has no stanza)");
    /* Escrowed files: the authority, k-of-n and agents, and who can decrypt in words. */
    char *escrow_lines = NULL, *escrow_who = NULL;
    cli_escrow_describe(&info->header, &escrow_lines, &escrow_who);
    if (escrow_who != NULL) {
        free(who);
        who = escrow_who;
    }

    char id[2 * DM_FILE_ID_LEN + 1];
    hex(info->file_id, DM_FILE_ID_LEN, id);

    if (json) {
        printf("{\"format\":\"age v1\",\"armor\":%s,\"stanzas\":[",
               info->armored ? "true" : "false");
        for (size_t i = 0; i < n_types; i++) {
            printf("%s{\"type\":", i ? "," : "");
            json_string(stdout, types[i].type);
            printf(",\"count\":%zu}", types[i].count);
        }
        printf("],\"can_be_opened_by\":");
        json_string(stdout, who);
        if (escrow_lines != NULL) {
            printf(",\"escrow\":");
            json_string(stdout, escrow_lines);
        }
        printf(",\"header_bytes\":%" PRIu64 ",\"payload_bytes\":%" PRIu64 ",\"chunks\":%" PRIu64
               ",\"plaintext_bytes\":%" PRIu64 ",\"file_id\":\"%s\"}\n",
               info->header_size, info->payload_size, info->chunks, info->plaintext_size, id);
    } else {
        printf("format: age v1\n");
        printf("armor: %s\n", info->armored ? "yes" : "no");
        for (size_t i = 0; i < n_types; i++)
            printf("stanza: %s x%zu\n", types[i].type, types[i].count);
        if (escrow_lines != NULL)
            fputs(escrow_lines, stdout);
        printf("can be opened by: %s\n", who);
        printf("header bytes: %" PRIu64 "\n", info->header_size);
        printf("payload bytes: %" PRIu64 "\n", info->payload_size);
        printf("chunks: %" PRIu64 "\n", info->chunks);
        printf("plaintext bytes: %" PRIu64 "\n", info->plaintext_size);
        printf("file id: %s\n", id);
    }
    free(escrow_lines);
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
        dm_inspect_free(&info);
        return cli_fail(err, "inspect");
    }
    rc = print_info(&info, json);
    dm_inspect_free(&info);
    return rc;
}
