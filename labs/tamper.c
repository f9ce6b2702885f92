/* A rogue sender, for tests and the classroom: the sender holds the file key,
 * so it can rewrite the header any way it likes and still produce a valid
 * header MAC. Plain age cannot tell; only a client that insists on checking
 * the escrow (--require-escrow) can.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lab_internal.h"

int dm_lab_splice_header(dm_header *forged, const uint8_t file_key[DM_FILE_KEY_LEN],
                         const uint8_t *file, size_t len, size_t header_len, uint8_t **out,
                         size_t *out_len) {
    uint8_t *head = NULL;
    size_t head_len = 0;
    int err = dm_header_encode(forged, file_key, &head, &head_len);
    if (!err) {
        size_t payload = len - header_len;
        uint8_t *buf = malloc(head_len + payload);
        if (!buf) {
            err = dm_fail(DM_ERR_NOMEM, "out of memory");
        } else {
            memcpy(buf, head, head_len);
            memcpy(buf + head_len, file + header_len, payload);
            *out = buf;
            *out_len = head_len + payload;
        }
    }
    free(head);
    return err;
}

int dm_lab_tamper(const uint8_t *file, size_t len, const uint8_t file_key[DM_FILE_KEY_LEN],
                  dm_lab_tamper_mode mode, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (mode != DM_LAB_TAMPER_STRIP && mode != DM_LAB_TAMPER_CORRUPT)
        return dm_fail(DM_ERR_USAGE, "unknown tamper mode");
    static const char armor[] = "-----BEGIN";
    size_t skip = 0;
    while (skip < len &&
           (file[skip] == ' ' || file[skip] == '\n' || file[skip] == '\r' || file[skip] == '\t'))
        skip++;
    if (len - skip >= sizeof armor - 1 && memcmp(file + skip, armor, sizeof armor - 1) == 0)
        return dm_fail(DM_ERR_USAGE, "armored input: tamper works on binary age files");
    dm_header hdr = {0};
    int err = dm_header_parse(file, len, &hdr);
    if (err)
        return err;
    err = dm_header_verify_mac(&hdr, file_key);
    if (err) {
        dm_header_clear(&hdr);
        return err;
    }
    dm_header forged = {0};
    size_t touched = 0;
    for (size_t i = 0; i < hdr.stanzas.len && !err; i++) {
        const dm_stanza *st = &hdr.stanzas.items[i];
        bool escrow = strcmp(st->type, DM_ESCROW_STANZA_TYPE) == 0;
        if (escrow)
            touched++;
        if (escrow && mode == DM_LAB_TAMPER_STRIP)
            continue;
        if (escrow) {
            /* Same shape, useless content: the agents get a random "share". */
            uint8_t *body = malloc(st->body_len ? st->body_len : 1);
            if (!body) {
                err = dm_fail(DM_ERR_NOMEM, "out of memory");
                break;
            }
            randombytes_buf(body, st->body_len);
            err = dm_stanza_list_add(&forged.stanzas, st->type, (const char *const *)st->args,
                                     st->nargs, body, st->body_len);
            free(body);
        } else {
            err = dm_stanza_list_add(&forged.stanzas, st->type, (const char *const *)st->args,
                                     st->nargs, st->body, st->body_len);
        }
    }
    if (!err && touched == 0)
        err = dm_fail(DM_ERR_USAGE, "the file has no %s stanzas to tamper with",
                      DM_ESCROW_STANZA_TYPE);
    if (!err && forged.stanzas.len == 0)
        err = dm_fail(DM_ERR_USAGE, "stripping would leave no recipient at all");
    if (!err)
        err = dm_lab_splice_header(&forged, file_key, file, len, hdr.len, out, out_len);
    dm_header_clear(&forged);
    dm_header_clear(&hdr);
    return err;
}
