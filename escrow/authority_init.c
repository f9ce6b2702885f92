/* Making an authority: a fresh one in memory with its agents' and court's
 * keys, its witnesses, and the directory `doormat escrow init` writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "escrow_internal.h"

#define DEFAULT_AGENT "master"

/* The public log key of agent i (its name is the log's origin). */
static void agent_log_verifier(const char *auth_name, dm_escrow_agent_pub *a,
                               const uint8_t log_pk[32]) {
    memset(&a->log, 0, sizeof a->log);
    dm_escrow_log_origin(auth_name, a->name, a->sign_pk, a->log.name);
    a->log.type = DM_TLOG_SIG_ED25519;
    memcpy(a->log.pk, log_pk, 32);
    a->log.id = dm_tlog_key_id(a->log.name, a->log.type, a->log.pk);
}

int dm_escrow_authority_new(const char *name, const char *const *agents, size_t n_agents,
                            unsigned threshold, dm_escrow_authority **auth_out,
                            dm_escrow_agent_key ***agent_keys_out,
                            dm_escrow_court_key **court_out) {
    return dm_escrow_authority_new_ex(name, agents, n_agents, threshold, 0, auth_out,
                                      agent_keys_out, court_out);
}

int dm_escrow_authority_new_ex(const char *name, const char *const *agents, size_t n_agents,
                               unsigned threshold, unsigned flags, dm_escrow_authority **auth_out,
                               dm_escrow_agent_key ***agent_keys_out,
                               dm_escrow_court_key **court_out) {
    static const char *const default_agents[] = {DEFAULT_AGENT};
    *auth_out = NULL;
    *agent_keys_out = NULL;
    *court_out = NULL;
    if (!name || !dm_escrow_valid_name(name, strlen(name)))
        return dm_fail(DM_ERR_USAGE,
                       "authority name must be 1 to %d of A-Z a-z 0-9 . _ - (got \"%s\")",
                       DM_ESCROW_MAX_NAME, name ? name : "");
    if (n_agents == 0) {
        agents = default_agents;
        n_agents = 1;
    }
    if (threshold == 0)
        threshold = 1;
    if (n_agents > DM_ESCROW_MAX_AGENTS)
        return dm_fail(DM_ERR_USAGE, "at most %d agents", DM_ESCROW_MAX_AGENTS);
    if (threshold > n_agents)
        return dm_fail(DM_ERR_USAGE, "threshold %u is more than the %zu agents", threshold,
                       n_agents);
    for (size_t i = 0; i < n_agents; i++) {
        if (!dm_escrow_valid_agent_name(agents[i], strlen(agents[i])))
            return dm_fail(DM_ERR_USAGE,
                           "agent name \"%s\" must be 1 to %d of a-z 0-9 _ - "
                           "(starting with a letter or digit)",
                           agents[i], DM_ESCROW_MAX_AGENT_NAME);
        for (size_t j = 0; j < i; j++)
            if (strcmp(agents[i], agents[j]) == 0)
                return dm_fail(DM_ERR_USAGE, "agent \"%s\" named twice", agents[i]);
    }

    dm_escrow_authority *auth = calloc(1, sizeof *auth);
    dm_escrow_agent_key **keys = calloc(n_agents, sizeof *keys);
    dm_escrow_court_key *court = dm_secret_alloc(sizeof *court);
    int err = DM_OK;
    if (!auth || !keys || !court) {
        err = dm_fail(DM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    snprintf(auth->name, sizeof auth->name, "%s", name);
    auth->threshold = threshold;
    auth->n_agents = n_agents;
    for (size_t i = 0; i < n_agents && !err; i++) {
        keys[i] = dm_secret_new(sizeof *keys[i]);
        if (!keys[i]) {
            err = DM_ERR_NOMEM;
            break;
        }
        snprintf(keys[i]->name, sizeof keys[i]->name, "%s", agents[i]);
        keys[i]->index = i;
        randombytes_buf(keys[i]->seed, sizeof keys[i]->seed);
        err = dm_escrow_agent_key_derive(keys[i]);
        if (err)
            break;
        dm_escrow_agent_pub *a = &auth->agents[i];
        snprintf(a->name, sizeof a->name, "%s", agents[i]);
        memcpy(a->box_pk, keys[i]->box_pk, 32);
        memcpy(a->sign_pk, keys[i]->sign_pk, 32);
        agent_log_verifier(name, a, keys[i]->log_pk);
        if (flags & DM_ESCROW_PQ) {
            a->pq = true;
            err = dm_pq_public_from_seed(keys[i]->pq_seed, a->pq_pk);
            if (!err) {
                memcpy(a->box_pk, a->pq_pk + DM_PQ_PUBLIC_LEN - 32, 32);
                err = dm_bech32_encode("age1pq", a->pq_pk, DM_PQ_PUBLIC_LEN, a->recipient,
                                       DM_ESCROW_RECIPIENT_MAX);
            }
        } else {
            err = dm_escrow_agent_recipient(a->box_pk, a->recipient);
        }
    }
    if (err)
        goto fail;
    memset(court, 0, sizeof *court);
    randombytes_buf(court->seed, sizeof court->seed);
    err = dm_escrow_court_key_derive(court);
    if (err)
        goto fail;
    memcpy(auth->court_pk, court->sign_pk, 32);
    err = dm_escrow_authority_compute_id(auth, auth->id);
    if (err)
        goto fail;
    dm_hex(auth->id, DM_ESCROW_ID_LEN, auth->id_hex);
    memcpy(court->authority_id, auth->id, DM_ESCROW_ID_LEN);
    for (size_t i = 0; i < n_agents; i++)
        memcpy(keys[i]->authority_id, auth->id, DM_ESCROW_ID_LEN);
    *auth_out = auth;
    *agent_keys_out = keys;
    *court_out = court;
    return DM_OK;

fail:
    if (keys)
        for (size_t i = 0; i < n_agents; i++)
            dm_escrow_agent_key_free(keys[i]);
    free(keys);
    free(auth);
    dm_escrow_court_key_free(court);
    return err;
}

int dm_escrow_authority_set_witnesses(dm_escrow_authority *auth,
                                      dm_escrow_agent_key *const *agent_keys,
                                      dm_escrow_court_key *court, const dm_tlog_verifier *witnesses,
                                      size_t n, unsigned threshold) {
    if (n > DM_ESCROW_MAX_WITNESSES)
        return dm_fail(DM_ERR_USAGE, "at most %d witnesses", DM_ESCROW_MAX_WITNESSES);
    if ((n == 0) != (threshold == 0) || threshold > n)
        return dm_fail(DM_ERR_USAGE, "a witness threshold of %u with %zu witnesses", threshold, n);
    for (size_t i = 0; i < n; i++) {
        if (witnesses[i].type != DM_TLOG_SIG_COSIGNATURE)
            return dm_fail(DM_ERR_USAGE, "witness %s: not an Ed25519 cosignature key (type 0x04)",
                           witnesses[i].name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(witnesses[i].name, witnesses[j].name) == 0 ||
                memcmp(witnesses[i].pk, witnesses[j].pk, 32) == 0)
                return dm_fail(DM_ERR_USAGE, "witness %s given twice", witnesses[i].name);
    }
    auth->n_witnesses = n;
    if (n)
        memcpy(auth->witnesses, witnesses, n * sizeof *witnesses);
    auth->witness_threshold = threshold;
    /* The id commits to the policy: everything that holds it follows. */
    int err = dm_escrow_authority_compute_id(auth, auth->id);
    if (err)
        return err;
    dm_hex(auth->id, DM_ESCROW_ID_LEN, auth->id_hex);
    for (size_t i = 0; i < auth->n_agents; i++)
        memcpy(agent_keys[i]->authority_id, auth->id, DM_ESCROW_ID_LEN);
    memcpy(court->authority_id, auth->id, DM_ESCROW_ID_LEN);
    return DM_OK;
}

/* ------------------------------------------------------------ files */

int dm_escrow_authority_write_dir(const char *dir, const dm_escrow_authority *auth,
                                  dm_escrow_agent_key *const *agent_keys,
                                  const dm_escrow_court_key *court) {
    enum { MAXP = 4096 };
    char pub[MAXP], court_path[MAXP], logs_dir[MAXP], agents_dir[MAXP];
    if (snprintf(pub, MAXP, "%s/authority.pub", dir) >= MAXP ||
        snprintf(court_path, MAXP, "%s/court.key", dir) >= MAXP ||
        snprintf(logs_dir, MAXP, "%s/logs", dir) >= MAXP ||
        snprintf(agents_dir, MAXP, "%s/agents", dir) >= MAXP)
        return dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
    struct stat st;
    if (lstat(pub, &st) == 0)
        return dm_fail(DM_ERR_USAGE, "%s exists: refusing to overwrite an existing authority", pub);
    bool made_dir = false, made_agents = false;
    if (mkdir(dir, 0755) == 0)
        made_dir = true;
    else if (errno != EEXIST)
        return dm_fail(DM_ERR_IO, "%s: %s", dir, strerror(errno));
    if (mkdir(agents_dir, 0700) == 0)
        made_agents = true;
    else if (errno != EEXIST) {
        int e = errno;
        if (made_dir)
            rmdir(dir);
        return dm_fail(DM_ERR_IO, "%s: %s", agents_dir, strerror(e));
    }

    /* Everything is created with O_EXCL; what we created is listed so that a
     * failure halfway removes exactly that and nothing else. */
    char(*written)[MAXP] = calloc(2 * DM_ESCROW_MAX_AGENTS + 3, MAXP);
    size_t n_written = 0, n_logs = 0;
    bool made_logs = false;
    if (!written) {
        if (made_agents)
            rmdir(agents_dir);
        if (made_dir)
            rmdir(dir);
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    }
    char *text = NULL;
    size_t len = 0;
    int err = DM_OK;
    for (size_t i = 0; i < auth->n_agents && !err; i++) {
        if (snprintf(written[n_written], MAXP, "%s/%s.key", agents_dir, auth->agents[i].name) >=
            MAXP) {
            err = dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
            break;
        }
        err = dm_escrow_agent_key_format(agent_keys[i], &text, &len);
        if (!err) {
            err = dm_write_new_file(written[n_written], text, len, 0600);
            dm_secret_free(text);
        }
        if (!err)
            n_written++;
    }
    if (!err) {
        err = dm_escrow_court_key_format(court, &text, &len);
        if (!err) {
            err = dm_write_new_file(court_path, text, len, 0600);
            dm_secret_free(text);
        }
        if (!err)
            snprintf(written[n_written++], MAXP, "%s", court_path);
    }
    /* Each agent's transparency log: its key (also derivable from the agent
     * key, written apart for a log server that must not hold the agent key)
     * and its directory, started with the signed empty checkpoint. */
    if (!err) {
        if (mkdir(logs_dir, 0755) == 0)
            made_logs = true;
        else if (errno != EEXIST)
            err = dm_fail(DM_ERR_IO, "%s: %s", logs_dir, strerror(errno));
    }
    for (size_t i = 0; i < auth->n_agents && !err; i++) {
        dm_tlog_signer *signer = NULL;
        char path[MAXP];
        err = dm_escrow_agent_log_signer(agent_keys[i], auth, &signer);
        if (!err && snprintf(written[n_written], MAXP, "%s/%s.logkey", agents_dir,
                             auth->agents[i].name) >= MAXP)
            err = dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
        if (!err)
            err = dm_tlog_signer_format(signer, &text);
        if (!err) {
            err = dm_write_new_file(written[n_written], text, strlen(text), 0600);
            dm_secret_free(text);
            if (!err)
                n_written++;
        }
        if (!err && snprintf(path, MAXP, "%s/%s", logs_dir, auth->agents[i].name) >= MAXP)
            err = dm_fail(DM_ERR_USAGE, "%s: path too long", dir);
        if (!err)
            err = dm_tlog_log_create(path, signer);
        if (!err)
            n_logs++;
        dm_tlog_signer_free(signer);
    }
    if (!err) {
        /* Last: its presence is what marks a complete authority. */
        err = dm_escrow_authority_format(auth, &text, &len);
        if (!err) {
            err = dm_write_new_file(pub, text, len, 0644);
            free(text);
        }
    }
    if (err) {
        for (size_t i = 0; i < n_written; i++)
            unlink(written[i]);
        for (size_t i = 0; i < n_logs; i++) {
            char path[MAXP + 64];
            snprintf(path, sizeof path, "%s/%s", logs_dir, auth->agents[i].name);
            dm_tlog_log_remove_empty(path);
        }
        if (made_logs)
            rmdir(logs_dir);
        if (made_agents)
            rmdir(agents_dir);
        if (made_dir)
            rmdir(dir);
    }
    free(written);
    return err;
}
