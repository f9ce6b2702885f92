/* The table of escrow modes: one entry per mode (mode_shamir.c, mode_leaf.c,
 * mode_crumple.c), each with its build, its check and, where the shares do
 * not combine straight to the file key, its solve. Adding a mode is a file of
 * its own and a line here. The MODE argument of a stanza is the mode's name,
 * followed by "-BITS" for modes that take bits ("leaf-16", "crumple-20");
 * docs/escrow-format.md, "Modes".
 */
#include <stdio.h>
#include <string.h>

#include "escrow_internal.h"

static const dm_escrow_mode_ops *const modes[] = {
    &dm_escrow_mode_shamir,
    &dm_escrow_mode_leaf,
    &dm_escrow_mode_crumple,
};
#define N_MODES (sizeof modes / sizeof modes[0])

static const dm_escrow_mode_ops *find(dm_escrow_mode mode) {
    for (size_t i = 0; i < N_MODES; i++)
        if (modes[i]->mode == mode)
            return modes[i];
    return NULL;
}

static unsigned bits_of(const dm_escrow_mode_ops *m, const dm_escrow_opts *opts) {
    return m->max_bits ? *(const unsigned *)((const char *)opts + m->bits_at) : 0;
}

const char *dm_escrow_mode_name(dm_escrow_mode mode) {
    const dm_escrow_mode_ops *m = find(mode);
    return m ? m->name : "unknown";
}

const dm_escrow_mode_ops *dm_escrow_mode_ops_of(const dm_escrow_opts *opts) {
    return opts ? find(opts->mode) : &dm_escrow_mode_shamir;
}

int dm_escrow_mode_check(const dm_escrow_opts *opts) {
    const dm_escrow_mode_ops *m = dm_escrow_mode_ops_of(opts);
    if (!m)
        return dm_fail(DM_ERR_USAGE, "unknown escrow mode %d", (int)opts->mode);
    unsigned bits = opts ? bits_of(m, opts) : 0;
    if (m->max_bits && (bits < 1 || bits > m->max_bits))
        return dm_fail(DM_ERR_USAGE, "%s must be 1 to %u, not %u", m->bits_what, m->max_bits, bits);
    return DM_OK;
}

int dm_escrow_mode_arg(const dm_escrow_opts *opts, char *out, size_t cap) {
    const dm_escrow_mode_ops *m = dm_escrow_mode_ops_of(opts);
    if (!m)
        return dm_fail(DM_ERR_USAGE, "unknown escrow mode %d", (int)opts->mode);
    int n = m->max_bits ? snprintf(out, cap, "%s-%u", m->name, bits_of(m, opts))
                        : snprintf(out, cap, "%s", m->name);
    return n > 0 && (size_t)n < cap ? DM_OK : dm_fail(DM_ERR_INTERNAL, "mode name too long");
}

bool dm_escrow_mode_parse(const char *arg, dm_escrow_opts *out) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < N_MODES; i++) {
        const dm_escrow_mode_ops *m = modes[i];
        size_t nl = strlen(m->name);
        if (strncmp(arg, m->name, nl) != 0)
            continue;
        out->mode = m->mode;
        if (!m->max_bits && arg[nl] == '\0')
            return true;
        unsigned v;
        if (m->max_bits && arg[nl] == '-' &&
            dm_escrow_parse_uint(arg + nl + 1, strlen(arg + nl + 1), m->max_bits, &v) && v >= 1) {
            *(unsigned *)((char *)out + m->bits_at) = v;
            return true;
        }
    }
    memset(out, 0, sizeof *out);
    return false;
}
