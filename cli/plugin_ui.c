/* What plugins see of the user, as age shows it: their messages on standard
 * error ("doormat: NAME plugin: ..."), their questions on the terminal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A prompt and a line typed for it: a bounded number of tries at a choice. */
#define CONFIRM_TRIES 5
#define MAX_TIMEOUT_S 86400L

static int ui_message(void *ctx, const char *name, const char *text) {
    (void)ctx;
    cli_msg("%s plugin: %s", name, text);
    return DM_OK;
}

static int ui_request(void *ctx, const char *name, const char *prompt, int secret, char **value,
                      size_t *value_len) {
    (void)ctx;
    (void)name;
    char line[2100];
    snprintf(line, sizeof line, "%s ", prompt);
    return cli_read_tty_value(line, !secret, value, value_len);
}

static int ui_confirm(void *ctx, const char *name, const char *prompt, const char *yes,
                      const char *no, int *chose_yes) {
    (void)ctx;
    (void)name;
    char line[4200];
    if (no == NULL)
        snprintf(line, sizeof line, "%s (press enter for \"%s\") ", prompt, yes);
    else
        snprintf(line, sizeof line, "%s (type 1 for \"%s\" or 2 for \"%s\", then enter) ", prompt,
                 yes, no);
    for (int i = 0; i < CONFIRM_TRIES; i++) {
        char *answer = NULL;
        size_t len = 0;
        int err = cli_read_tty_value(line, 1, &answer, &len);
        if (err != DM_OK)
            return err;
        int one = len == 1 && answer[0] == '1', two = len == 1 && answer[0] == '2';
        dm_secret_free(answer);
        if (no == NULL || one || two) {
            *chose_yes = no == NULL || one;
            return DM_OK;
        }
    }
    return DM_ERR_USAGE;
}

static int plugin_host(dm_plugin_host *host) {
    memset(host, 0, sizeof *host);
    host->message = ui_message;
    host->request = ui_request;
    host->confirm = ui_confirm;
    const char *env = getenv("DOORMAT_PLUGIN_TIMEOUT");
    if (env == NULL || env[0] == '\0')
        return DM_EXIT_OK;
    char *end = NULL;
    errno = 0;
    long s = strtol(env, &end, 10);
    if (env[0] < '0' || env[0] > '9' || errno != 0 || *end != '\0' || s > MAX_TIMEOUT_S)
        return cli_usage_error("DOORMAT_PLUGIN_TIMEOUT wants a number of seconds from 0 (no "
                               "limit) to %ld, not \"%s\"",
                               MAX_TIMEOUT_S, env);
    host->timeout_ms = s == 0 ? -1 : (int)(s * 1000);
    return DM_EXIT_OK;
}

int cli_plugin_attach(dm_recipient *const *rcpts, size_t n_rcpts, dm_identity *const *ids,
                      size_t n_ids) {
    int any = 0;
    for (size_t i = 0; i < n_rcpts; i++)
        any |= dm_plugin_recipient_name(rcpts[i]) != NULL;
    for (size_t i = 0; i < n_ids; i++)
        any |= dm_plugin_identity_name(ids[i]) != NULL;
    if (!any)
        return DM_EXIT_OK;
    dm_plugin_host host;
    int rc = plugin_host(&host);
    if (rc != DM_EXIT_OK)
        return rc;
    dm_plugin_recipients_set_host(rcpts, n_rcpts, &host);
    dm_plugin_identities_set_host(ids, n_ids, &host);
    return DM_EXIT_OK;
}
