/* The service commands of the escrow group (cli/service.c). */
#ifndef DOORMAT_CLI_SERVICE_H
#define DOORMAT_CLI_SERVICE_H

/* doormat escrow serve ...; argv[0] is "serve". */
int cmd_escrow_serve(int argc, char **argv);
/* doormat escrow request ...; argv[0] is "request". */
int cmd_escrow_request(int argc, char **argv);

/* doormat escrow witness serve ...; argv[0] is "serve". */
int cmd_escrow_witness_serve(int argc, char **argv);

#endif
