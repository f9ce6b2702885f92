/* Internal interfaces of the age plugin client (c2sp.org/age-plugin):
 * the message codec, the two state machines over any transport, and the
 * transport that runs a plugin binary. Not installed; the tests and the
 * fuzz target use it to drive the state machines without a process. */
#ifndef DOORMAT_VAULT_PLUGIN_H
#define DOORMAT_VAULT_PLUGIN_H

#include <stdint.h>
#include <time.h>

#include "internal.h"

/* Hostile-input bounds on what a plugin may send. */
#define DM_PLUGIN_MAX_LINE 65536u     /* the "-> command args..." line */
#define DM_PLUGIN_MAX_BODY (1u << 20) /* decoded body bytes of one message */
#define DM_PLUGIN_MAX_MESSAGES 4096u  /* messages from the plugin in one session */
#define DM_PLUGIN_MAX_CHOICE 1024u    /* decoded bytes of a confirm choice */
/* A body is base64 in lines of 64 columns, 48 bytes each but the last. */
#define DM_PLUGIN_BODY_COLUMNS 64
#define DM_PLUGIN_BODY_CHUNK 48
/* dm_plugin_msg_parse: the buffer holds only the start of a message. */
#define DM_PLUGIN_NEED_MORE (-1)

/* One message (an age stanza): args[0] is the command. The body is in
 * guarded memory (file keys and secrets travel in bodies). */
typedef struct dm_plugin_msg {
    char **args;
    size_t nargs;
    uint8_t *body;
    size_t body_len;
} dm_plugin_msg;

/* Parses the message at the start of buf, exactly as an age header stanza:
 * "-> " and arguments of 1*VCHAR separated by single spaces, then canonical
 * base64 body lines of 64 columns ending with a shorter (maybe empty) one.
 * Returns DM_OK and sets *used, DM_PLUGIN_NEED_MORE when buf ends inside the
 * message, or DM_ERR_PLUGIN (detail says why) when it can't be a message. */
int dm_plugin_msg_parse(const uint8_t *buf, size_t len, dm_plugin_msg *out, size_t *used);
void dm_plugin_msg_free(dm_plugin_msg *m);
/* Encodes a message; *out is malloc'd (zero it before freeing: bodies carry
 * secrets). Arguments must be 1*VCHAR (DM_ERR_USAGE otherwise). */
int dm_plugin_msg_encode(const char *cmd, const char *const *args, size_t nargs,
                         const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len);

/* How a session talks to a plugin. recv waits until deadline_ms (on
 * dm_plugin_now_ms's clock; negative: forever) and sets *got to 0 at the end
 * of the plugin's output. Both return DM_OK or an error with detail set. */
typedef struct dm_plugin_transport {
    int (*send)(void *ctx, const uint8_t *buf, size_t n);
    int (*recv)(void *ctx, uint8_t *buf, size_t n, int64_t deadline_ms, size_t *got);
    void *ctx;
} dm_plugin_transport;

static inline int64_t dm_plugin_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* recipient-v1 for one file key: add_cmd is "add-recipient" or
 * "add-identity" and encoding the string that goes with it. The plugin's
 * stanzas are appended to out only when the whole session succeeded. */
int dm_plugin_wrap_session(const dm_plugin_transport *t, const dm_plugin_host *host,
                           const char *name, const char *add_cmd, const char *encoding,
                           const uint8_t file_key[DM_FILE_KEY_LEN], dm_stanza_list *out);
/* identity-v1 for one file: DM_OK with file_key, DM_ERR_NO_MATCH when the
 * plugin unwrapped nothing, or the failure. */
int dm_plugin_unwrap_session(const dm_plugin_transport *t, const dm_plugin_host *host,
                             const char *name, const char *identity, const dm_stanza_list *stanzas,
                             uint8_t file_key[DM_FILE_KEY_LEN]);

/* ---- plugin_proc.c: age-plugin-NAME as a child process ---- */

typedef struct dm_plugin_proc dm_plugin_proc;
/* Finds age-plugin-NAME in the absolute directories of $PATH (malloc'd);
 * DM_ERR_USAGE "age-plugin-NAME not found in PATH" when there is none. */
int dm_plugin_find(const char *name, char **path_out);
/* Starts it with --age-plugin=STATE_MACHINE, in "/", with its standard
 * input, output and error on pipes. SIGPIPE stays blocked in this thread
 * until dm_plugin_proc_finish. timeout_ms as in dm_plugin_host (resolved). */
int dm_plugin_proc_start(const char *name, const char *state_machine, int timeout_ms,
                         dm_plugin_proc **out);
dm_plugin_transport dm_plugin_proc_transport(dm_plugin_proc *p);
/* Ends it on every path: closes the pipes, lets it exit (or kills it), reaps
 * it and frees p. Returns session_err, with the detail reworded to say how
 * the plugin died when the session failed because it went away. */
int dm_plugin_proc_finish(dm_plugin_proc *p, int session_err);

#endif
