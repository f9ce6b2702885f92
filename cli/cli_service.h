/* The service commands of the escrow group (cli/service.c). */
#ifndef DOORMAT_CLI_SERVICE_H
#define DOORMAT_CLI_SERVICE_H

/* doormat escrow serve ...; argv[0] is "serve". */
int cmd_escrow_serve(int argc, char **argv);
/* doormat escrow request ...; argv[0] is "request". */
int cmd_escrow_request(int argc, char **argv);

/* doormat escrow witness serve ...; argv[0] is "serve". */
int cmd_escrow_witness_serve(int argc, char **argv);

#include "doormat/service.h"

/* The service room's entry points. doormat-net links the service room and
 * fills this table with them (cli/net_service.c); doormat, which does not,
 * hands every command that needs them to doormat-net before it starts
 * (cli_net_handover), so there it is never asked for. */
typedef struct cli_service_api {
    __typeof__(&dm_service_tls_new) tls_new;
    __typeof__(&dm_service_agent_run) agent_run;
    __typeof__(&dm_service_witness_run) witness_run;
    __typeof__(&dm_service_request) request;
    __typeof__(&dm_service_fetcher_new) fetcher_new;
    __typeof__(&dm_service_fetcher_new_ca) fetcher_new_ca;
} cli_service_api;
/* NULL after one line on stderr saying why (cmd names the command). */
const cli_service_api *cli_service(const char *cmd);

/* In doormat: when argv (main's) is a command that needs the network (escrow
 * serve, escrow witness serve, escrow request, escrow init, escrow monitor
 * --logs https or https://URL, lab volume, lab insider), runs
 * doormat-net with the same argv in this process (cli/net.c), and returns only
 * if it could not, with the exit code after one line on stderr. In doormat-net,
 * and for every other command: -1, the command runs here. */
int cli_net_handover(int argc, char **argv);

#endif
