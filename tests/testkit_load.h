/* Loading C2SP age testkit vectors (format: tests/testkit/README.upstream.md)
 * for unit tests: the text header's fields and the (inflated) age file. */
#ifndef DOORMAT_TESTKIT_LOAD_H
#define DOORMAT_TESTKIT_LOAD_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define TK_MAX_FIELDS 16

typedef struct tk_vector {
    char name[128];
    char expect[32];   /* "success", "header failure", "armor failure", ... */
    char file_key[33]; /* hex, may be empty */
    int armored;
    int compressed;
    uint8_t *body; /* the age file, inflated; malloc'd */
    size_t body_len;
} tk_vector;

/* The directory of the vectors: $DM_TESTKIT_DIR, else tests/testkit/age
 * relative to the repository root (where run-unit.sh runs the tests). */
static inline const char *tk_dir(void) {
    const char *d = getenv("DM_TESTKIT_DIR");
    return d && *d ? d : "tests/testkit/age";
}

static inline int tk_inflate(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK)
        return -1;
    size_t cap = n * 4 + 1024, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        inflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    int rc;
    do {
        if (len == cap) {
            cap *= 2;
            uint8_t *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                inflateEnd(&zs);
                return -1;
            }
            buf = nb;
        }
        zs.next_out = buf + len;
        zs.avail_out = (uInt)(cap - len);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
    } while (rc == Z_OK);
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* Returns 0 and fills v, or -1 when the file cannot be read or parsed. */
static inline int tk_load(const char *name, tk_vector *v) {
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tk_dir(), name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t cap = 1 << 16, len = 0;
    uint8_t *raw = malloc(cap);
    size_t got;
    while (raw && (got = fread(raw + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            cap *= 2;
            uint8_t *nr = realloc(raw, cap);
            if (nr == NULL)
                free(raw);
            raw = nr;
        }
    }
    fclose(f);
    if (raw == NULL)
        return -1;

    size_t pos = 0;
    for (;;) {
        uint8_t *lf = memchr(raw + pos, '\n', len - pos);
        if (lf == NULL) {
            free(raw);
            return -1;
        }
        size_t n = (size_t)(lf - (raw + pos));
        char line[256];
        if (n >= sizeof line) {
            pos += n + 1;
            continue;
        }
        memcpy(line, raw + pos, n);
        line[n] = '\0';
        pos += n + 1;
        if (n == 0)
            break;
        if (strncmp(line, "expect: ", 8) == 0)
            snprintf(v->expect, sizeof v->expect, "%.31s", line + 8);
        else if (strncmp(line, "file key: ", 10) == 0)
            snprintf(v->file_key, sizeof v->file_key, "%.32s", line + 10);
        else if (strcmp(line, "armored: yes") == 0)
            v->armored = 1;
        else if (strcmp(line, "compressed: zlib") == 0)
            v->compressed = 1;
    }
    if (v->compressed) {
        int rc = tk_inflate(raw + pos, len - pos, &v->body, &v->body_len);
        free(raw);
        return rc;
    }
    v->body_len = len - pos;
    v->body = malloc(v->body_len ? v->body_len : 1);
    if (v->body == NULL) {
        free(raw);
        return -1;
    }
    memcpy(v->body, raw + pos, v->body_len);
    free(raw);
    return 0;
}

static inline void tk_free(tk_vector *v) {
    free(v->body);
    v->body = NULL;
}

static inline int tk_name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of every vector; *n_out of them. Free with tk_free_names. */
static inline char **tk_list(size_t *n_out) {
    DIR *d = opendir(tk_dir());
    if (d == NULL)
        return NULL;
    size_t n = 0, cap = 256;
    char **names = malloc(cap * sizeof(char *));
    struct dirent *e;
    while (names && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap *= 2;
            char **nn = realloc(names, cap * sizeof(char *));
            if (nn == NULL)
                break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof(char *), tk_name_cmp);
    *n_out = n;
    return names;
}

static inline void tk_free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static inline int tk_unhex(const char *hex, uint8_t *out, size_t n) {
    if (strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

#endif
