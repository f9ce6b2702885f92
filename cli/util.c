/* Small helpers every command group shares (cli.h, "util.c"). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

time_t cli_now(void) {
    return time(NULL);
}

int cli_parse_ulong(const char *arg, unsigned long lo, unsigned long hi, unsigned long *out) {
    if (arg[0] < '0' || arg[0] > '9')
        return DM_ERR_USAGE; /* no sign, no space: strtoul would take both */
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return DM_ERR_USAGE;
    *out = v;
    return DM_OK;
}
