/* The labs' outside checks: what the real tools say about a lab's files, as
 * separate processes (labs/supervise.c runs them): plain age, and doormat
 * itself (decrypt, inspect, rekey, the escrow procedure, the monitor). The
 * exit codes come back as they are; the command judges them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab_internal.h"

#define AGE_BIN "/usr/bin/age"

bool dm_lab_same_file(const char *a, const char *b) {
    size_t xl = 0, yl = 0;
    char *x = dm_lab_read_file(a, &xl), *y = dm_lab_read_file(b, &yl);
    bool same = x && y && xl == yl && memcmp(x, y, xl) == 0;
    free(x);
    free(y);
    return same;
}

bool dm_lab_age_available(void) {
    return access(AGE_BIN, X_OK) == 0;
}

int dm_lab_age_decrypt(const char *key, const char *file, const char *want, const char *tmp,
                       bool *same) {
    char *argv[] = {AGE_BIN, "-d", "-i", (char *)key, (char *)file, NULL};
    int rc = dm_lab_run(argv, tmp);
    *same = rc == 0 && dm_lab_same_file(tmp, want);
    remove(tmp);
    return rc;
}

int dm_lab_cmd_decrypt(const char *self, const char *key, const char *require_escrow,
                       unsigned leaf_bits, const char *file, const char *want, const char *tmp) {
    char bits[16];
    snprintf(bits, sizeof bits, "%u", leaf_bits);
    char *argv[12];
    int n = 0;
    argv[n++] = (char *)self;
    argv[n++] = "decrypt";
    argv[n++] = "-i";
    argv[n++] = (char *)key;
    if (require_escrow) {
        argv[n++] = "--require-escrow";
        argv[n++] = (char *)require_escrow;
    }
    if (leaf_bits) {
        argv[n++] = "--leaf-bits";
        argv[n++] = bits;
    }
    argv[n++] = "-o";
    argv[n++] = want ? (char *)tmp : "/dev/null";
    argv[n++] = (char *)file;
    argv[n] = NULL;
    int rc = dm_lab_run(argv, NULL);
    if (want) {
        if (rc == 0 && !dm_lab_same_file(tmp, want))
            rc = -1;
        remove(tmp);
    }
    return rc;
}

long dm_lab_cmd_inspect_x25519(const char *self, const char *file, const char *tmp) {
    static const char mark[] = "stanza: X25519 x";
    char *argv[] = {(char *)self, "inspect", (char *)file, NULL};
    long n = -1;
    if (dm_lab_run(argv, tmp) == 0) {
        size_t len = 0;
        char *text = dm_lab_read_file(tmp, &len);
        const char *line = text ? strstr(text, mark) : NULL;
        if (line)
            n = strtol(line + strlen(mark), NULL, 10);
        free(text);
    }
    remove(tmp);
    return n;
}

long dm_lab_cmd_monitor(const char *self, const char *dir, const char *name,
                        const char (*ids)[2 * DM_FILE_ID_LEN + 1], size_t n) {
    char pub[4096], logs[4096], out[4096];
    snprintf(pub, sizeof pub, "%s/%s/authority.pub", dir, name);
    snprintf(logs, sizeof logs, "%s/%s/logs", dir, name);
    snprintf(out, sizeof out, "%s/monitor-%s.txt", dir, name);
    char *argv[] = {(char *)self, "escrow", "monitor", "--authority", pub, "--logs", logs, NULL};
    if (dm_lab_run(argv, out) != 0)
        return -1;
    size_t len = 0;
    char *text = dm_lab_read_file(out, &len);
    if (!text)
        return -1;
    long seen = 0;
    for (size_t i = 0; i < n; i++)
        seen += strstr(text, ids[i]) != NULL;
    free(text);
    return seen;
}

void dm_lab_cmd_leaf(const char *self, const char *dir, unsigned bits, int *decrypt_exit,
                     int *recover_exit) {
    char key[4096], pub[4096], court[4096], agent[4096], log[4096], forged[4096], warrant[4096],
        share[4096];
    snprintf(key, sizeof key, "%s/user.key", dir);
    snprintf(pub, sizeof pub, "%s/authority/authority.pub", dir);
    snprintf(court, sizeof court, "%s/authority/court.key", dir);
    snprintf(agent, sizeof agent, "%s/authority/agents/master.key", dir);
    snprintf(log, sizeof log, "%s/authority/logs/master", dir);
    snprintf(forged, sizeof forged, "%s/forged-leaf-%u.age", dir, bits);
    snprintf(warrant, sizeof warrant, "%s/warrant.txt", dir);
    snprintf(share, sizeof share, "%s/master.share", dir);
    char *war[] = {(char *)self,  "escrow", "warrant", "--court",    court,
                   "--authority", pub,      "--case",  "leaf-forge", "--expires",
                   "2999-12-31",  "-o",     warrant,   forged,       NULL};
    char *unw[] = {(char *)self, "escrow", "unwrap",    "--authority", pub,
                   "--agent",    agent,    "--warrant", warrant,       "--log",
                   log,          "-o",     share,       forged,        NULL};
    char *rec[] = {(char *)self, "escrow", "recover",   "--authority", pub, "--share",
                   share,        "-o",     "/dev/null", forged,        NULL};
    *decrypt_exit = dm_lab_cmd_decrypt(self, key, pub, bits, forged, NULL, NULL);
    *recover_exit = -1;
    if (dm_lab_run(war, NULL) == 0 && dm_lab_run(unw, NULL) == 0)
        *recover_exit = dm_lab_run(rec, NULL);
}

int dm_lab_cmd_rekey_escrow(const char *self, const char *key, const char *recipient,
                            const char *authority, const char *in, const char *out) {
    char *argv[] = {(char *)self, "rekey",           "-i",       (char *)key,
                    "-r",         (char *)recipient, "--escrow", (char *)authority,
                    "-o",         (char *)out,       (char *)in, NULL};
    return dm_lab_run(argv, NULL);
}
