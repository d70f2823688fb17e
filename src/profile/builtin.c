/* Built-in GPU profiles, so that chase simulates a realistic job with no files at hand.
 *
 * Source of every number below: the Zeus artifact's per-power-limit measurements, file
 * summary_power_<gpu>.csv (power limit in W, seconds per epoch, average GPU power in W), from
 * J. You, J.-W. Chung, M. Chowdhury, "Zeus: Understanding and Optimizing GPU Energy Consumption of DNN Training",
 * NSDI '23; github.com/ml-energy/zeus, Apache-2.0. Credited in NOTICE. The values are copied digit for digit so that
 * a built-in equals what chase_profile_read_zeus_csv() reads from the same file (tests/test_profile.c checks this). */
#include <stdio.h>
#include <string.h>

#include "chase/profile.h"
#include "profile/builtin.h"

typedef struct measured {
    double pl_w, s_per_epoch, power_w; /* measured power limit (W), seconds per epoch, average power */
} measured_t;

typedef struct builtin {
    const char *name, *gpu, *zeus_gpu, *workload, *summary;
    size_t n;
    const measured_t *m;
} builtin_t;

static const measured_t a40_resnet50[] = {
    {100, 10606.19, 120.73848214417882},
    {125, 9639.820000000002, 125.50869907250417},
    {150, 6326.84, 144.60818674199163},
    {175, 4705.61, 160.22988166803555},
    {200, 4123.5199999999995, 177.58308264413765},
    {225, 3909.47, 196.40909673353005},
    {250, 3864.98, 214.62912367741592},
    {275, 3857.81, 230.8486691361474},
    {300, 3847.48, 235.20537892681747},
};

static const measured_t v100_resnet50[] = {
    {100, 6781.173333333332, 98.38240555274153},  {125, 5064.97, 121.9660191434676},
    {150, 4148.66, 144.59474877795884},           {175, 3852.1800000000003, 166.37217540170334},
    {200, 3700.973333333334, 184.94427296655326}, {225, 3584.3033333333333, 205.43829852803177},
    {250, 3514.986666666666, 220.25029530245453},
};

static const measured_t a40_bert[] = {
    {100, 3699.825, 105.92516256887322},
    {125, 2381.7300000000005, 122.92829807567213},
    {150, 1586.2199999999998, 145.38846009205324},
    {175, 1156.77, 167.1395214059152},
    {200, 1028.0900000000001, 188.62393516785903},
    {225, 967.36, 210.01073696166728},
    {250, 934.875, 232.08614959795122},
    {275, 913.3299999999999, 251.16686363579024},
    {300, 909.465, 266.95718052511666},
};

static const measured_t v100_bert[] = {
    {100, 3583.4300000000003, 99.47663170591741},  {125, 2734.545, 121.83406584886266},
    {150, 2221.1499999999996, 146.41994932536628}, {175, 1939.225, 170.5901505217307},
    {200, 1843.125, 191.18357771796346},           {225, 1776.25, 212.6186790105367},
    {250, 1733.285, 228.21864961033535},
};

/* The 300 W point is slower than 275 W and draws less power: measurement noise at the top, kept as published
 * (the hull drops it). */
static const measured_t a40_deepspeech2[] = {
    {100, 24866.22, 106.93418656945592},           {125, 20707.22, 115.89855916730042},
    {150, 13033.005000000001, 128.54209623880246}, {175, 11342.55, 142.16791500024257},
    {200, 10628.144999999999, 155.13141146987877}, {225, 9923.82, 161.73326089622705},
    {250, 9758.085, 164.43189630222744},           {275, 9692.810000000001, 168.68111626933913},
    {300, 9730.145, 167.79698403494987},
};

#define ENTRY(name, gpu, zgpu, workload, summary, table)                                                               \
    {                                                                                                                  \
        name, gpu, zgpu, workload, summary, sizeof table / sizeof table[0], table                                      \
    }

static const builtin_t builtins[] = {
    ENTRY("a40-resnet50", "A40", "a40", "imagenet/resnet50/256/adadelta",
          "A40, ResNet-50 on ImageNet, batch 256, AdaDelta; 100-300 W; ~1.07 h/epoch at 300 W (Zeus, NSDI '23)",
          a40_resnet50),
    ENTRY("v100-resnet50", "V100", "v100", "imagenet/resnet50/256/adadelta",
          "V100, ResNet-50 on ImageNet, batch 256, AdaDelta; 100-250 W; ~0.98 h/epoch at 250 W (Zeus, NSDI '23)",
          v100_resnet50),
    ENTRY("a40-bert", "A40", "a40", "squad/bert_base_uncased/32/adamw",
          "A40, BERT-base fine-tuning on SQuAD, batch 32, AdamW; 100-300 W (Zeus, NSDI '23)", a40_bert),
    ENTRY("v100-bert", "V100", "v100", "squad/bert_base_uncased/32/adamw",
          "V100, BERT-base fine-tuning on SQuAD, batch 32, AdamW; 100-250 W (Zeus, NSDI '23)", v100_bert),
    ENTRY("a40-deepspeech2", "A40", "a40", "librispeech/deepspeech2/192/adamw",
          "A40, DeepSpeech2 on LibriSpeech, batch 192, AdamW; 100-300 W; ~2.7 h/epoch (Zeus, NSDI '23)",
          a40_deepspeech2),
};

#define NBUILTIN (sizeof builtins / sizeof builtins[0])

static const char *const names[NBUILTIN + 1] = {"a40-resnet50", "v100-resnet50",   "a40-bert",
                                                "v100-bert",    "a40-deepspeech2", NULL};

static const builtin_t *find(const char *name)
{
    for (size_t i = 0; name && i < NBUILTIN; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}

int chase_profile_builtin(const char *name, chase_profile_t **out, chase_err_t *err)
{
    if (!out)
        return chase_err_set(err, CHASE_EINVAL, "output is NULL");
    *out = NULL;
    const builtin_t *b = find(name);
    if (!b) {
        char list[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < NBUILTIN && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", builtins[i].name);
        return chase_err_set(err, CHASE_ENOTFOUND, "no built-in profile '%s' (built-in: %s)", name ? name : "(null)",
                             list);
    }
    chase_profile_t *p = chase_profile_new(b->name, b->n);
    if (!p)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    snprintf(p->gpu, sizeof p->gpu, "%s", b->gpu);
    snprintf(p->unit, sizeof p->unit, "epoch");
    for (size_t i = 0; i < b->n; i++)
        p->pts[i] = (chase_profile_point_t){b->m[i].pl_w, 1.0 / b->m[i].s_per_epoch, b->m[i].power_w};
    int rc = chase_profile_validate(p, err);
    if (rc) {
        chase_profile_free(p);
        return rc;
    }
    *out = p;
    return CHASE_OK;
}

const char *const *chase_profile_builtin_names(void)
{
    return names;
}

const char *chase_profile_builtin_summary(const char *name)
{
    const builtin_t *b = find(name);
    return b ? b->summary : NULL;
}

int chase_profile_builtin_source(const char *name, const char **zeus_gpu, const char **workload)
{
    const builtin_t *b = find(name);
    if (!b)
        return CHASE_ENOTFOUND;
    if (zeus_gpu)
        *zeus_gpu = b->zeus_gpu;
    if (workload)
        *workload = b->workload;
    return CHASE_OK;
}
