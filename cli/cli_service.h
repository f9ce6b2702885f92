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

/* The service room's entry points, from libdoormat-service.so, loaded on
 * first use (cli/service_lib.c). */
typedef struct cli_service_api {
    __typeof__(&dm_service_tls_new) tls_new;
    __typeof__(&dm_service_agent_run) agent_run;
    __typeof__(&dm_service_witness_run) witness_run;
    __typeof__(&dm_service_request) request;
    __typeof__(&dm_service_fetcher_new) fetcher_new;
    __typeof__(&dm_service_fetcher_new_ca) fetcher_new_ca;
    __typeof__(&dm_service_fetcher_free) fetcher_free;
} cli_service_api;
/* NULL after one line on stderr saying why (cmd names the command). */
const cli_service_api *cli_service(const char *cmd);

#endif
