/* Reading a tiled log (c2sp.org/tlog-tiles) through a fetcher: tile paths,
 * entry bundles, a stored-hash reader over tiles, and the two verifications a
 * monitor runs (the whole log from nothing, and catching up). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "tlog_internal.h"

/* ------------------------------------------------------------------ paths */

static uint64_t shr(uint64_t x, unsigned s) {
    return s >= 64 ? 0 : x >> s;
}

int dm_tlog_tile_path(int level, uint64_t index, unsigned width, char out[64]) {
    if (level < -1 || level > 63 || width < 1 || width > DM_TLOG_TILE_WIDTH)
        return dm_fail(DM_ERR_USAGE, "no such tile");
    char groups[48]; /* up to 7 groups of "xNNN/" */
    unsigned parts[8];
    int np = 0;
    uint64_t n = index;
    do {
        parts[np++] = (unsigned)(n % 1000);
        n /= 1000;
    } while (n > 0);
    size_t pos = 0;
    for (int i = np - 1; i >= 0; i--)
        pos += (size_t)snprintf(groups + pos, sizeof groups - pos, "%s%03u%s", i > 0 ? "x" : "",
                                parts[i], i > 0 ? "/" : "");
    char lvl[16];
    if (level < 0)
        snprintf(lvl, sizeof lvl, "entries");
    else
        snprintf(lvl, sizeof lvl, "%d", level);
    char full[96]; /* at most 13 + 35 + 7 bytes: always fits in out[64] */
    if (width == DM_TLOG_TILE_WIDTH)
        snprintf(full, sizeof full, "tile/%s/%s", lvl, groups);
    else
        snprintf(full, sizeof full, "tile/%s/%s.p/%u", lvl, groups, width);
    if (strlen(full) >= 64)
        return dm_fail(DM_ERR_INTERNAL, "tile path too long");
    memcpy(out, full, strlen(full) + 1);
    return DM_OK;
}

static int digits3(const char *s) {
    return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9';
}

int dm_tlog_tile_path_parse(const char *path, int *level, uint64_t *index, unsigned *width) {
    const char *p = path;
    if (strncmp(p, "tile/", 5) != 0)
        goto bad;
    p += 5;
    if (strncmp(p, "entries/", 8) == 0) {
        *level = -1;
        p += 8;
    } else {
        int l = 0, nd = 0;
        while (*p >= '0' && *p <= '9' && nd < 3) {
            l = l * 10 + (*p++ - '0');
            nd++;
        }
        if (nd == 0 || *p != '/' || l > 63 || (nd > 1 && p[-nd] == '0'))
            goto bad;
        *level = l;
        p++;
    }
    uint64_t n = 0;
    int groups = 0;
    for (;;) {
        int x = *p == 'x';
        if (x)
            p++;
        if (!digits3(p) || groups == 7)
            goto bad;
        unsigned g = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
        if (groups == 0 && x && g == 0)
            goto bad; /* a leading zero group is not canonical */
        if (n > (UINT64_MAX - g) / 1000)
            goto bad;
        n = n * 1000 + g;
        groups++;
        p += 3;
        if (x) {
            if (*p != '/')
                goto bad;
            p++;
            continue;
        }
        break;
    }
    *index = n;
    *width = DM_TLOG_TILE_WIDTH;
    if (*p == '\0')
        return DM_OK;
    if (strncmp(p, ".p/", 3) != 0)
        goto bad;
    p += 3;
    unsigned w = 0;
    int nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 3) {
        w = w * 10 + (unsigned)(*p++ - '0');
        nd++;
    }
    if (*p != '\0' || nd == 0 || w < 1 || w > 255 || (nd > 1 && p[-nd] == '0'))
        goto bad;
    *width = w;
    return DM_OK;
bad:
    return dm_fail(DM_ERR_USAGE, "not a tile path: %.80s", path);
}

/* ---------------------------------------------------------- directory fetch */

static int dir_fetch(void *ctx, const char *path, uint8_t **data, size_t *len) {
    const char *dir = ctx;
    *data = NULL;
    *len = 0;
    if (strstr(path, "..") || path[0] == '/')
        return dm_fail(DM_ERR_USAGE, "bad log path %s", path);
    char full[4096];
    if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, path) >= sizeof full)
        return dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return dm_fail(DM_ERR_NOT_FOUND, "%s: no such file", full);
        return dm_fail(DM_ERR_IO, "%s: %s", full, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > DM_TLOG_MAX_RESOURCE) {
        close(fd);
        return dm_fail(DM_ERR_IO, "%s: not a regular file of at most %d bytes", full,
                       DM_TLOG_MAX_RESOURCE);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    ssize_t got = dm_read_all(fd, buf, n);
    close(fd);
    if (got != (ssize_t)n) {
        free(buf);
        return dm_fail(DM_ERR_IO, "%s: short read", full);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return DM_OK;
}

/* The directory belongs to the caller. */
static void dir_destroy(void *ctx) {
    (void)ctx;
}

dm_tlog_fetcher dm_tlog_dir_fetcher(const char *dir) {
    dm_tlog_fetcher f = {.fetch = dir_fetch, .destroy = dir_destroy, .ctx = (void *)dir};
    return f;
}

void dm_tlog_fetcher_clear(dm_tlog_fetcher *f) {
    if (f == NULL)
        return;
    if (f->destroy != NULL)
        f->destroy(f->ctx);
    memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------- bundles */

int dm_tlog_bundle_parse(const uint8_t *data, size_t len, size_t count,
                         int (*fn)(void *ctx, const uint8_t *entry, size_t len), void *ctx) {
    size_t pos = 0, seen = 0;
    while (pos < len) {
        if (len - pos < 2)
            return dm_fail(DM_ERR_USAGE, "entry bundle: cut inside a length");
        size_t n = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (n > len - pos)
            return dm_fail(DM_ERR_USAGE, "entry bundle: entry %zu runs past the end", seen);
        if (seen == count)
            return dm_fail(DM_ERR_USAGE, "entry bundle: more than %zu entries", count);
        if (fn) {
            int err = fn(ctx, data + pos, n);
            if (err)
                return err;
        }
        pos += n;
        seen++;
    }
    if (seen != count)
        return dm_fail(DM_ERR_USAGE, "entry bundle: %zu entries where %zu were expected", seen,
                       count);
    return DM_OK;
}

/* The width of tile (level, index) in a tree of size leaves; 0: no such tile. */
unsigned dm_tlog_tile_width(int level, uint64_t index, uint64_t size) {
    unsigned l = level < 0 ? 0 : (unsigned)level;
    uint64_t full = shr(size, 8 * (l + 1));
    if (index < full)
        return DM_TLOG_TILE_WIDTH;
    if (index == full)
        return (unsigned)(shr(size, 8 * l) & 255);
    return 0;
}

/* Fetches tile (level, index) of width w (a partial one, or its full
 * successor when the partial was pruned); hashes or bundle bytes. */
int dm_tlog_fetch_tile(dm_tlog_fetcher f, int level, uint64_t index, unsigned w, uint8_t **data,
                       size_t *len) {
    char path[64];
    int err = dm_tlog_tile_path(level, index, w, path);
    if (err)
        return err;
    err = f.fetch(f.ctx, path, data, len);
    char first[64];
    memcpy(first, path, sizeof first);
    if (err == DM_ERR_NOT_FOUND && w < DM_TLOG_TILE_WIDTH) {
        err = dm_tlog_tile_path(level, index, DM_TLOG_TILE_WIDTH, path);
        if (!err)
            err = f.fetch(f.ctx, path, data, len);
        if (!err && level >= 0) {
            if (*len != DM_TLOG_TILE_WIDTH * DM_TLOG_HASH_LEN) {
                free(*data);
                *data = NULL;
                return dm_fail(DM_ERR_LOG, "%s: a full tile of %zu bytes", path, *len);
            }
            *len = (size_t)w * DM_TLOG_HASH_LEN;
        } else if (!err) {
            /* Keep the first w entries of the full bundle. */
            size_t pos = 0;
            for (unsigned i = 0; i < w && pos + 2 <= *len; i++)
                pos += 2 + ((size_t)(*data)[pos] << 8 | (*data)[pos + 1]);
            if (pos > *len) {
                free(*data);
                *data = NULL;
                return dm_fail(DM_ERR_LOG, "%s: malformed entry bundle", path);
            }
            *len = pos;
        }
    }
    if (err == DM_ERR_NOT_FOUND && strcmp(first, path) != 0)
        return dm_fail(DM_ERR_LOG, "the log lacks %s (and %s)", first, path);
    if (err)
        return err == DM_ERR_NOT_FOUND ? dm_fail(DM_ERR_LOG, "the log lacks %s", path) : err;
    if (level >= 0 && *len != (size_t)w * DM_TLOG_HASH_LEN) {
        free(*data);
        *data = NULL;
        return dm_fail(DM_ERR_LOG, "%s: %zu bytes where %u hashes were expected", path, *len, w);
    }
    return DM_OK;
}

/* MTH of n = 2^k hashes (in place in a scratch copy). */
void dm_tlog_subtree_hash(const uint8_t *hashes, size_t n, dm_tlog_hash out) {
    dm_tlog_hash tmp[DM_TLOG_TILE_WIDTH];
    memcpy(tmp, hashes, n * DM_TLOG_HASH_LEN);
    while (n > 1) {
        for (size_t i = 0; i < n / 2; i++)
            dm_tlog_node_hash(tmp[2 * i], tmp[2 * i + 1], tmp[i]);
        n /= 2;
    }
    memcpy(out, tmp[0], DM_TLOG_HASH_LEN);
}

/* ------------------------------------------------------------------ reader */

#define CACHE 8
struct dm_tlog_reader {
    dm_tlog_fetcher f;
    uint64_t size;
    struct {
        int used, level;
        uint64_t index;
        uint8_t *data;
        size_t len;
        unsigned stamp;
    } cache[CACHE];
    unsigned clock;
};

int dm_tlog_reader_new(dm_tlog_fetcher f, uint64_t size, dm_tlog_reader **out) {
    dm_tlog_reader *r = calloc(1, sizeof *r);
    if (!r)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    r->f = f;
    r->size = size;
    *out = r;
    return DM_OK;
}

void dm_tlog_reader_free(dm_tlog_reader *r) {
    if (!r)
        return;
    for (int i = 0; i < CACHE; i++)
        free(r->cache[i].data);
    free(r);
}

static int reader_tile(dm_tlog_reader *r, int level, uint64_t index, const uint8_t **data,
                       size_t *len) {
    int victim = 0;
    for (int i = 0; i < CACHE; i++) {
        if (r->cache[i].used && r->cache[i].level == level && r->cache[i].index == index) {
            r->cache[i].stamp = ++r->clock;
            *data = r->cache[i].data;
            *len = r->cache[i].len;
            return DM_OK;
        }
        if (!r->cache[i].used || r->cache[i].stamp < r->cache[victim].stamp)
            victim = i;
    }
    unsigned w = dm_tlog_tile_width(level, index, r->size);
    if (w == 0)
        return dm_fail(DM_ERR_USAGE, "tile %d/%" PRIu64 " is beyond the tree size %" PRIu64, level,
                       index, r->size);
    uint8_t *d;
    size_t n;
    int err = dm_tlog_fetch_tile(r->f, level, index, w, &d, &n);
    if (err)
        return err;
    free(r->cache[victim].data);
    r->cache[victim].used = 1;
    r->cache[victim].level = level;
    r->cache[victim].index = index;
    r->cache[victim].data = d;
    r->cache[victim].len = n;
    r->cache[victim].stamp = ++r->clock;
    *data = d;
    *len = n;
    return DM_OK;
}

int dm_tlog_reader_hash(void *reader, unsigned level, uint64_t index, dm_tlog_hash out) {
    dm_tlog_reader *r = reader;
    unsigned tl = level / DM_TLOG_TILE_HEIGHT, k = level % DM_TLOG_TILE_HEIGHT;
    uint64_t start = index << k; /* first hash at tile level tl */
    if (level >= 64 || (k > 0 && index >> (64 - k)) || shr(r->size, level) <= index)
        return dm_fail(DM_ERR_USAGE, "no complete subtree %u/%" PRIu64 " in a tree of %" PRIu64,
                       level, index, r->size);
    const uint8_t *data;
    size_t len;
    int err = reader_tile(r, (int)tl, start >> 8, &data, &len);
    if (err)
        return err;
    size_t off = (size_t)(start & 255), count = (size_t)1 << k;
    if ((off + count) * DM_TLOG_HASH_LEN > len)
        return dm_fail(DM_ERR_LOG, "tile %u/%" PRIu64 " is too short", tl, start >> 8);
    dm_tlog_subtree_hash(data + off * DM_TLOG_HASH_LEN, count, out);
    return DM_OK;
}

typedef struct pick_ctx {
    size_t want, at;
    uint8_t *entry;
    size_t len;
} pick_ctx;

static int pick(void *ctx, const uint8_t *entry, size_t len) {
    pick_ctx *p = ctx;
    if (p->at++ == p->want) {
        p->entry = malloc(len ? len : 1);
        if (!p->entry)
            return dm_fail(DM_ERR_NOMEM, "out of memory");
        memcpy(p->entry, entry, len);
        p->len = len;
    }
    return DM_OK;
}

int dm_tlog_reader_entry(dm_tlog_reader *r, uint64_t index, uint8_t **entry, size_t *len) {
    *entry = NULL;
    if (index >= r->size)
        return dm_fail(DM_ERR_USAGE, "no entry %" PRIu64 " in a tree of %" PRIu64, index, r->size);
    const uint8_t *data;
    size_t n;
    int err = reader_tile(r, -1, index >> 8, &data, &n);
    if (err)
        return err;
    pick_ctx p = {.want = (size_t)(index & 255)};
    err = dm_tlog_bundle_parse(data, n, dm_tlog_tile_width(-1, index >> 8, r->size), pick, &p);
    if (err) {
        free(p.entry);
        return err == DM_ERR_USAGE ? DM_ERR_LOG : err;
    }
    *entry = p.entry;
    *len = p.len;
    return DM_OK;
}

/* ------------------------------------------------------------ verification */

typedef struct walk {
    dm_tlog_fetcher f;
    uint64_t size;
    uint64_t next; /* index of the next entry */
    dm_tlog_edge edge;
    dm_tlog_entry_fn fn;
    void *ctx;
    /* check_tiles: the hashes computed at each tile level, to compare with
     * what the log serves */
    int check_tiles;
    dm_tlog_hash *level[8];
    unsigned count[8];
    uint64_t tile_index[8];
    dm_tlog_hash *leaves; /* the current bundle's leaf hashes */
    unsigned n_leaves;
} walk;

static int walk_entry(void *ctx, const uint8_t *entry, size_t len) {
    walk *w = ctx;
    dm_tlog_hash h;
    dm_tlog_leaf_hash(entry, len, h);
    dm_tlog_edge_append(&w->edge, h);
    memcpy(w->leaves[w->n_leaves++], h, DM_TLOG_HASH_LEN);
    int err = w->fn ? w->fn(w->ctx, w->next, entry, len) : DM_OK;
    w->next++;
    return err;
}

static int compare_tile(walk *w, int level, uint64_t index, const dm_tlog_hash *hashes,
                        unsigned n) {
    uint8_t *data;
    size_t len;
    int err = dm_tlog_fetch_tile(w->f, level, index, n, &data, &len);
    if (err)
        return err;
    int same = len == (size_t)n * DM_TLOG_HASH_LEN && memcmp(data, hashes, len) == 0;
    free(data);
    if (!same) {
        char path[64];
        err = dm_tlog_tile_path(level, index, n, path);
        return err ? err : dm_fail(DM_ERR_LOG, "%s does not hold the hashes of the entries", path);
    }
    return DM_OK;
}

/* Pushes a hash at tile level l; a level that fills is checked and its
 * subtree hash goes up. */
static int push_level(walk *w, unsigned l, const dm_tlog_hash h) {
    memcpy(w->level[l][w->count[l]++], h, DM_TLOG_HASH_LEN);
    if (w->count[l] < DM_TLOG_TILE_WIDTH)
        return DM_OK;
    int err = compare_tile(w, (int)l, w->tile_index[l], w->level[l], DM_TLOG_TILE_WIDTH);
    if (err)
        return err;
    dm_tlog_hash up;
    dm_tlog_subtree_hash((const uint8_t *)w->level[l], DM_TLOG_TILE_WIDTH, up);
    w->count[l] = 0;
    w->tile_index[l]++;
    return l + 1 < 8 ? push_level(w, l + 1, up) : DM_OK;
}

/* Reads entries [w->next, end), which must all lie in bundles from w->next on. */
static int walk_entries(walk *w, uint64_t end) {
    int err = DM_OK;
    while (!err && w->next < end) {
        uint64_t n = w->next >> 8;
        unsigned width = dm_tlog_tile_width(-1, n, w->size);
        uint8_t *data;
        size_t len;
        err = dm_tlog_fetch_tile(w->f, -1, n, width, &data, &len);
        if (err)
            break;
        /* Entries before w->next in this bundle are skipped (catching up). */
        unsigned skip = (unsigned)(w->next & 255);
        w->n_leaves = 0;
        size_t pos = 0;
        for (unsigned i = 0; i < skip; i++) {
            if (pos + 2 > len) {
                err = dm_fail(DM_ERR_LOG, "entry bundle %" PRIu64 " is malformed", n);
                break;
            }
            pos += 2 + ((size_t)data[pos] << 8 | data[pos + 1]);
        }
        if (!err && pos > len)
            err = dm_fail(DM_ERR_LOG, "entry bundle %" PRIu64 " is malformed", n);
        if (!err)
            err = dm_tlog_bundle_parse(data + pos, len - pos, width - skip, walk_entry, w);
        free(data);
        if (err == DM_ERR_USAGE) {
            char d[256];
            snprintf(d, sizeof d, "%s", dm_err_detail()); /* dm_fail writes over it */
            err = dm_fail(DM_ERR_LOG, "entry bundle %" PRIu64 ": %s", n, d);
        }
        if (err)
            break;
        if (w->check_tiles && skip == 0) {
            if (width == DM_TLOG_TILE_WIDTH) {
                err = compare_tile(w, 0, n, w->leaves, width);
                if (!err) {
                    dm_tlog_hash up;
                    dm_tlog_subtree_hash((const uint8_t *)w->leaves, width, up);
                    err = push_level(w, 1, up);
                }
            } else {
                err = compare_tile(w, 0, n, w->leaves, width);
            }
        }
    }
    return err;
}

static int walk_init(walk *w, dm_tlog_fetcher f, uint64_t size, dm_tlog_entry_fn fn, void *ctx,
                     int check_tiles) {
    memset(w, 0, sizeof *w);
    w->f = f;
    w->size = size;
    w->fn = fn;
    w->ctx = ctx;
    w->check_tiles = check_tiles;
    w->leaves = malloc(DM_TLOG_TILE_WIDTH * sizeof *w->leaves);
    if (!w->leaves)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    for (int l = 0; check_tiles && l < 8; l++) {
        w->level[l] = malloc(DM_TLOG_TILE_WIDTH * sizeof *w->level[l]);
        if (!w->level[l])
            return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    return DM_OK;
}

/* Whether the entries walked so far give the root want. */
static bool walk_gives(const walk *w, const dm_tlog_hash want) {
    dm_tlog_hash root;
    dm_tlog_edge_root(&w->edge, root);
    return sodium_memcmp(root, want, DM_TLOG_HASH_LEN) == 0;
}

static void walk_clear(walk *w) {
    free(w->leaves);
    for (int l = 0; l < 8; l++)
        free(w->level[l]);
}

int dm_tlog_verify_log(dm_tlog_fetcher f, const dm_tlog_checkpoint *c, dm_tlog_entry_fn fn,
                       void *ctx) {
    walk w;
    int err = walk_init(&w, f, c->size, fn, ctx, 1);
    if (!err)
        err = walk_entries(&w, c->size);
    /* The partial tiles above level 0 hold what is left in each level. */
    for (unsigned l = 1; !err && l < 8; l++) {
        unsigned want = dm_tlog_tile_width((int)l, shr(c->size, 8 * (l + 1)), c->size);
        if (want != (w.count[l] == 0 ? 0 : w.count[l]))
            err = dm_fail(DM_ERR_INTERNAL, "tile level %u: %u hashes, %u expected", l, w.count[l],
                          want);
        else if (want > 0)
            err = compare_tile(&w, (int)l, w.tile_index[l], w.level[l], want);
    }
    if (!err && !walk_gives(&w, c->root))
        err = dm_fail(DM_ERR_LOG,
                      "the entries do not give the checkpoint's root (size %" PRIu64 ")", c->size);
    walk_clear(&w);
    return err;
}

int dm_tlog_catch_up(dm_tlog_fetcher f, const dm_tlog_checkpoint *old, const dm_tlog_checkpoint *c,
                     dm_tlog_entry_fn fn, void *ctx) {
    if (strcmp(old->origin, c->origin) != 0)
        return dm_fail(DM_ERR_USAGE, "checkpoints of two logs (%s, %s)", old->origin, c->origin);
    if (c->size < old->size)
        return dm_fail(DM_ERR_LOG,
                       "rollback: log %s was at size %" PRIu64 " and now shows size %" PRIu64,
                       c->origin, old->size, c->size);
    if (c->size == old->size) {
        if (sodium_memcmp(old->root, c->root, DM_TLOG_HASH_LEN) != 0)
            return dm_fail(DM_ERR_LOG, "fork: log %s shows two roots for size %" PRIu64, c->origin,
                           c->size);
        return DM_OK;
    }
    walk w;
    dm_tlog_reader *r = NULL;
    int err = walk_init(&w, f, c->size, fn, ctx, 0);
    if (!err)
        err = dm_tlog_reader_new(f, c->size, &r);
    if (!err)
        err = dm_tlog_edge_load(&w.edge, dm_tlog_reader_hash, r, old->size);
    if (!err && !walk_gives(&w, old->root))
        err = dm_fail(DM_ERR_LOG,
                      "fork: the tree of size %" PRIu64 " in log %s no longer has the root "
                      "seen before",
                      old->size, c->origin);
    if (!err) {
        w.next = old->size;
        err = walk_entries(&w, c->size);
    }
    if (!err && !walk_gives(&w, c->root))
        err = dm_fail(DM_ERR_LOG,
                      "the new entries do not give the checkpoint's root (size %" PRIu64 ")",
                      c->size);
    dm_tlog_reader_free(r);
    walk_clear(&w);
    return err;
}
