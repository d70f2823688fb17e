/* The settings of a chase step under Slurm: the user's --chase-* options (srun, sbatch, salloc) and the site's
 * plugstack.conf arguments, one table for both, each value checked where it enters.
 *
 * Shared by the SPANK plugin and its helper process (chase-slurm-step): the plugin checks a value when srun or
 * slurmstepd hands it over, the helper checks it again when it reads its own command line. The plugin is loaded by
 * srun, sbatch, salloc, slurmd and slurmstepd, so this file needs nothing of libchase but its time and error
 * helpers: the deep checks (does the policy exist, does the signal open) happen in the helper, before any task of
 * the step starts. */
#ifndef CHASE_SLURM_SETTINGS_H
#define CHASE_SLURM_SETTINGS_H

#include <stddef.h>

/* Every setting. The first CHASE_SLURM_N_USER are the user's (--chase-NAME on srun); some of them the site may
 * default (signal=, policy=, ...); the rest are the site's alone (plugstack.conf). */
typedef enum chase_slurm_key {
    CHASE_SLURM_ENABLE = 0, /* --chase */
    CHASE_SLURM_POLICY,
    CHASE_SLURM_BUDGET,
    CHASE_SLURM_SIGNAL,
    CHASE_SLURM_PERIOD,
    CHASE_SLURM_FORECASTER,
    CHASE_SLURM_ETA,
    CHASE_SLURM_TOTAL_STEPS,
    CHASE_SLURM_PROFILE_FILE,
    CHASE_SLURM_REPORT,
    CHASE_SLURM_WARMUP_STEPS,
    CHASE_SLURM_PROFILE_STEPS,
    CHASE_SLURM_PL_STEP,
    CHASE_SLURM_PROGRESS_TIMEOUT,
    CHASE_SLURM_DRY_RUN,
    CHASE_SLURM_N_USER,
    CHASE_SLURM_MAX_BUDGET = CHASE_SLURM_N_USER, /* the largest --chase-budget a user may ask for */
    CHASE_SLURM_MIN_PERIOD,                      /* the shortest --chase-period */
    CHASE_SLURM_AGENT,         /* the node agent's socket: drive the GPUs through chased, as the job's user */
    CHASE_SLURM_NVML_LIBRARY,  /* CHASE_NVML_LIBRARY for the helper */
    CHASE_SLURM_MUNGE_SOCKET,  /* munged's socket (default: libmunge's) */
    CHASE_SLURM_JOURNAL_DIR,   /* where original limits are journaled (default: chase's, /run/chase) */
    CHASE_SLURM_RUNDIR,        /* where the progress sockets and staged files live (default /run/chase/slurm) */
    CHASE_SLURM_CACHE,         /* the carbon signals' cache (default /var/cache/chase/cache.sqlite) */
    CHASE_SLURM_HELPER,        /* the helper's path (default: the installed one) */
    CHASE_SLURM_PORTS,         /* TCP ports the leader may listen on, LO-HI */
    CHASE_SLURM_START_TIMEOUT, /* how long the step waits for the helper before refusing it */
    CHASE_SLURM_STOP_TIMEOUT,  /* how long the step's end waits for the helper to put the GPUs back */
    CHASE_SLURM_N
} chase_slurm_key_t;

/* Who may give a setting. */
enum { CHASE_SLURM_BY_USER = 1, CHASE_SLURM_BY_SITE = 2 };

typedef enum chase_slurm_kind {
    CHASE_SLURM_FLAG,      /* no value */
    CHASE_SLURM_TEXT,      /* a spec or a name: printable, no blanks */
    CHASE_SLURM_NUMBER,    /* a finite number in [lo, hi] */
    CHASE_SLURM_INT,       /* a whole number in [lo, hi] */
    CHASE_SLURM_DURATION,  /* 30s, 5m, 1h, 2d, in [lo, hi] seconds */
    CHASE_SLURM_PATH,      /* a file name (absolute when the site gives it) */
    CHASE_SLURM_PORTS_KIND /* LO-HI */
} chase_slurm_kind_t;

typedef struct chase_slurm_def {
    const char *user_name; /* "chase-budget" (NULL: not a user option) */
    const char *site_name; /* "budget" (NULL: not a site argument) */
    const char *arginfo;   /* one word for --help: "PCT" */
    const char *usage;
    chase_slurm_kind_t kind;
    double lo, hi;
} chase_slurm_def_t;

/* The definition of key k. */
const chase_slurm_def_t *chase_slurm_def(chase_slurm_key_t k);

/* Values by key; NULL: not given. A flag's value is "1". Owned (strdup'ed). */
typedef struct chase_slurm_settings {
    char *v[CHASE_SLURM_N];
} chase_slurm_settings_t;

/* Checks value for key k as given by who (CHASE_SLURM_BY_USER or _SITE); 0, or -1 with why filled ("--chase-budget:
 * '500' is not a number from 0 to 100"). */
int chase_slurm_check(chase_slurm_key_t k, int who, const char *value, char *why, size_t why_size);

/* Sets key k to value (NULL for a flag) after checking it; 0, or -1 with why filled. */
int chase_slurm_set(chase_slurm_settings_t *s, chase_slurm_key_t k, int who, const char *value, char *why,
                    size_t why_size);

/* Parses plugstack.conf arguments ("signal=static:400", ...) into site; unknown names, missing values and bad values
 * are errors (-1, why filled). */
int chase_slurm_site_parse(int argc, char *const *argv, chase_slurm_settings_t *site, char *why, size_t why_size);

/* The user's key whose option name is name ("chase-budget"), or -1. */
int chase_slurm_user_key(const char *name);

/* The user's settings over the site's defaults, checked against the site's bounds (max_budget, min_period) and for
 * what the step needs (a signal): 0, or -1 with why filled. out gets copies. */
int chase_slurm_merge(const chase_slurm_settings_t *site, const chase_slurm_settings_t *user,
                      chase_slurm_settings_t *out, char *why, size_t why_size);

/* Frees the values (s stays usable, all unset). */
void chase_slurm_settings_clear(chase_slurm_settings_t *s);

/* A duration setting in seconds; NAN when unset. */
double chase_slurm_seconds(const chase_slurm_settings_t *s, chase_slurm_key_t k);

/* A number setting; NAN when unset. */
double chase_slurm_number(const chase_slurm_settings_t *s, chase_slurm_key_t k);

/* The ports setting as [*lo, *hi]; the defaults when unset. */
void chase_slurm_ports(const chase_slurm_settings_t *s, int *lo, int *hi);

#define CHASE_SLURM_DEFAULT_PORTS "7816-7831"
#define CHASE_SLURM_DEFAULT_RUNDIR "/run/chase/slurm"
#define CHASE_SLURM_DEFAULT_CACHE "/var/cache/chase/cache.sqlite"
#define CHASE_SLURM_DEFAULT_START_TIMEOUT_S 60
#define CHASE_SLURM_DEFAULT_STOP_TIMEOUT_S 30

#endif
