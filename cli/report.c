/* doormat report: the policy briefing. The measuring is done by this same
 * binary (doormat bench, doormat lab); the assembly (charts, HTML, Markdown)
 * is demo/report.sh, a jq and gnuplot script. This file checks the arguments,
 * finds the script next to the binary (source tree or installed tree) and
 * hands over to it, so that the exit code and the progress line are the
 * script's own. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char report_usage[] =
    "Usage:\n"
    "  doormat report [--quick] -o DIR\n"
    "  doormat report --from OLD -o DIR\n"
    "\n"
    "Writes a policy briefing on exceptional access from fresh measurements:\n"
    "runs the benchmark (doormat bench) and the labs (doormat lab) on this machine,\n"
    "each 5 times, then writes\n"
    "  DIR/briefing.pdf   the briefing on A4, with a running header and page\n"
    "                     numbers, printed by chromium (when installed)\n"
    "  DIR/briefing.html  one self-contained page: inline charts, no external\n"
    "                     requests; open it in any web browser\n"
    "  DIR/briefing.md    the same content in Markdown (charts in DIR/charts/)\n"
    "  DIR/data/figures.json  the one source of every number: the median of\n"
    "                     the runs, their range and quartiles\n"
    "  DIR/data/runs/     each run's raw measurements\n"
    "  DIR/charts/        the charts (SVG), with the gnuplot program and data\n"
    "DIR is created if needed; earlier briefing files in it are replaced. A figure\n"
    "that could not be measured says \"not measured\"; nothing is made up.\n"
    "On a terminal a progress line shows on standard error while measuring.\n"
    "\n"
    "Options:\n"
    "  -o, --output DIR  write the briefing into DIR (required)\n"
    "      --quick       classroom speed (the cover says so): small files, fast\n"
    "                    lab settings, still 5 runs per figure; without it, the\n"
    "                    full measurements for publication figures\n"
    "      --from OLD    measure nothing: draw the briefing again from the raw\n"
    "                    measurements kept in OLD/data (an earlier report's DIR)\n"
    "  -h, --help        this text\n"
    "\n"
    "Needs jq and gnuplot (Debian: jq, gnuplot-nox); make report-deps installs them\n"
    "with chromium and python3. The PDF is printed by headless Chromium (no\n"
    "network, a fresh profile) through python3; set DOORMAT_CHROMIUM to use another\n"
    "binary. Without them there is no PDF, and one line on standard error says so.\n"
    "Set DOORMAT_REPORT_REPS (1 to 99) to run each measurement that many times.\n"
    "Set DOORMAT_REPORT_SCRIPT to use another assembly script than the one\n"
    "installed with doormat (share/doormat/report.sh, or demo/report.sh in the\n"
    "source tree).\n"
    "\n"
    "Examples:\n"
    "  doormat report --quick -o briefing      # then open briefing/briefing.html\n"
    "  doormat report -o publication\n"
    "\n"
    "Exit codes (report): 0 the briefing was written (a figure that this build\n"
    "cannot measure is marked \"not measured\" and named on standard error);\n"
    "1 a measurement failed, a tool is missing, or DIR could not be written;\n"
    "2 bad arguments.\n";

enum { OPT_QUICK = 256, OPT_FROM };

static const struct option report_longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"from", required_argument, NULL, OPT_FROM},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int is_regular(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The assembly script: $DOORMAT_REPORT_SCRIPT, else next to the binary in the
 * source tree (BUILD/doormat -> demo/report.sh) or the installed tree
 * (PREFIX/bin/doormat -> PREFIX/share/doormat/report.sh). */
static int find_script(const char *exe, char *out, size_t cap) {
    const char *env = getenv("DOORMAT_REPORT_SCRIPT");
    if (env != NULL && env[0] != '\0') {
        if (!is_regular(env)) {
            cli_msg("report: DOORMAT_REPORT_SCRIPT=%s is not a file", env);
            return -1;
        }
        return snprintf(out, cap, "%s", env) < (int)cap ? 0 : -1;
    }
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", exe) >= (int)sizeof dir)
        return -1;
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    static const char *const rel[] = {"../demo/report.sh", "../share/doormat/report.sh"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        if (snprintf(out, cap, "%s/%s", dir, rel[i]) >= (int)cap)
            continue;
        if (is_regular(out))
            return 0;
    }
    cli_msg("report: the assembly script report.sh is missing (looked in %s/../demo and "
            "%s/../share/doormat; reinstall doormat)",
            dir, dir);
    return -1;
}

int cmd_report(int argc, char **argv) {
    const char *out_dir = NULL, *from = NULL;
    int quick = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", report_longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (out_dir != NULL)
                return cli_usage_error("report: -o given twice");
            out_dir = optarg;
            break;
        case OPT_QUICK:
            quick = 1;
            break;
        case OPT_FROM:
            if (from != NULL)
                return cli_usage_error("report: --from given twice");
            from = optarg;
            break;
        case 'h':
            return cli_help(report_usage);
        default:
            return cli_bad_option("report", argv, c);
        }
    }
    if (optind < argc)
        return cli_usage_error("report: unexpected argument \"%s\" (see doormat report --help)",
                               argv[optind]);
    if (out_dir == NULL || out_dir[0] == '\0')
        return cli_usage_error("report: missing -o DIR (see doormat report --help)");
    if (from != NULL && quick)
        return cli_usage_error("report: --from measures nothing, so --quick does not apply");
    if (from != NULL && !is_dir(from))
        return cli_usage_error("report: --from %s: not a directory", from);
    struct stat st;
    if (stat(out_dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return cli_usage_error("report: -o %s: exists and is not a directory", out_dir);

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        cli_msg("report: cannot find the doormat binary (/proc/self/exe): %s", strerror(errno));
        return DM_EXIT_FAILURE;
    }
    exe[n] = '\0';
    char script[PATH_MAX];
    if (find_script(exe, script, sizeof script) != 0)
        return DM_EXIT_FAILURE;

    char *args[10];
    int k = 0;
    args[k++] = (char *)"bash";
    args[k++] = script;
    args[k++] = (char *)"--doormat";
    args[k++] = exe;
    args[k++] = (char *)"-o";
    args[k++] = (char *)out_dir;
    if (quick)
        args[k++] = (char *)"--quick";
    if (from != NULL) {
        args[k++] = (char *)"--from";
        args[k++] = (char *)from;
    }
    args[k] = NULL;
    fflush(NULL);
    execvp("bash", args);
    cli_msg("report: cannot run bash: %s", strerror(errno));
    return DM_EXIT_FAILURE;
}
