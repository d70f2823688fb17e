/* Which GPUs a job may use, as its environment says: CUDA_VISIBLE_DEVICES (CUDA indices or UUIDs) and, in
 * containers, NVIDIA_VISIBLE_DEVICES. chase must drive exactly those, never a neighbour's GPU. */
#include "chase/gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 1024

/* Splits text at commas into trimmed entries (in buf); returns how many, or -1 when there are too many. */
static int split(const char *text, char *buf, size_t size, char **entries, int cap)
{
    snprintf(buf, size, "%s", text);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t len = strlen(tok);
        while (len && tok[len - 1] == ' ')
            tok[--len] = '\0';
        if (n == cap)
            return -1;
        entries[n++] = tok;
    }
    return n;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* The GPU whose UUID is uuid or starts with it (CUDA accepts a unique prefix); -1: none; -2: several. */
static int by_uuid(const chase_gpu_info_t *info, int total, const char *uuid)
{
    int found = -1;
    size_t len = strlen(uuid);
    for (int i = 0; i < total; i++) {
        if (!info[i].uuid[0] || strncmp(info[i].uuid, uuid, len) != 0)
            continue;
        if (found >= 0)
            return -2;
        found = i;
    }
    return found;
}

/* 1 when all GPUs are of one model: CUDA's default order (fastest first, ties by PCI bus id) is then NVML's. */
static int one_model(const chase_gpu_info_t *info, int total)
{
    for (int i = 1; i < total; i++)
        if (strcmp(info[i].name, info[0].name) != 0)
            return 0;
    return 1;
}

static int parse_list(const char *var, const char *text, const chase_gpu_info_t *info, int total, int cuda_indices,
                      int *idx, int cap, int *n, chase_err_t *err)
{
    char buf[4096], *entries[MAX_ENTRIES];
    int m = split(text, buf, sizeof buf, entries, MAX_ENTRIES);
    if (m < 0 || m > cap)
        return chase_err_set(err, CHASE_EINVAL, "%s names too many GPUs", var);
    if (m == 0)
        return chase_err_set(err, CHASE_ENOTFOUND,
                             "%s='%.100s' lets the job use no GPU: there is nothing for chase to drive (unset it, "
                             "or give --gpus)",
                             var, text);
    for (int k = 0; k < m; k++) {
        const char *e = entries[k];
        int i;
        if (all_digits(e)) {
            long v = strtol(e, NULL, 10);
            if (v >= total)
                return chase_err_set(err, CHASE_ENOTFOUND, "%s names GPU %ld, but there are %d GPUs (0..%d)", var, v,
                                     total, total - 1);
            if (cuda_indices && !one_model(info, total))
                return chase_err_set(err, CHASE_EINVAL,
                                     "%s=%.100s names CUDA indices, and CUDA numbers GPUs fastest first unless "
                                     "CUDA_DEVICE_ORDER=PCI_BUS_ID; the GPUs here are of different models, so which "
                                     "GPUs those are is ambiguous: set CUDA_DEVICE_ORDER=PCI_BUS_ID, use GPU UUIDs, or "
                                     "give --gpus (NVML indices, as nvidia-smi shows them)",
                                     var, text);
            i = (int)v;
        } else if (!strncmp(e, "GPU-", 4)) {
            i = by_uuid(info, total, e);
            if (i == -1)
                return chase_err_set(err, CHASE_ENOTFOUND, "%s names %.100s, which no GPU here has (see chase devices)",
                                     var, e);
            if (i == -2)
                return chase_err_set(err, CHASE_EINVAL, "%s: %.100s is the start of more than one GPU's UUID", var,
                                     e);
        } else if (!strncmp(e, "MIG-", 4)) {
            return chase_err_set(err, CHASE_EINVAL,
                                 "%s names a MIG instance (%.100s): a power limit is the whole GPU's, shared with "
                                 "other instances, so chase will not guess; give --gpus to say which GPUs to drive",
                                 var, e);
        } else {
            return chase_err_set(err, CHASE_EINVAL, "%s entry '%.100s' is neither an index nor a GPU UUID", var, e);
        }
        for (int j = 0; j < k; j++)
            if (idx[j] == i)
                return chase_err_set(err, CHASE_EINVAL, "%s names GPU %d twice", var, i);
        idx[k] = i;
    }
    *n = m;
    return CHASE_OK;
}

int chase_gpu_visible(chase_gpu_t *gpu, int *idx, int cap, int *n, const char **source, chase_err_t *err)
{
    *n = -1;
    *source = NULL;
    const char *cuda = getenv("CUDA_VISIBLE_DEVICES"), *nv = getenv("NVIDIA_VISIBLE_DEVICES");
    if (!cuda && (!nv || !strcmp(nv, "all")))
        return CHASE_OK;
    int total = 0, rc;
    if ((rc = chase_gpu_count(gpu, &total, err)) != CHASE_OK)
        return rc;
    chase_gpu_info_t *info = calloc(total > 0 ? (size_t)total : 1, sizeof *info);
    if (!info)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    for (int i = 0; i < total; i++)
        if (chase_gpu_info(gpu, i, &info[i], NULL) != CHASE_OK)
            info[i].uuid[0] = info[i].name[0] = '\0';
    if (cuda) {
        const char *order = getenv("CUDA_DEVICE_ORDER");
        int pci = order && !strcmp(order, "PCI_BUS_ID");
        *source = "CUDA_VISIBLE_DEVICES";
        rc = parse_list(*source, cuda, info, total, !pci, idx, cap, n, err);
    } else if (!strcmp(nv, "none") || !strcmp(nv, "void") || !*nv) {
        rc = chase_err_set(err, CHASE_ENOTFOUND, "NVIDIA_VISIBLE_DEVICES=%.40s lets the job use no GPU", nv);
    } else {
        *source = "NVIDIA_VISIBLE_DEVICES";
        rc = parse_list(*source, nv, info, total, 0, idx, cap, n, err);
        /* Inside a container the runtime shows only these GPUs, numbered from 0: they are all there is. */
        if (rc == CHASE_OK && *n == total)
            *n = -1;
    }
    free(info);
    return rc;
}
