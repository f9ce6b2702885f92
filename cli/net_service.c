/* The network commands, as build/doormat-net sees them: linked with the
 * service room (libdoormat-service.a), it runs every command itself and hands
 * nothing over (cli/net.c is doormat's side). The service room's entry points
 * are ordinary calls, resolved by the linker; the table keeps the commands
 * that use them (cli/escrow.c, escrow_log.c, lab.c, service.c) the same
 * objects in doormat and doormat-net. */
#include "cli.h"
#include "cli_service.h"

static const cli_service_api api = {
    .tls_new = dm_service_tls_new,
    .agent_run = dm_service_agent_run,
    .witness_run = dm_service_witness_run,
    .request = dm_service_request,
    .fetcher_new = dm_service_fetcher_new,
    .fetcher_new_ca = dm_service_fetcher_new_ca,
};

int cli_net_handover(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return -1;
}

const cli_service_api *cli_service(const char *cmd) {
    (void)cmd;
    return &api;
}
