/* The in-process benchmark engine behind `doormat bench`: times whole
 * dm_encrypt and dm_decrypt calls from memory to a sink, with warm-up runs
 * first, and the escrow's fixed cost per file. It measures and returns
 * numbers; the command parses flags and prints them (cli/bench.c). Not part
 * of the installed library.
 */
#ifndef DOORMAT_BENCH_ENGINE_H
#define DOORMAT_BENCH_ENGINE_H

#include <stddef.h>

#include "doormat/vault.h"

typedef enum dm_bench_mode {
    DM_BENCH_VAULT,       /* one X25519 recipient */
    DM_BENCH_PASSPHRASE,  /* scrypt, work factor 2^18 */
    DM_BENCH_ESCROW_1OF1, /* X25519 plus a one-agent authority */
    DM_BENCH_ESCROW_2OF3, /* X25519 plus a 2-of-3 authority */
    DM_BENCH_N_MODES
} dm_bench_mode;
/* "vault", "vault-passphrase", "escrow-1of1", "escrow-2of3" */
extern const char *const dm_bench_mode_names[DM_BENCH_N_MODES];

typedef enum dm_bench_op {
    DM_BENCH_ENCRYPT,
    DM_BENCH_DECRYPT,
    DM_BENCH_DECRYPT_COMPLIANT, /* escrow modes: with the compliant client's check */
    DM_BENCH_N_OPS
} dm_bench_op;
extern const char *const dm_bench_op_names[DM_BENCH_N_OPS];

typedef enum dm_bench_sink {
    DM_BENCH_SINK_NULL,
    DM_BENCH_SINK_MEMORY, /* a preallocated buffer */
    DM_BENCH_SINK_DEVNULL /* write(2) to /dev/null */
} dm_bench_sink;
#define DM_BENCH_N_SINKS 3
extern const char *const dm_bench_sink_names[DM_BENCH_N_SINKS];

#define DM_BENCH_MAX_SIZES 32
/* Timed runs behind each fixed-cost figure. */
#define DM_BENCH_FIXED_COST_REPS 400u

/* Called before each timed run of a slow figure (1 MiB and up, or scrypt):
 * step of steps figures, run rep of reps. */
typedef void (*dm_bench_progress_fn)(void *ctx, dm_bench_mode m, dm_bench_op o, size_t size,
                                     size_t step, size_t steps, unsigned rep, unsigned reps);

typedef struct dm_bench_settings {
    size_t sizes[DM_BENCH_MAX_SIZES];
    size_t n_sizes;
    int modes[DM_BENCH_N_MODES]; /* non-zero: measured */
    unsigned reps;               /* sizes under 1 MiB get at least 100, except scrypt */
    unsigned warmup;             /* none for scrypt */
    unsigned threads;            /* 0: one per online CPU */
    dm_aead_backend backend;
    dm_bench_sink sink;
    dm_bench_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} dm_bench_settings;

/* Seconds per run of one (mode, op, size). */
typedef struct dm_bench_result {
    dm_bench_mode m;
    dm_bench_op o;
    size_t size;
    unsigned reps;
    double median, min, max;
} dm_bench_result;

/* Microseconds per file: the escrow recipient's wrap, the extra decrypt time
 * of an escrowed 1 KiB file, the compliant check alone. */
typedef struct dm_bench_fixed_cost {
    dm_bench_mode m;
    double encrypt_us, decrypt_us, check_us;
} dm_bench_fixed_cost;

typedef struct dm_bench_results {
    dm_bench_result *items;
    size_t len, cap;
    dm_bench_fixed_cost fixed[DM_BENCH_N_MODES];
    int have_fixed[DM_BENCH_N_MODES];
} dm_bench_results;

int dm_bench_is_escrow(dm_bench_mode m);

/* Every figure the settings ask for, in order: for each size and mode,
 * encrypt then the decrypt ops; then the fixed costs of the escrow modes.
 * Free res with dm_bench_results_free, also after a failure. */
int dm_bench_run(const dm_bench_settings *set, dm_bench_results *res);
const dm_bench_result *dm_bench_results_find(const dm_bench_results *res, dm_bench_mode m,
                                             dm_bench_op o, size_t size);
void dm_bench_results_free(dm_bench_results *res);

/* What the figures were measured on. */
typedef struct dm_bench_machine {
    long cpus;
    char cpu_model[128];
    char kernel[160];
} dm_bench_machine;
void dm_bench_machine_facts(dm_bench_machine *mc);
/* The payload threads the run used (settings' threads, or the online CPUs). */
unsigned dm_bench_threads(const dm_bench_settings *set, const dm_bench_machine *mc);

#endif
