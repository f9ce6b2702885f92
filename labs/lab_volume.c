/* volume: is capacity a brake on exceptional access? The FBI's count:
 * Director Wray cited nearly 7,800 locked devices in 2017; the Washington
 * Post reported on 22 May 2018 that the real number was probably 1,200 to
 * 2,000. The command measures an agent service's release rate on loopback;
 * this file turns the latencies into the rate, percentiles and the time the
 * service needs for each yearly volume. */
#include <stdlib.h>
#include <string.h>

#include "lab_internal.h"

static const struct {
    const char *label;
    double per_year;
    bool cited;
} volumes[DM_LAB_VOLUME_ROWS] = {
    {"actual 2017, low (Washington Post)", 1200, true},
    {"actual 2017, high (Washington Post)", 2000, true},
    {"claimed for 2017 (Director Wray)", 7800, true},
    {"hypothetical: 100,000 a year", 1e5, false},
    {"hypothetical: 1 million a year", 1e6, false},
    {"hypothetical: 100 million a year", 1e8, false},
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p% of them at or below. */
static double rank(const double *sorted, size_t n, double p) {
    size_t k = (size_t)((p / 100.0) * (double)n + 0.999999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return sorted[k - 1];
}

int dm_lab_volume_compute(const double *latency, size_t n, double seconds, dm_lab_volume_stats *s) {
    memset(s, 0, sizeof *s);
    if (n < 1 || !(seconds > 0))
        return dm_fail(DM_ERR_USAGE, "volume needs at least one timed request");
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return dm_fail(DM_ERR_NOMEM, "out of memory");
    memcpy(sorted, latency, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    s->requests = n;
    s->seconds = seconds;
    s->releases_per_second = (double)n / seconds;
    s->min_ms = sorted[0] * 1000;
    s->p50_ms = rank(sorted, n, 50) * 1000;
    s->p90_ms = rank(sorted, n, 90) * 1000;
    s->p99_ms = rank(sorted, n, 99) * 1000;
    s->max_ms = sorted[n - 1] * 1000;
    free(sorted);
    const double year = 365.25 * 86400;
    for (int i = 0; i < DM_LAB_VOLUME_ROWS; i++) {
        dm_lab_volume_row *w = &s->rows[i];
        w->label = volumes[i].label;
        w->per_year = volumes[i].per_year;
        w->cited = volumes[i].cited;
        w->service_seconds = w->per_year / s->releases_per_second;
        w->share_of_year = w->service_seconds / year;
    }
    return DM_OK;
}
