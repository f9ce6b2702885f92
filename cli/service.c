/* doormat escrow serve, request (and witness serve): the escrow agents and
 * witnesses as HTTPS services and the investigator's client. This file parses
 * flags and prints; the services are in service/ (libdoormat-service.a). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_escrow.h"
#include "cli_service.h"
#include "doormat/escrow.h"
#include "doormat/service.h"

static const char serve_usage[] =
    "Usage:\n"
    "  doormat escrow serve --authority DIR/authority.pub --agent DIR/agents/A.key\n"
    "                       --log DIR/logs/A --listen HOST:PORT [--tls PEM] [--log-file FILE]\n"
    "                       [--port-file FILE] [--max-body BYTES] [--timeout SECONDS]\n"
    "                       [--request-timeout SECONDS] [--max-connections N]\n"
    "                       [--max-per-address N] [--witness-timeout SECONDS]\n"
    "\n"
    "Runs escrow agent A as an HTTPS service until SIGTERM or SIGINT.\n"
    "\n"
    "  POST /release     a release request (docs/escrow-format.md, \"Over the\n"
    "                    network\"): a warrant, the file's header and the requester's\n"
    "                    age1... recipient. The warrant is checked exactly as\n"
    "                    \"escrow unwrap\" checks it; the release's entry is appended\n"
    "                    to the agent's transparency log; the releases that arrive\n"
    "                    together are committed together (one fsync, one checkpoint)\n"
    "                    and cosigned by the witnesses authority.pub requires (POST\n"
    "                    add-checkpoint to their url: lines); only then does each\n"
    "                    share leave, with its receipt, sealed to the requester's\n"
    "                    recipient (an age file).\n"
    "  GET /log/checkpoint, GET /log/tile/...\n"
    "                    the agent's log, read-only (c2sp.org/tlog-tiles paths)\n"
    "\n"
    "Refusals are 4xx with the reason as the body's one line: 400 malformed\n"
    "request, 403 warrant refused, 404 unknown path, 405 wrong method, 413 body\n"
    "too large, 422 no share of this agent in the header, 429 too many\n"
    "connections (all of them busy). 503 says the witnesses did not cosign (the\n"
    "entry stays in the log) and 507 that the log cannot be written (a full\n"
    "disk): then nothing is released.\n"
    "\n"
    "Options:\n"
    "  --authority FILE      the authority's public file\n"
    "  --agent FILE          this agent's secret key (0600)\n"
    "  --log DIR             the agent's transparency log (DIR/logs/A from escrow\n"
    "                        init); verified whole at start: a log that does not\n"
    "                        verify stops the agent (exit 9)\n"
    "  --listen HOST:PORT    where to listen (PORT 0: any free port, see --port-file)\n"
    "  --tls PEM             TLS key and certificate [the agent key's path with\n"
    "                        .tls.pem for .key, as escrow init writes it]\n"
    "  --log-file FILE       one line per request, appended [standard error];\n"
    "                        created 0600; a case is named by its SHA-256 only\n"
    "  --port-file FILE      write the port once listening (for PORT 0)\n"
    "  --metrics-listen HOST:PORT\n"
    "                        a plain-HTTP port for monitoring, meant for loopback\n"
    "                        (127.0.0.1:9464): GET /metrics (Prometheus text:\n"
    "                        answers by status, refusals by reason, answer times,\n"
    "                        releases, log size, checkpoint age, witness failures\n"
    "                        by witness) and GET /healthz (200 ok; 503 and why when\n"
    "                        the checkpoint lacks its cosignatures) [none]\n"
    "  --metrics-port-file FILE\n"
    "                        write the metrics port there (for PORT 0)\n"
    "  --max-body BYTES      largest request body [65536]; more is 413\n"
    "  --timeout SECONDS     idle read/write timeout of a connection [10]\n"
    "  --request-timeout SECONDS\n"
    "                        a connection that has not sent a whole request this\n"
    "                        long after it was accepted (TLS handshake included)\n"
    "                        or answered is closed, however steadily it sends [30]\n"
    "  --max-connections N   connections at once [256]; when full, a new one\n"
    "                        closes the oldest still waiting for its request of\n"
    "                        the address that holds the most; with all busy it is\n"
    "                        answered 429, and past twice as many closed at once\n"
    "  --max-per-address N   connections from one address [32]; a new one past it\n"
    "                        closes that address's longest waiting one (429 when\n"
    "                        all are busy)\n"
    "  --witness-timeout SECONDS\n"
    "                        how long each witness has to answer [5]; the\n"
    "                        witnesses are asked at once, and a batch is released\n"
    "                        as soon as enough have cosigned\n"
    "\n"
    "Witnesses: a witness that does not answer in time, refuses, or answers\n"
    "with a cosignature that does not verify is named, with the reason, in\n"
    "the agent's log line and in the answer (the 503's body, or the\n"
    "Doormat-Witness-Failures header of a release that still had enough).\n"
    "Without enough cosignatures the entries stay logged, nothing is released,\n"
    "and the agent asks the witnesses again by itself until they cosign. The\n"
    "same request sent again (same warrant, file and recipient) gets the same\n"
    "entry, not a new one.\n"
    "\n"
    "A log line: TIME SERVICE PEER METHOD PATH STATUS BYTES [REASON]. A\n"
    "release whose requester hung up before its answer is logged with status\n"
    "499 and \"undelivered\" (its entry stays in the transparency log).\n"
    "SIGTERM: stop accepting, finish the releases in flight (their entries\n"
    "durable, their round of cosignatures ended), answer, exit 0.\n";

static const char request_usage[] =
    "Usage:\n"
    "  doormat escrow request --authority DIR/authority.pub --warrant WARRANT\n"
    "                         --identity KEY [-o OUT] [--timeout SECONDS] FILE\n"
    "\n"
    "The investigator's client. Asks the authority's agents, in authority order,\n"
    "over HTTPS (each pinned to the TLS key authority.pub names; no certificate\n"
    "authority is trusted) for their shares of FILE under WARRANT, sealed to the\n"
    "X25519 identity in KEY (an age identity file). Each answer is opened and\n"
    "checked (the agent's signature, this authority, this file) before it\n"
    "counts; the client stops at k good shares, recovers the file key, checks it\n"
    "against the header MAC and decrypts FILE to OUT (standard output without -o)\n"
    "with the same output safety as decrypt: nothing is left at OUT unless the\n"
    "whole file authenticated. FILE may be binary or ASCII-armored (the agents\n"
    "are sent the binary header either way).\n"
    "\n"
    "Each agent that is down or refuses is named on standard error with its\n"
    "reason (\"agent doj: refused (HTTP 403): ...\"). Fewer than k good shares\n"
    "is exit 4.\n"
    "\n"
    "Options:\n"
    "  --timeout SECONDS   for each agent [10]\n";

static const char witness_usage[] =
    "Usage:\n"
    "  doormat escrow witness serve --key W.key --trust DIR/authority.pub...\n"
    "                               --state DIR --listen HOST:PORT [--tls PEM]\n"
    "                               [--log-file FILE] [--port-file FILE] [--max-body BYTES]\n"
    "                               [--timeout SECONDS] [--request-timeout SECONDS]\n"
    "                               [--max-connections N] [--max-per-address N]\n"
    "\n"
    "Runs a witness (c2sp.org/tlog-witness) over HTTPS until SIGTERM or SIGINT.\n"
    "It trusts the log keys of every agent of the authorities given with --trust\n"
    "(repeatable), keeps in --state the last checkpoint it cosigned for each log,\n"
    "and cosigns a new checkpoint only with a valid consistency proof from it:\n"
    "\n"
    "  POST /add-checkpoint   200 and the cosignature line(s); 400 malformed\n"
    "                         request; 403 no valid signature of a trusted log\n"
    "                         key; 404 unknown log; 409 the old size is not the\n"
    "                         size it cosigned last (the body is that size,\n"
    "                         Content-Type text/x.tlog.size); 422 a bad proof, or\n"
    "                         another root for a size it cosigned (a fork)\n"
    "\n"
    "Wrong methods are 405, unknown paths 404, bodies over --max-body 413, more\n"
    "connections than --max-connections 429 -- each with its reason.\n"
    "\n"
    "Options:\n"
    "  --key FILE          the witness's key (PRIVATE+KEY+NAME+...; keep it secret)\n"
    "  --trust FILE        an authority.pub whose agents' logs it witnesses\n"
    "  --state DIR         where the cosigned checkpoints are kept (back it up)\n"
    "  --tls PEM           TLS key and certificate [the key's path with .tls.pem\n"
    "                      for .key]; agents pin its key from authority.pub\n"
    "  --listen, --log-file, --port-file, --max-body, --timeout, --request-timeout,\n"
    "  --max-connections, --max-per-address, --metrics-listen, --metrics-port-file\n"
    "                      as for doormat escrow serve\n";

enum {
    OPT_AUTHORITY = 256,
    OPT_AGENT,
    OPT_LOG,
    OPT_LISTEN,
    OPT_TLS,
    OPT_LOG_FILE,
    OPT_PORT_FILE,
    OPT_MAX_BODY,
    OPT_TIMEOUT,
    OPT_MAX_CONNS,
    OPT_REQUEST_TIMEOUT,
    OPT_MAX_PER_ADDRESS,
    OPT_WARRANT,
    OPT_IDENTITY,
    OPT_KEY,
    OPT_TRUST,
    OPT_STATE,
    OPT_WITNESS_TIMEOUT,
    OPT_METRICS_LISTEN,
    OPT_METRICS_PORT_FILE,
};

static const struct option longopts[] = {
    {"authority", required_argument, NULL, OPT_AUTHORITY},
    {"agent", required_argument, NULL, OPT_AGENT},
    {"log", required_argument, NULL, OPT_LOG},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"tls", required_argument, NULL, OPT_TLS},
    {"log-file", required_argument, NULL, OPT_LOG_FILE},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNS},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"max-per-address", required_argument, NULL, OPT_MAX_PER_ADDRESS},
    {"warrant", required_argument, NULL, OPT_WARRANT},
    {"identity", required_argument, NULL, OPT_IDENTITY},
    {"key", required_argument, NULL, OPT_KEY},
    {"trust", required_argument, NULL, OPT_TRUST},
    {"state", required_argument, NULL, OPT_STATE},
    {"witness-timeout", required_argument, NULL, OPT_WITNESS_TIMEOUT},
    {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
    {"metrics-port-file", required_argument, NULL, OPT_METRICS_PORT_FILE},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct svc_args {
    const char *authority, *agent, *log, *listen, *tls, *log_file, *port_file, *max_body, *timeout,
        *max_conns, *request_timeout, *max_per_address, *warrant, *identity, *output, *key, *state,
        *witness_timeout, *metrics_listen, *metrics_port_file;
    const char *trust[16];
    size_t n_trust;
    char **rest;
    int n_rest;
} svc_args;

static const char **slot(svc_args *a, int c) {
    switch (c) {
    case OPT_AUTHORITY:
        return &a->authority;
    case OPT_AGENT:
        return &a->agent;
    case OPT_LOG:
        return &a->log;
    case OPT_LISTEN:
        return &a->listen;
    case OPT_TLS:
        return &a->tls;
    case OPT_LOG_FILE:
        return &a->log_file;
    case OPT_PORT_FILE:
        return &a->port_file;
    case OPT_MAX_BODY:
        return &a->max_body;
    case OPT_TIMEOUT:
        return &a->timeout;
    case OPT_MAX_CONNS:
        return &a->max_conns;
    case OPT_REQUEST_TIMEOUT:
        return &a->request_timeout;
    case OPT_MAX_PER_ADDRESS:
        return &a->max_per_address;
    case OPT_WARRANT:
        return &a->warrant;
    case OPT_IDENTITY:
        return &a->identity;
    case 'o':
        return &a->output;
    case OPT_KEY:
        return &a->key;
    case OPT_STATE:
        return &a->state;
    case OPT_WITNESS_TIMEOUT:
        return &a->witness_timeout;
    case OPT_METRICS_LISTEN:
        return &a->metrics_listen;
    case OPT_METRICS_PORT_FILE:
        return &a->metrics_port_file;
    }
    return NULL;
}

/* The options of every command that runs a service, beside its own. */
static const int serving[] = {OPT_LISTEN,          OPT_TLS,
                              OPT_LOG_FILE,        OPT_PORT_FILE,
                              OPT_MAX_BODY,        OPT_TIMEOUT,
                              OPT_MAX_CONNS,       OPT_REQUEST_TIMEOUT,
                              OPT_MAX_PER_ADDRESS, OPT_METRICS_LISTEN,
                              OPT_METRICS_PORT_FILE, 0};

/* -1: go on; otherwise an exit code (help printed: 0). also: options
 * allowed beside allowed (serving, or NULL). */
static int parse(int argc, char **argv, const char *cmd, const char *usage, const int *allowed,
                 const int *also, svc_args *a) {
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(usage);
        int ok = cli_option_in(c, allowed) || cli_option_in(c, also);
        if (c == '?' || c == ':')
            return cli_bad_option(cmd, argv, c);
        if (!ok)
            return cli_usage_error("%s: option %s does not apply here (see doormat %s --help)", cmd,
                                   argv[optind - 1], cmd);
        if (c == OPT_TRUST) {
            if (a->n_trust == sizeof a->trust / sizeof a->trust[0])
                return cli_usage_error("%s: at most 16 --trust", cmd);
            a->trust[a->n_trust++] = optarg;
            continue;
        }
        const char **s = slot(a, c);
        if (*s != NULL)
            return cli_usage_error("%s: %s given twice", cmd, argv[optind - 1]);
        *s = optarg;
    }
    a->rest = argv + optind;
    a->n_rest = argc - optind;
    return -1;
}

/* A command that runs a service: its own options, the serving ones, and no
 * other argument. */
static int parse_serving(int argc, char **argv, const char *cmd, const char *usage,
                         const int *allowed, svc_args *a) {
    int rc = parse(argc, argv, cmd, usage, allowed, serving, a);
    if (rc < 0 && a->n_rest > 0)
        rc = cli_usage_error("%s: unexpected argument \"%s\"", cmd, a->rest[0]);
    return rc;
}

static int need(const char *cmd, const char *value, const char *flag) {
    if (value == NULL)
        return cli_usage_error("%s: missing %s (see doormat %s --help)", cmd, flag, cmd);
    return DM_EXIT_OK;
}

static int number(const char *cmd, const char *flag, const char *text, unsigned long max,
                  unsigned long *out) {
    if (text == NULL)
        return DM_EXIT_OK;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || text[0] == '+' || v < 1 || v > max)
        return cli_usage_error("%s: %s wants a number from 1 to %lu, not \"%s\"", cmd, flag, max,
                               text);
    *out = v;
    return DM_EXIT_OK;
}

static int service_opts(const char *cmd, const svc_args *a, dm_service_opts *o) {
    memset(o, 0, sizeof *o);
    o->listen = a->listen;
    o->tls_path = a->tls;
    o->log_file = a->log_file;
    o->port_file = a->port_file;
    o->metrics_listen = a->metrics_listen;
    o->metrics_port_file = a->metrics_port_file;
    unsigned long body = 0, timeout = 0, conns = 0, req_timeout = 0, per_addr = 0;
    int rc = number(cmd, "--max-body", a->max_body, 16ul << 20, &body);
    if (rc == DM_EXIT_OK)
        rc = number(cmd, "--timeout", a->timeout, 3600, &timeout);
    if (rc == DM_EXIT_OK)
        rc = number(cmd, "--request-timeout", a->request_timeout, 3600, &req_timeout);
    if (rc == DM_EXIT_OK)
        rc = number(cmd, "--max-connections", a->max_conns, 100000, &conns);
    if (rc == DM_EXIT_OK)
        rc = number(cmd, "--max-per-address", a->max_per_address, 100000, &per_addr);
    o->max_body = body;
    o->timeout_s = (unsigned)timeout;
    o->request_timeout_s = (unsigned)req_timeout;
    o->max_conns = (unsigned)conns;
    o->max_per_address = (unsigned)per_addr;
    return rc;
}

/* The library of the services, loaded, and the process ready to serve. */
static int serve_begin(const char *cmd, const cli_service_api **svc) {
    int rc = cli_init();
    if (rc != DM_EXIT_OK)
        return rc;
    if ((*svc = cli_service(cmd)) == NULL)
        return DM_EXIT_FAILURE;
    cli_serve_settings();
    return DM_EXIT_OK;
}

int cmd_escrow_serve(int argc, char **argv) {
    static const int allowed[] = {OPT_AUTHORITY, OPT_AGENT, OPT_LOG, OPT_WITNESS_TIMEOUT, 0};
    const char *cmd = "escrow serve";
    svc_args a;
    int rc = parse_serving(argc, argv, cmd, serve_usage, allowed, &a);
    if (rc >= 0)
        return rc;
    if ((rc = need(cmd, a.authority, "--authority DIR/authority.pub")) ||
        (rc = need(cmd, a.agent, "--agent DIR/agents/A.key")) ||
        (rc = need(cmd, a.log, "--log DIR")) || (rc = need(cmd, a.listen, "--listen HOST:PORT")))
        return rc;
    dm_service_opts o;
    if ((rc = service_opts(cmd, &a, &o)) != DM_EXIT_OK)
        return rc;
    unsigned long witness_timeout = 0;
    if ((rc = number(cmd, "--witness-timeout", a.witness_timeout, 3600, &witness_timeout)) !=
        DM_EXIT_OK)
        return rc;
    o.witness_timeout_s = (unsigned)witness_timeout;
    o.holder = "doormat escrow serve";
    const cli_service_api *svc = NULL;
    if ((rc = serve_begin(cmd, &svc)) != DM_EXIT_OK)
        return rc;
    int err = svc->agent_run(&o, a.authority, a.agent, a.log);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s", cmd);
}

int cmd_escrow_request(int argc, char **argv) {
    static const int allowed[] = {OPT_AUTHORITY, OPT_WARRANT, OPT_IDENTITY, OPT_TIMEOUT, 'o', 0};
    const char *cmd = "escrow request";
    svc_args a;
    int rc = parse(argc, argv, cmd, request_usage, allowed, NULL, &a);
    if (rc >= 0)
        return rc;
    if ((rc = need(cmd, a.authority, "--authority DIR/authority.pub")) ||
        (rc = need(cmd, a.warrant, "--warrant WARRANT")) ||
        (rc = need(cmd, a.identity, "--identity KEY")))
        return rc;
    if (a.n_rest != 1)
        return cli_usage_error("%s: name exactly one FILE", cmd);
    unsigned long timeout = 10;
    if ((rc = number(cmd, "--timeout", a.timeout, 3600, &timeout)) != DM_EXIT_OK)
        return rc;
    if ((rc = cli_init()) != DM_EXIT_OK)
        return rc;
    rc = -1; /* below: -1 while all is well, then the exit code */
    const char *file = a.rest[0];
    dm_escrow_authority *auth = NULL;
    char *warrant = NULL, *identity = NULL;
    size_t warrant_len = 0, identity_len = 0;
    dm_inspect_info info;
    memset(&info, 0, sizeof info);
    int have_info = 0;
    char *filebuf = NULL;
    size_t file_len = 0;
    uint8_t *key = NULL;
    dm_service_answer *answers = NULL;
    int err = dm_escrow_authority_load(a.authority, &auth);
    if (err != DM_OK)
        rc = cli_fail(err, "%s: authority", cmd);
    if (rc < 0 && (err = cli_read_file(a.warrant, &warrant, &warrant_len)) != DM_OK)
        rc = cli_fail(err, "%s: warrant", cmd);
    if (rc < 0 && (err = cli_read_secret_file(a.identity, &identity, &identity_len)) != DM_OK)
        rc = cli_fail(err, "%s: identity file %s", cmd, a.identity);
    if (rc < 0 && strcmp(file, "-") == 0)
        rc = cli_usage_error("%s: FILE must be a file, not standard input", cmd);
    if (rc < 0 && (err = cli_read_file(file, &filebuf, &file_len)) != DM_OK)
        rc = cli_fail(err, "%s", cmd);
    for (int pass = 0; rc < 0 && pass < 2; pass++) {
        dm_membuf in = {.data = (const uint8_t *)filebuf, .len = file_len};
        if (have_info)
            dm_inspect_info_clear(&info);
        err = dm_inspect(dm_source_mem(&in), &info);
        have_info = 1;
        if (err != DM_OK && err != DM_ERR_PAYLOAD) {
            rc = cli_fail(err, "%s: %s", cmd, file);
        } else if (info.armored && pass == 0) {
            /* The agents are sent the binary header: an armored file is
             * read through its armor, in memory, and looked at again. */
            uint8_t *bin = NULL;
            size_t bin_len = 0;
            if ((err = dm_dearmor((const uint8_t *)filebuf, file_len, &bin, &bin_len)) != DM_OK) {
                rc = cli_fail(err, "%s: %s", cmd, file);
            } else {
                free(filebuf);
                filebuf = (char *)bin;
                file_len = bin_len;
            }
        } else {
            break;
        }
    }
    size_t n = auth ? dm_escrow_authority_agents(auth) : 0;
    if (rc < 0 && ((key = dm_secret_alloc(DM_FILE_KEY_LEN)) == NULL ||
                   (answers = calloc(n, sizeof *answers)) == NULL))
        rc = cli_fail(DM_ERR_NOMEM, "%s", cmd);
    const cli_service_api *svc = rc < 0 ? cli_service(cmd) : NULL;
    if (rc < 0 && svc == NULL)
        rc = DM_EXIT_FAILURE;
    if (rc < 0) {
        err = svc->request(auth, warrant, warrant_len, (const uint8_t *)filebuf,
                           (size_t)info.header_size, identity, identity_len, (unsigned)timeout, key,
                           answers);
        for (size_t i = 0; i < n; i++)
            if (answers[i].ok)
                cli_msg("%s: agent %s: share received, its receipt verified (entry %llu of its "
                        "log)",
                        cmd, answers[i].agent, (unsigned long long)answers[i].index);
            else if (answers[i].reason[0])
                cli_msg("%s: agent %s: %s", cmd, answers[i].agent, answers[i].reason);
        if (err == DM_ERR_NO_MATCH) {
            cli_msg("%s: not enough shares: %s", cmd, dm_err_detail());
            rc = dm_exit_code(err);
        } else if (err != DM_OK) {
            rc = cli_fail(err, "%s", cmd);
        }
    }
    if (rc < 0) {
        dm_identity *id = NULL;
        cli_output out;
        dm_membuf in = {.data = (const uint8_t *)filebuf, .len = file_len};
        err = dm_file_key_identity_new(key, &id);
        if (err == DM_OK && (err = cli_output_open(&out, a.output, 0666)) == DM_OK) {
            dm_decrypt_opts opts = {0};
            cli_escrow_decrypt_opts(NULL, &opts, &id, 1);
            err = dm_decrypt(dm_source_mem(&in), dm_sink_fd(&out.fd), &id, 1, &opts);
            if (err == DM_OK)
                err = cli_output_commit(&out);
            else
                cli_output_abort(&out);
        }
        dm_identity_free(id);
        rc = err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s", cmd);
    }
    free(answers);
    dm_secret_free(key);
    if (have_info)
        dm_inspect_info_clear(&info);
    free(filebuf);
    dm_secret_free(identity);
    free(warrant);
    dm_escrow_authority_free(auth);
    return rc;
}

int cmd_escrow_witness_serve(int argc, char **argv) {
    static const int allowed[] = {OPT_KEY, OPT_TRUST, OPT_STATE, 0};
    const char *cmd = "escrow witness serve";
    svc_args a;
    int rc = parse_serving(argc, argv, cmd, witness_usage, allowed, &a);
    if (rc >= 0)
        return rc;
    if ((rc = need(cmd, a.key, "--key W.key")) || (rc = need(cmd, a.state, "--state DIR")) ||
        (rc = need(cmd, a.listen, "--listen HOST:PORT")))
        return rc;
    if (a.n_trust == 0)
        return cli_usage_error("%s: missing --trust DIR/authority.pub (see doormat %s --help)", cmd,
                               cmd);
    dm_service_opts o;
    if ((rc = service_opts(cmd, &a, &o)) != DM_EXIT_OK)
        return rc;
    o.holder = "doormat escrow witness serve";
    const cli_service_api *svc = NULL;
    if ((rc = serve_begin(cmd, &svc)) != DM_EXIT_OK)
        return rc;
    int err = svc->witness_run(&o, a.key, a.trust, a.n_trust, a.state);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "%s", cmd);
}
