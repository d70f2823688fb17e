/* The step's GPUs from Slurm's allocation (see gres.h). */
#include "slurm/gres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "slurm/conf_reader.h"
#include "slurm/hostlist.h"

#define MAX_FILES 1024
#define CHASE_SLURM_MAX_INDICES 1024

static int find_gres_types(void *arg, const chase_slurm_conf_line_t *l, chase_err_t *err)
{
    (void)err;
    const char *v = chase_slurm_conf_get(l, "GresTypes");
    if (!v)
        return CHASE_OK;
    int *yes = arg;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    *yes = 0; /* the last GresTypes wins, as in Slurm */
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!strcasecmp(t, "gpu"))
            *yes = 1;
    return CHASE_OK;
}

int chase_slurm_gres_types_gpu(const char *slurm_conf, int *yes, chase_err_t *err)
{
    *yes = 0;
    return chase_slurm_conf_read(slurm_conf, find_gres_types, yes, err);
}

typedef struct gres_scan {
    const char *node;
    int pass; /* 0: lines without NodeName (Slurm numbers them first), 1: lines with */
    int any;  /* a gpu line for the node was seen */
    char **files;
    size_t n, cap;
} gres_scan_t;

static int add_files(gres_scan_t *s, const chase_slurm_conf_line_t *l, const char *expr, chase_err_t *err)
{
    char **v;
    size_t n;
    chase_err_t e;
    chase_err_clear(&e);
    if (chase_slurm_hostlist_expand(expr, MAX_FILES, &v, &n, &e))
        return chase_err_set(err, CHASE_EFORMAT, "%s:%d: File=%s: %s", l->file, l->line, expr, e.msg);
    if (s->n + n > MAX_FILES) {
        chase_slurm_hostlist_free(v, n);
        return chase_err_set(err, CHASE_EFORMAT, "%s:%d: more than %d gpu files", l->file, l->line, MAX_FILES);
    }
    if (s->n + n > s->cap) {
        size_t cap = s->n + n + 8;
        char **f = realloc(s->files, cap * sizeof *f);
        if (!f) {
            chase_slurm_hostlist_free(v, n);
            return chase_err_set(err, CHASE_ENOMEM, "out of memory");
        }
        s->files = f;
        s->cap = cap;
    }
    memcpy(s->files + s->n, v, n * sizeof *v);
    s->n += n;
    free(v);
    return CHASE_OK;
}

static int scan_gres_line(void *arg, const chase_slurm_conf_line_t *l, chase_err_t *err)
{
    gres_scan_t *s = arg;
    const char *nodes = chase_slurm_conf_get(l, "NodeName");
    if (nodes && !chase_slurm_hostlist_has(nodes, s->node))
        return CHASE_OK;
    const char *autodetect = chase_slurm_conf_get(l, "AutoDetect");
    if (autodetect && strcasecmp(autodetect, "off"))
        return chase_err_set(err, CHASE_ENOTSUP,
                             "%s:%d: AutoDetect=%s: chase needs the gpu device files listed with File= (Slurm's "
                             "autodetected order cannot be read back); set AutoDetect=off with File= lines",
                             l->file, l->line, autodetect);
    const char *name = chase_slurm_conf_get(l, "Name");
    if (!name || strcasecmp(name, "gpu") || (nodes != NULL) != s->pass)
        return CHASE_OK;
    s->any = 1;
    if (chase_slurm_conf_get(l, "MultipleFiles"))
        return chase_err_set(err, CHASE_ENOTSUP, "%s:%d: MultipleFiles: chase needs one device file per GPU", l->file,
                             l->line);
    const char *file = chase_slurm_conf_get(l, "File");
    if (!file)
        return chase_err_set(err, CHASE_ENOTSUP, "%s:%d: a gpu line without File=: chase needs each GPU's device file",
                             l->file, l->line);
    return add_files(s, l, file, err);
}

int chase_slurm_gres_files(const char *gres_conf, const char *node, char ***files, size_t *n, chase_err_t *err)
{
    *files = NULL;
    *n = 0;
    gres_scan_t s = {node, 0, 0, NULL, 0, 0};
    int rc = CHASE_OK;
    for (s.pass = 0; s.pass < 2 && rc == CHASE_OK; s.pass++)
        rc = chase_slurm_conf_read(gres_conf, scan_gres_line, &s, err);
    if (rc == CHASE_OK && !s.any)
        rc = chase_err_set(err, CHASE_ENOTFOUND, "%s has no gpu line for node %s", gres_conf, node);
    if (rc != CHASE_OK) {
        chase_slurm_hostlist_free(s.files, s.n);
        return rc;
    }
    *files = s.files;
    *n = s.n;
    return CHASE_OK;
}

int chase_slurm_gres_minors(char *const *files, size_t n_files, const char *indices, int *minors, size_t cap, size_t *n,
                            chase_err_t *err)
{
    *n = 0;
    /* The whole list first: a malformed one says so rather than whatever its first item's file is. */
    long idx[CHASE_SLURM_MAX_INDICES];
    size_t count = 0;
    for (const char *p = indices; *p;) {
        char *end;
        long i = strtol(p, &end, 10);
        if (end == p || i < 0 || (*end && *end != ',') || (*end == ',' && !end[1]))
            return chase_err_set(err, CHASE_EINVAL, "SLURM_STEP_GPUS='%.60s' is not a list of GPU indices", indices);
        if ((size_t)i >= n_files)
            return chase_err_set(err, CHASE_EINVAL,
                                 "SLURM_STEP_GPUS names GPU %ld but gres.conf lists %zu gpu files for this node", i,
                                 n_files);
        if (count == cap || count == CHASE_SLURM_MAX_INDICES)
            return chase_err_set(err, CHASE_ERANGE, "more than %zu GPUs in the step", count);
        idx[count++] = i;
        p = *end ? end + 1 : end;
    }
    for (size_t k = 0; k < count; k++) {
        struct stat st;
        const char *f = files[idx[k]];
        if (stat(f, &st) != 0)
            return chase_err_set(err, CHASE_ENOTFOUND, "the step's GPU %ld is %s, which does not exist", idx[k], f);
        if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != CHASE_SLURM_NVIDIA_MAJOR)
            return chase_err_set(err, CHASE_ENOTSUP, "the step's GPU %ld is %s, which is not an NVIDIA device (%u)",
                                 idx[k], f, CHASE_SLURM_NVIDIA_MAJOR);
        int m = (int)minor(st.st_rdev);
        for (size_t j = 0; j < *n; j++)
            if (minors[j] == m)
                return chase_err_set(err, CHASE_EINVAL, "SLURM_STEP_GPUS names the GPU of %s twice", f);
        minors[(*n)++] = m;
    }
    return CHASE_OK;
}
