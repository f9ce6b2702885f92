/* What the escrow group's files share, and what encrypt and decrypt borrow
 * from it: the group's usage text (cli/escrow.c, escrow_log.c) and the
 * escrow flags of encrypt and decrypt (cli/crypt.c, service.c). It calls
 * none of the command files, so none of them makes a circle with another. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_escrow.h"

const char cli_escrow_usage[] =
    "Usage:\n"
    "  doormat escrow init --name NAME [--agents A,B,C] [--threshold K] [--pq]\n"
    "                      [--witness VKEY... [--witness-threshold K]]\n"
    "                      [--url NAME=https://HOST:PORT]... -o DIR\n"
    "  doormat escrow warrant --court DIR/court.key --authority DIR/authority.pub\n"
    "                         --case TEXT [--issued YYYY-MM-DD] --expires YYYY-MM-DD\n"
    "                         -o WARRANT FILE...\n"
    "  doormat escrow unwrap --authority DIR/authority.pub --agent DIR/agents/A.key\n"
    "                        --warrant WARRANT --log DIR/logs/A [--requester TEXT]\n"
    "                        [--witness WDIR...] -o SHARE FILE\n"
    "  doormat escrow recover --authority DIR/authority.pub --share SHARE... [-o OUT] FILE\n"
    "  doormat escrow audit verify --authority DIR/authority.pub [--since CHECKPOINT] LOGDIR\n"
    "  doormat escrow audit prove --authority DIR/authority.pub (--index N | --since N) LOGDIR\n"
    "  doormat escrow witness init --name NAME -o WDIR\n"
    "  doormat escrow witness add-checkpoint --witness WDIR --authority DIR/authority.pub\n"
    "                                        [REQUEST]\n"
    "  doormat escrow monitor --authority DIR/authority.pub\n"
    "                         [--logs DIR|https|https://URL [--logs-ca CA.pem]]\n"
    "                         [--state SDIR] [-i IDENTITY] [FILE...]\n"
    "  doormat escrow tamper (--strip | --corrupt) -i IDENTITY -o OUT FILE\n"
    "  doormat escrow authority endpoint --authority DIR/authority.pub\n"
    "                       [--url NAME=URL]... [--tls NAME=PIN]...  (authority --help)\n"
    "  doormat escrow serve --authority DIR/authority.pub --agent DIR/agents/A.key\n"
    "                       --log DIR/logs/A --listen HOST:PORT (escrow serve --help)\n"
    "  doormat escrow witness serve --key WDIR/witness.key --trust DIR/authority.pub\n"
    "                       --state WDIR/state --listen HOST:PORT (witness serve --help)\n"
    "  doormat escrow request --authority DIR/authority.pub --warrant WARRANT\n"
    "                       --identity KEY [-o OUT] FILE   (escrow request --help)\n"
    "\n"
    "An escrow authority is the exceptional-access path built as well as its\n"
    "proponents would build it: n agents, any k of whom can recover a file's key\n"
    "(the default is one agent, \"master\": a single key under the doormat), and a\n"
    "court key that signs warrants. \"doormat encrypt --escrow DIR/authority.pub\"\n"
    "adds one doormat-escrow stanza per agent, each holding a Shamir share of the\n"
    "file key; plain age ignores them. \"doormat decrypt --require-escrow\" refuses\n"
    "(exit 7) a file whose escrow stanzas are missing or not derived from its key.\n"
    "The historical designs are modes of the same stanzas, for the labs: encrypt\n"
    "--leaf-bits N (Clipper's LEAF: an N-bit checksum is all that can be checked)\n"
    "and --crumple-bits C (each recovery is a 2^C search); decrypt --require-escrow\n"
    "takes the same flag to accept that mode, and unwrap and recover read the mode\n"
    "from the stanzas (doormat lab leaf-forge, doormat lab crumple).\n"
    "\n"
    "Every release is an entry in the releasing agent's transparency log: an RFC\n"
    "6962 Merkle tree stored as C2SP tlog-tiles in DIR/logs/<agent>/ (any static\n"
    "web server can publish it), with checkpoints signed by the agent's log key\n"
    "and cosigned by the witnesses authority.pub names (C2SP tlog-cosignature).\n"
    "Each share carries a receipt (a C2SP tlog-proof of its entry); recover\n"
    "uses no share whose receipt does not verify.\n"
    "\n"
    "Commands:\n"
    "  init      create an authority: DIR/authority.pub (public), DIR/court.key,\n"
    "            DIR/agents/<agent>.key and <agent>.logkey (secret, 0600), and each\n"
    "            agent's empty log DIR/logs/<agent>/; --witness VKEY (repeatable;\n"
    "            a witness.vkey file or its text) names the witnesses, of which\n"
    "            --witness-threshold K (default: all) must cosign every release;\n"
    "            none by default. --pq gives every agent a hybrid post-quantum key\n"
    "            (ML-KEM-768 + X25519, age1pq1...; needs OpenSSL 3.5 or later, exit 2\n"
    "            otherwise): escrowed shares are then as safe as post-quantum file\n"
    "            recipients, and such an authority escrows files to post-quantum\n"
    "            recipients only (a classical one, classical files only). Never\n"
    "            overwrites an existing authority\n"
    "  warrant   sign a warrant for the files given (by their file id, as shown by\n"
    "            doormat inspect), valid from --issued (default today) to --expires\n"
    "            (UTC dates)\n"
    "  unwrap    one agent's release: checks the warrant (signature, authority,\n"
    "            file, dates; exit 8 with the reason), appends the entry to --log\n"
    "            and makes it durable, has each --witness cosign the checkpoint\n"
    "            (exit 9 with fewer than the authority needs), and only then writes\n"
    "            the agent's signed share and its receipt (0600; never over an\n"
    "            existing file, never visible before it is whole)\n"
    "  recover   check every share's receipt against the authority's log keys and\n"
    "            witness policy (exit 9 for one missing or invalid), combine k shares\n"
    "            into the file key and decrypt FILE (exit 4, saying how many are\n"
    "            needed, with fewer than k); a wrong share is passed over when other\n"
    "            shares make up k, and its agent is named\n"
    "  audit verify\n"
    "            verify a log from nothing: every entry, every tile, the checkpoint\n"
    "            signature; with --since CHECKPOINT (a checkpoint file kept from\n"
    "            before) also that the log still extends it (exit 9 otherwise, as\n"
    "            for an entry dated out of order, or outside the witnesses'\n"
    "            cosignature times by more than 10 minutes)\n"
    "  audit prove\n"
    "            print a C2SP tlog-proof of entry N (--index) or an add-checkpoint\n"
    "            request body from size N to the current checkpoint (--since)\n"
    "  witness init\n"
    "            create a witness: WDIR/witness.key (secret), WDIR/witness.vkey (its\n"
    "            public key, for escrow init --witness) and WDIR/state/\n"
    "  witness add-checkpoint\n"
    "            answer a C2SP tlog-witness add-checkpoint request (REQUEST or\n"
    "            standard input) for the authority's logs: cosign, and print the\n"
    "            cosignature line, only a checkpoint consistent with the last one it\n"
    "            cosigned for that log (exit 2 for 400/404, 9 for 403/409/422)\n"
    "  monitor   read every agent's log (--logs DIR, default: beside authority.pub;\n"
    "            --logs https: from each agent over HTTPS, its url: and tls: lines;\n"
    "            --logs https://HOST[:PORT][/PATH]: agent NAME's log from URL/NAME/\n"
    "            on a web server that publishes the log directories, its certificate\n"
    "            checked against the system's CAs or only those of --logs-ca CA.pem;\n"
    "            plain http:// refused: exit 2; an untrusted certificate: exit 8),\n"
    "            verify it and its witness cosignatures, check that it extends the\n"
    "            checkpoint kept in --state SDIR, and list every access (or those to\n"
    "            the FILEs given, by the escrow file id their stanzas bind; with\n"
    "            -i IDENTITY also by the id derived from their file key); a fork, a\n"
    "            rollback, a bad signature, a missing cosignature, or an entry\n"
    "            misdated (before the entry before it, or outside the witnesses'\n"
    "            cosignature times by more than 10 minutes) is exit 9\n"
    "  serve     run one agent as an HTTPS service (doormat escrow serve --help)\n"
    "  request   the investigator's client: ask the agents over HTTPS, check every\n"
    "            receipt, decrypt (doormat escrow request --help)\n"
    "  witness serve\n"
    "            a witness as an HTTPS service (doormat escrow witness serve --help)\n"
    "  init --url NAME=URL (repeatable) says where an agent or a witness answers;\n"
    "            init also gives every agent a TLS key and self-signed certificate,\n"
    "            DIR/agents/<agent>.tls.pem (secret), pinned in authority.pub\n"
    "  authority endpoint\n"
    "            add or replace an agent's or a witness's url: and tls: lines in\n"
    "            authority.pub (a witness's address after its first start, a moved\n"
    "            machine, a renewed TLS key); the authority id does not change\n"
    "  tamper    FOR TESTS AND TEACHING: play a rogue sender who holds the file key\n"
    "            (via -i) and rewrites the header with a valid MAC: --strip removes\n"
    "            the escrow stanzas, --corrupt fills them with random bytes\n"
    "\n"
    "Dates are checked against the real clock (UTC); nothing in the environment\n"
    "moves it.\n"
    "\n"
    "Example (a 2-of-3 authority):\n"
    "  doormat escrow init --name FBI --agents doj,court,vendor --threshold 2 -o fbi\n"
    "  doormat encrypt -r age1... --escrow fbi/authority.pub -o memo.age memo.txt\n"
    "  doormat escrow warrant --court fbi/court.key --authority fbi/authority.pub \\\n"
    "      --case \"26-cr-42\" --expires 2026-12-31 -o w.txt memo.age\n"
    "  doormat escrow unwrap --authority fbi/authority.pub --agent fbi/agents/doj.key \\\n"
    "      --warrant w.txt --log fbi/logs/doj -o doj.share memo.age\n"
    "  (the same for vendor)\n"
    "  doormat escrow recover --authority fbi/authority.pub --share doj.share \\\n"
    "      --share vendor.share -o memo.txt memo.age\n"
    "  doormat escrow monitor --authority fbi/authority.pub --state seen memo.age\n";

/* ------------------------------------------------ pieces for encrypt, decrypt, inspect */

int cli_escrow_mode_flag(const char *cmd, int leaf, const char *arg, dm_escrow_opts *opts) {
    const char *flag = leaf ? "--leaf-bits" : "--crumple-bits";
    unsigned max = leaf ? DM_ESCROW_MAX_LEAF_BITS : DM_ESCROW_MAX_CRUMPLE_BITS;
    if (opts->mode != DM_ESCROW_MODE_SHAMIR)
        return cli_usage_error("%s: give one of --leaf-bits and --crumple-bits, once", cmd);
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || arg[0] == '+' || v < 1 ||
        v > max)
        return cli_usage_error("%s: %s wants a number from 1 to %u, not \"%s\"", cmd, flag, max,
                               arg);
    opts->mode = leaf ? DM_ESCROW_MODE_LEAF : DM_ESCROW_MODE_CRUMPLE;
    if (leaf)
        opts->leaf_bits = (unsigned)v;
    else
        opts->crumple_bits = (unsigned)v;
    return DM_EXIT_OK;
}

int cli_escrow_recipient(const char *authority_path, const dm_escrow_opts *opts,
                         dm_recipient **out) {
    dm_escrow_authority *auth = NULL;
    int err = dm_escrow_authority_load(authority_path, &auth);
    if (err == DM_OK)
        err = dm_escrow_recipient_new(auth, opts, out);
    dm_escrow_authority_free(auth);
    return err == DM_OK ? DM_EXIT_OK : cli_fail(err, "encrypt: --escrow");
}

int cli_escrow_policy_load(const char *authority_path, const dm_escrow_opts *opts,
                           cli_escrow_policy *p) {
    memset(p, 0, sizeof *p);
    if (opts != NULL)
        p->opts = *opts;
    if (authority_path == NULL)
        return DM_EXIT_OK;
    int err = dm_escrow_authority_load(authority_path, &p->auth);
    if (err != DM_OK)
        return cli_fail(err, "decrypt: --require-escrow");
    p->policy.auth = p->auth;
    p->policy.opts = &p->opts;
    return DM_EXIT_OK;
}

void cli_escrow_decrypt_opts(cli_escrow_policy *p, dm_decrypt_opts *opts, dm_identity *const *ids,
                             size_t n_ids) {
    for (size_t i = 0; i < n_ids; i++)
        if (ids[i] != NULL)
            ids[i]->beside = dm_escrow_beside;
    if (p != NULL && p->auth != NULL) {
        opts->policy = dm_escrow_policy_check;
        opts->policy_ctx = &p->policy;
    }
}

void cli_escrow_policy_free(cli_escrow_policy *p) {
    dm_escrow_authority_free(p->auth);
    p->auth = NULL;
}
