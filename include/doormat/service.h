/* doormat service: the escrow agents and witnesses as HTTPS services, and
 * their clients (the investigator's request, the monitor's tile fetcher).
 *
 * The only part of doormat that speaks HTTP and TLS, in its own archive
 * (libdoormat-service.a) so the vault and escrow library never link an HTTP
 * or TLS stack: servers are libevent's evhttp over OpenSSL bufferevents,
 * clients are libcurl; nothing here parses HTTP by hand. The wire format is
 * in docs/escrow-format.md ("Over the network"), operations in
 * docs/operating.md.
 *
 * Functions return DM_OK or a dm_err class (vault.h), with dm_err_detail()
 * saying why, as the rest of doormat.
 *
 * Process-wide state: none is changed here. libcurl's global set-up runs
 * once (pthread_once) before the first client, and is never torn down;
 * every transfer sets CURLOPT_NOSIGNAL. A server blocks SIGPIPE in the
 * thread that runs it, from start to return (a write to a peer that has
 * gone is EPIPE there; a SIGPIPE raised meanwhile is consumed before the
 * thread's mask is put back), and, while it runs, catches SIGTERM and SIGINT
 * through its event loop to stop. What a program that runs a server should
 * set itself, as `doormat escrow serve` does before it starts one:
 *   - SIGXFSZ ignored (signal(SIGXFSZ, SIG_IGN)), so that a file size limit
 *     (RLIMIT_FSIZE) fails the log's or the request log's write with EFBIG
 *     instead of killing the process;
 *   - RLIMIT_NOFILE raised to its hard limit: a connection takes two
 *     descriptors (one for its lingering close), and max_conns is bounded by
 *     what the process may open.
 */
#ifndef DOORMAT_SERVICE_H
#define DOORMAT_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "doormat/escrow.h"
#include "doormat/tlog.h"
#include "doormat/vault.h"

#ifdef __cplusplus
extern "C" {
#endif
DM_API_BEGIN

/* ---------------------------------------------------------------- TLS keys */

/* A service's TLS identity: a fresh ECDSA P-256 key and a self-signed
 * certificate for common_name (valid ten years; clients pin the key, not the
 * certificate chain). *pem is the key then the certificate, PEM, in guarded
 * memory (free with dm_secret_free); pin gets "sha256//BASE64" of the key's
 * SubjectPublicKeyInfo, as curl's CURLOPT_PINNEDPUBLICKEY wants it. */
DM_MUST_CHECK
int dm_service_tls_new(const char *common_name, char **pem, size_t *pem_len,
                       char pin[DM_ESCROW_TLS_PIN_LEN + 1]);
/* The pin of the certificate (or key) in a PEM text. */
DM_MUST_CHECK
int dm_service_tls_pin(const char *pem, size_t pem_len, char pin[DM_ESCROW_TLS_PIN_LEN + 1]);
/* Where escrow init keeps agent A's TLS identity beside its key:
 * ".../A.key" -> ".../A.tls.pem" (malloc'd). */
char *dm_service_tls_path_for(const char *key_path);

/* -------------------------------------------------------------- the servers */

/* What every server shares. Zero fields take the defaults in brackets. */
typedef struct dm_service_opts {
    const char *listen;         /* "HOST:PORT" (PORT 0: any free port) */
    const char *tls_path;       /* PEM key and certificate */
    const char *log_file;       /* one line per request; NULL: stderr */
    const char *port_file;      /* if set, the bound port is written there once listening */
    size_t max_body;            /* bytes of a request body [65536] */
    unsigned timeout_s;         /* idle read/write timeout of a connection [10] */
    unsigned max_conns;         /* connections at once; when full the longest waiting
                                   one is closed, and with all busy more get 429 [256] */
    unsigned request_timeout_s; /* from accept (or the last answer) to a whole
                                   request read, TLS handshake included [30] */
    unsigned max_per_address;   /* connections from one address [32] */
    unsigned witness_timeout_s; /* an agent's deadline for each witness's answer [5] */
    const char *metrics_listen;    /* "HOST:PORT" of the plain-HTTP metrics and health
                                      port (GET /metrics, GET /healthz); NULL: none */
    const char *metrics_port_file; /* if set, that port is written there */
    const char *holder; /* who this server is ("doormat escrow serve"), written beside the
                           lock on the log or witness state it holds, for whoever finds
                           it held [none: the process id alone] */
} dm_service_opts;

/* doormat escrow serve: agent agent_key_path of authority_path, logging
 * releases in log_dir. Runs until SIGTERM or SIGINT, finishing the releases
 * in flight. A log another process holds is DM_ERR_BUSY at once, naming it. */
DM_MUST_CHECK
int dm_service_agent_run(const dm_service_opts *o, const char *authority_path,
                         const char *agent_key_path, const char *log_dir);

/* doormat escrow witness serve: a c2sp.org/tlog-witness for the agents'
 * logs of the authorities in trust (n_trust authority.pub paths), with its
 * key at key_path and its state in state_dir, which it holds while it runs
 * (another witness serving it: DM_ERR_BUSY at once, naming it). Runs until
 * SIGTERM or SIGINT. */
DM_MUST_CHECK
int dm_service_witness_run(const dm_service_opts *o, const char *key_path, const char *const *trust,
                           size_t n_trust, const char *state_dir);

/* ------------------------------------------------------------- the clients */

/* One agent's answer to a release request, as the investigator's client saw it. */
typedef struct dm_service_answer {
    char agent[DM_ESCROW_MAX_AGENT_NAME + 1];
    int ok;            /* a share that passed every check, its receipt included */
    uint64_t index;    /* its entry in the agent's log */
    long status;       /* HTTP status, 0 when no answer */
    char reason[1024]; /* why not, in words (every witness that failed, each with why) */
} dm_service_answer;

/* doormat escrow request: asks the agents of auth (their URLs and pins from
 * authority.pub) for their shares of the file whose header is hdr_bytes,
 * under warrant_text, sealed to the investigator's identity; verifies each
 * answer and stops at k good shares. On DM_OK *file_key (guarded memory,
 * DM_FILE_KEY_LEN) is the file's key. answers[i] says what agent i did
 * (n_answers = the authority's agents). Fewer than k shares: DM_ERR_TOO_FEW_SHARES. */
DM_MUST_CHECK
int dm_service_request(const dm_escrow_authority *auth, const char *warrant_text,
                       size_t warrant_len, const uint8_t *hdr_bytes, size_t hdr_len,
                       const char *identity_text, size_t identity_len, unsigned timeout_s,
                       uint8_t *file_key, dm_service_answer *answers);

/* A tile fetcher over HTTPS for the monitor (dm_tlog_fetcher): paths are
 * read from base_url ("https://host:port/log") pinned to pin. 404 is
 * DM_ERR_NOT_FOUND. Released, as every fetcher, by dm_tlog_fetcher_clear. */
DM_MUST_CHECK
int dm_service_fetcher_new(const char *base_url, const char *pin, unsigned timeout_s,
                           dm_tlog_fetcher *out);
/* The same fetcher for logs published on a web server: paths are read from
 * base_url ("https://host[:port][/path]", the directory that holds the
 * log's checkpoint and tile/), the server's certificate checked against the
 * certificate authorities of ca_file (PEM; only those), or the system's when
 * ca_file is NULL (an untrusted certificate: DM_ERR_DENIED). A base_url that
 * is not such an https:// URL (plain http:// included) is DM_ERR_USAGE; a
 * ca_file without a PEM certificate, DM_ERR_IO. */
DM_MUST_CHECK
int dm_service_fetcher_new_ca(const char *base_url, const char *ca_file, unsigned timeout_s,
                              dm_tlog_fetcher *out);

DM_API_END
#ifdef __cplusplus
}
#endif
#endif
