/* The GPU group and the journal: originals are kept and put back on every path, a set that fails part-way undoes
 * itself, a dead run's changes are undone before a new run reads the GPUs, and the job's GPUs follow
 * CUDA_VISIBLE_DEVICES. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chase/gpu_group.h"
#include "chase/journal.h"
#include "check.h"

#define N 3

/* A backend of N GPUs in memory, with failures to order. */
typedef struct bench {
    double value[N];
    char name[N][32];
    int sets[N];          /* successful sets per GPU */
    int refuse_from[N];   /* sets on GPU i fail once it took this many (-1: never) */
    int refuse_code;
    int energy_calls;
} bench_t;

static int b_count(void *self, int *n, chase_err_t *err)
{
    (void)self;
    (void)err;
    *n = N;
    return CHASE_OK;
}

static int b_info(void *self, int i, chase_gpu_info_t *out, chase_err_t *err)
{
    bench_t *b = self;
    (void)err;
    memset(out, 0, sizeof *out);
    out->index = i;
    snprintf(out->name, sizeof out->name, "%s", b->name[i]);
    snprintf(out->uuid, sizeof out->uuid, "GPU-0000000%d-aaaa-bbbb-cccc-dddddddddddd", i);
    out->pl_w = b->value[i];
    return CHASE_OK;
}

static int b_get(void *self, int i, chase_knob_t k, chase_setting_range_t *out, chase_err_t *err)
{
    bench_t *b = self;
    (void)k;
    (void)err;
    *out = (chase_setting_range_t){b->value[i], 300, 100, 300};
    return CHASE_OK;
}

static int b_set(void *self, int i, const chase_setting_t *s, chase_err_t *err)
{
    bench_t *b = self;
    if (b->refuse_from[i] >= 0 && b->sets[i] >= b->refuse_from[i])
        return chase_err_set(err, b->refuse_code, "refused on purpose");
    b->value[i] = s->value;
    b->sets[i]++;
    return CHASE_OK;
}

static int b_energy(void *self, int i, double *j, chase_err_t *err)
{
    bench_t *b = self;
    (void)err;
    b->energy_calls++;
    *j = 1000.0 * (i + 1) + b->energy_calls;
    return CHASE_OK;
}

static const chase_gpu_ops_t bench_ops = {"bench", b_count, b_info, b_get, b_set, b_energy, NULL};

static void bench_init(bench_t *b)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < N; i++) {
        b->value[i] = 275;
        b->refuse_from[i] = -1;
        snprintf(b->name[i], sizeof b->name[i], "NVIDIA A40");
    }
    b->refuse_code = CHASE_EGPU;
}

typedef struct said {
    int n;
    char last[700];
} said_t;

static void on_warning(void *arg, const char *msg)
{
    said_t *s = arg;
    s->n++;
    snprintf(s->last, sizeof s->last, "%s", msg);
}

static char journal[256];

static chase_gpu_group_t *open_group(chase_gpu_t *g, said_t *said, int observe_only, const char *jdir)
{
    chase_gpu_group_opts_t o = {.observe_only = observe_only, .journal_dir = jdir, .on_warning = on_warning,
                                .warning_arg = said};
    chase_gpu_group_t *grp = NULL;
    chase_err_t err;
    int rc = chase_gpu_group_open(g, &o, &grp, &err);
    if (rc != CHASE_OK)
        fprintf(stderr, "  open: %s\n", err.msg);
    return grp;
}

static void test_apply_restore(void)
{
    bench_t b;
    bench_init(&b);
    chase_gpu_t g = {&bench_ops, &b};
    said_t said = {0};
    chase_gpu_group_t *grp = open_group(&g, &said, 0, journal);
    CHECK(grp != NULL);
    if (!grp)
        return;
    CHECK(chase_gpu_group_size(grp) == N);
    CHECK(chase_gpu_group_original(grp, 1) == 275);
    CHECK(chase_gpu_group_apply(grp, 150, NULL) == CHASE_OK);
    CHECK(b.value[0] == 150 && b.value[1] == 150 && b.value[2] == 150);
    CHECK(!chase_gpu_group_restored(grp, 0));
    chase_journal_entry_t e;
    CHECK(chase_journal_read(journal, "GPU-00000001-aaaa-bbbb-cccc-dddddddddddd", &e, NULL) == CHASE_OK);
    CHECK(e.original.value == 275 && e.pid == getpid());
    CHECK(chase_gpu_group_apply(grp, 150, NULL) == CHASE_OK);
    CHECK(b.sets[0] == 1); /* no set for a value in force */
    double j;
    CHECK(chase_gpu_group_energy(grp, &j, NULL) == CHASE_OK && j > 0);
    CHECK(chase_gpu_group_restore(grp, NULL) == CHASE_OK);
    CHECK(b.value[0] == 275 && b.value[1] == 275 && b.value[2] == 275);
    CHECK(chase_gpu_group_restored(grp, 2));
    CHECK(chase_journal_read(journal, "GPU-00000001-aaaa-bbbb-cccc-dddddddddddd", &e, NULL) == CHASE_ENODATA);
    CHECK(said.n == 0);
    chase_gpu_group_free(grp);
}

static void test_partial_failure_undoes(void)
{
    bench_t b;
    bench_init(&b);
    b.refuse_from[2] = 0; /* the last GPU refuses once the first two took the new value */
    b.refuse_code = CHASE_EPERM;
    chase_gpu_t g = {&bench_ops, &b};
    said_t said = {0};
    chase_gpu_group_t *grp = open_group(&g, &said, 0, journal);
    chase_err_t err;
    CHECK(chase_gpu_group_apply(grp, 150, &err) == CHASE_EPERM);
    CHECK(strstr(err.msg, "GPU 2") && strstr(err.msg, "put back"));
    CHECK(b.value[0] == 275 && b.value[1] == 275 && b.value[2] == 275);
    CHECK(!chase_gpu_group_observe_only(grp)); /* a refusal after a change is a failure, not observe-only */
    size_t n = 0;
    chase_journal_entry_t list[8];
    CHECK(chase_journal_list(journal, list, 8, &n, NULL) == CHASE_OK && n == 0);
    chase_gpu_group_free(grp);
}

static void test_no_permission_is_observe_only(void)
{
    bench_t b;
    bench_init(&b);
    b.refuse_from[0] = 0;
    b.refuse_code = CHASE_EPERM;
    chase_gpu_t g = {&bench_ops, &b};
    said_t said = {0};
    chase_gpu_group_t *grp = open_group(&g, &said, 0, journal);
    CHECK(chase_gpu_group_apply(grp, 150, NULL) == CHASE_OK);
    CHECK(chase_gpu_group_observe_only(grp));
    CHECK(said.n == 1 && strstr(said.last, "observe-only"));
    CHECK(chase_gpu_group_apply(grp, 200, NULL) == CHASE_OK);
    CHECK(said.n == 1); /* said once */
    CHECK(b.value[1] == 275 && b.sets[1] == 0);
    CHECK(chase_gpu_group_in_force(grp) == 275);
    chase_gpu_group_free(grp);
}

static void test_restore_failure_named(void)
{
    bench_t b;
    bench_init(&b);
    b.refuse_from[1] = 1; /* GPU 1 takes one set, then refuses every one: it cannot be put back */
    chase_gpu_t g = {&bench_ops, &b};
    said_t said = {0};
    chase_gpu_group_t *grp = open_group(&g, &said, 0, journal);
    CHECK(chase_gpu_group_apply(grp, 150, NULL) == CHASE_OK);
    chase_err_t err;
    CHECK(chase_gpu_group_restore(grp, &err) == CHASE_EGPU);
    CHECK(strstr(err.msg, "GPU 1") && strstr(err.msg, "not put back to 275 W"));
    CHECK(!strstr(err.msg, "GPU 0") && !strstr(err.msg, "GPU 2"));
    CHECK(chase_gpu_group_restored(grp, 0) && !chase_gpu_group_restored(grp, 1) && chase_gpu_group_restored(grp, 2));
    chase_journal_entry_t e;
    CHECK(chase_journal_read(journal, "GPU-00000001-aaaa-bbbb-cccc-dddddddddddd", &e, NULL) == CHASE_OK);
    /* chase restore finishes the job once the GPU answers again. */
    b.refuse_from[1] = -1;
    chase_journal_result_t res[8];
    size_t n = 0;
    CHECK(chase_journal_restore(&g, journal, 0, res, 8, &n, NULL) == CHASE_OK);
    CHECK(n == 1 && res[0].outcome == CHASE_JOURNAL_OWNER_ALIVE); /* this process still runs: left alone */
    chase_gpu_group_free(grp);
    CHECK(b.value[1] == 275); /* free tries again */
}

/* A child process that journals GPU 0 at 150 W and dies without restoring it: a run killed with SIGKILL. */
static void dead_run_leaves(bench_t *b)
{
    pid_t pid = fork();
    if (pid == 0) {
        chase_gpu_t g = {&bench_ops, b};
        chase_gpu_group_opts_t o = {.journal_dir = journal};
        chase_gpu_group_t *grp = NULL;
        if (chase_gpu_group_open(&g, &o, &grp, NULL) != CHASE_OK || chase_gpu_group_apply(grp, 150, NULL))
            _exit(1);
        kill(getpid(), SIGKILL);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    for (int i = 0; i < N; i++)
        b->value[i] = 150; /* what the dead run left on the GPUs (its memory was its own) */
}

static void test_dead_run_undone(void)
{
    bench_t b;
    bench_init(&b);
    dead_run_leaves(&b);
    chase_gpu_t g = {&bench_ops, &b};
    said_t said = {0};
    chase_gpu_group_t *grp = open_group(&g, &said, 0, journal);
    CHECK(grp != NULL);
    if (!grp)
        return;
    CHECK(b.value[0] == 275 && b.value[2] == 275);     /* put back before reading */
    CHECK(chase_gpu_group_original(grp, 0) == 275); /* and never taken for the GPU's own */
    CHECK(said.n == N && strstr(said.last, "died without putting it back"));
    size_t n = 0;
    chase_journal_entry_t list[8];
    CHECK(chase_journal_list(journal, list, 8, &n, NULL) == CHASE_OK && n == 0);
    chase_gpu_group_free(grp);

    /* Observed only (no right to set): the dead run's original is still the one recorded, not 150 W. */
    bench_init(&b);
    dead_run_leaves(&b);
    grp = open_group(&g, &said, 1, journal);
    CHECK(grp && chase_gpu_group_original(grp, 0) == 275 && b.value[0] == 150);
    chase_gpu_group_free(grp);
    chase_journal_result_t res[8];
    CHECK(chase_journal_restore(&g, journal, 1, res, 8, &n, NULL) == CHASE_OK && n == N);
    CHECK(res[0].outcome == CHASE_JOURNAL_LISTED && b.value[0] == 150);
    CHECK(chase_journal_restore(&g, journal, 0, res, 8, &n, NULL) == CHASE_OK && n == N);
    CHECK(res[0].outcome == CHASE_JOURNAL_RESTORED && b.value[0] == 275 && b.value[1] == 275);
}

static void test_live_owner_refused(void)
{
    bench_t b;
    bench_init(&b);
    chase_gpu_t g = {&bench_ops, &b};
    said_t said = {0};
    chase_gpu_group_t *first = open_group(&g, &said, 0, journal);
    CHECK(chase_gpu_group_apply(first, 150, NULL) == CHASE_OK);
    /* A second group of this process sees the journal of a live owner. */
    chase_gpu_group_opts_t o = {.journal_dir = journal};
    chase_gpu_group_t *second = NULL;
    chase_err_t err;
    CHECK(chase_gpu_group_open(&g, &o, &second, &err) == CHASE_ESTATE);
    CHECK(strstr(err.msg, "driven by another chase process") != NULL);
    o.observe_only = 1; /* watching changes nothing: allowed */
    CHECK(chase_gpu_group_open(&g, &o, &second, &err) == CHASE_OK);
    chase_gpu_group_free(second);
    chase_gpu_group_free(first);
    CHECK(b.value[0] == 275);
}

static void test_journal_bad_entries(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/gpu-broken.json", journal);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{\"version\": 1, \"key\": \"broken\", \"original\": \"lots\"}", f);
        fclose(f);
    }
    chase_journal_entry_t e;
    chase_err_t err;
    CHECK(chase_journal_read(journal, "broken", &e, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "gpu-broken.json") != NULL);
    size_t n = 0;
    chase_journal_entry_t list[4];
    CHECK(chase_journal_list(journal, list, 4, &n, NULL) == CHASE_OK && n == 0); /* skipped, not fatal */
    unlink(path);
    struct stat st;
    CHECK(stat(journal, &st) == 0 && (st.st_mode & 0777) == 0700);
}

static void test_visible_devices(void)
{
    bench_t b;
    bench_init(&b);
    chase_gpu_t g = {&bench_ops, &b};
    int idx[8], n;
    const char *src;
    chase_err_t err;
    unsetenv("NVIDIA_VISIBLE_DEVICES");
    unsetenv("CUDA_DEVICE_ORDER");
    unsetenv("CUDA_VISIBLE_DEVICES");
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, NULL) == CHASE_OK && n == -1);
    setenv("CUDA_VISIBLE_DEVICES", "2,0", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, NULL) == CHASE_OK && n == 2 && idx[0] == 2 && idx[1] == 0);
    CHECK_STR(src, "CUDA_VISIBLE_DEVICES");
    setenv("CUDA_VISIBLE_DEVICES", "GPU-00000001", 1); /* a unique prefix, as CUDA accepts */
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, NULL) == CHASE_OK && n == 1 && idx[0] == 1);
    setenv("CUDA_VISIBLE_DEVICES", "GPU-0000000", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, &err) == CHASE_EINVAL && strstr(err.msg, "more than one"));
    setenv("CUDA_VISIBLE_DEVICES", "3", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, &err) == CHASE_ENOTFOUND);
    setenv("CUDA_VISIBLE_DEVICES", "0,0", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, &err) == CHASE_EINVAL && strstr(err.msg, "twice"));
    setenv("CUDA_VISIBLE_DEVICES", "", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, &err) == CHASE_ENOTFOUND && strstr(err.msg, "no GPU"));
    setenv("CUDA_VISIBLE_DEVICES", "MIG-GPU-00000001/1/0", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, &err) == CHASE_EINVAL && strstr(err.msg, "MIG"));
    /* Mixed models: CUDA's default order is fastest first, so an index is ambiguous unless PCI_BUS_ID order. */
    snprintf(b.name[1], sizeof b.name[1], "Tesla V100");
    setenv("CUDA_VISIBLE_DEVICES", "1", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, &err) == CHASE_EINVAL && strstr(err.msg, "ambiguous"));
    setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, NULL) == CHASE_OK && n == 1 && idx[0] == 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
    setenv("NVIDIA_VISIBLE_DEVICES", "none", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, &err) == CHASE_ENOTFOUND);
    setenv("NVIDIA_VISIBLE_DEVICES", "0,1,2", 1); /* a container shows only its GPUs: all of them */
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, NULL) == CHASE_OK && n == -1);
    setenv("NVIDIA_VISIBLE_DEVICES", "GPU-00000002", 1);
    CHECK(chase_gpu_visible(&g, idx, 8, &n, &src, NULL) == CHASE_OK && n == 1 && idx[0] == 2);
    unsetenv("NVIDIA_VISIBLE_DEVICES");
    unsetenv("CUDA_DEVICE_ORDER");
}

int main(void)
{
    snprintf(journal, sizeof journal, "/tmp/chase-test-journal-%d", (int)getpid());
    RUN(test_apply_restore);
    RUN(test_partial_failure_undoes);
    RUN(test_no_permission_is_observe_only);
    RUN(test_restore_failure_named);
    RUN(test_dead_run_undone);
    RUN(test_live_owner_refused);
    RUN(test_journal_bad_entries);
    RUN(test_visible_devices);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", journal);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", journal);
    CHECK_DONE();
}
