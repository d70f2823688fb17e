/* The step's GPUs from Slurm's configuration: host lists, the config file syntax, gres.conf in the order Slurm
 * numbers its gpu devices (lines without NodeName first), what chase refuses to guess (AutoDetect, MultipleFiles, no
 * File=), GresTypes, and device files to minor numbers (NVIDIA's major 195 only). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "slurm/conf_reader.h"
#include "slurm/gres.h"
#include "slurm/hostlist.h"

static char tmp[] = "/tmp/chase-gres-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", tmp, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

/* Whether names v[0..n) (freed here) read as want, space-separated; says what they were when not. */
static int names_are(char **v, size_t n, const char *want, const char *what)
{
    char got[2048] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", v[i]);
    chase_slurm_hostlist_free(v, n);
    if (strcmp(got, want))
        fprintf(stderr, "  %s -> '%s', want '%s'\n", what, got, want);
    return !strcmp(got, want);
}

static int expands_to(const char *text, const char *want)
{
    char **v;
    size_t n;
    return chase_slurm_hostlist_expand(text, 100, &v, &n, NULL) == CHASE_OK && names_are(v, n, want, text);
}

static void test_hostlist(void)
{
    CHECK(expands_to("c1", "c1"));
    CHECK(expands_to("c[1-3,7],d2", "c1 c2 c3 c7 d2"));
    CHECK(expands_to("n[01-03]", "n01 n02 n03"));
    CHECK(expands_to("n[8-10]-ib", "n8-ib n9-ib n10-ib"));
    CHECK(expands_to("/dev/nvidia[0-3]", "/dev/nvidia0 /dev/nvidia1 /dev/nvidia2 /dev/nvidia3"));
    char **v;
    size_t n;
    chase_err_t err;
    const char *bad[] = {"c[1-", "c[3-1]", "a[1]b[2]", "c[x]", "c1,,c2", "", "c]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(chase_slurm_hostlist_expand(bad[i], 100, &v, &n, &err) == CHASE_EINVAL);
    CHECK(chase_slurm_hostlist_expand("c[1-1000]", 100, &v, &n, &err) == CHASE_ERANGE);
    CHECK(chase_slurm_hostlist_has("c[1-4]", "c3") && !chase_slurm_hostlist_has("c[1-4]", "c5"));
}

static int count_lines(void *arg, const chase_slurm_conf_line_t *l, chase_err_t *err)
{
    (void)err;
    int *n = arg;
    if (*n == 0) /* the first logical line: continued, quoted, keys in any case */
        CHECK(l->n == 3 && !strcmp(chase_slurm_conf_get(l, "nodename"), "a b") &&
              !strcmp(chase_slurm_conf_get(l, "NAME"), "gpu") && !strcmp(chase_slurm_conf_get(l, "File"), "/x") &&
              l->line == 2);
    if (*n == 1)
        CHECK(!strcmp(chase_slurm_conf_get(l, "GresTypes"), "gpu"));
    (*n)++;
    return CHASE_OK;
}

static void test_conf_reader(void)
{
    write_file("inc.conf", "GresTypes=gpu # included\n");
    const char *p =
        write_file("main.conf", "# a comment\nNodeName=\"a b\" \\\n  Name=gpu File=/x\nInclude inc.conf\n\n");
    int n = 0;
    chase_err_t err;
    CHECK(chase_slurm_conf_read(p, count_lines, &n, &err) == CHASE_OK);
    CHECK(n == 2);
    const char *q = write_file("bad.conf", "Name=\"unterminated\n");
    CHECK(chase_slurm_conf_read(q, count_lines, &n, &err) == CHASE_EFORMAT && strstr(err.msg, "bad.conf:1"));
    CHECK(chase_slurm_conf_read("/nonexistent/slurm.conf", count_lines, &n, &err) == CHASE_ENOTFOUND);
}

static int files_are(const char *conf, const char *node, const char *want)
{
    char **v;
    size_t n;
    chase_err_t err;
    if (chase_slurm_gres_files(conf, node, &v, &n, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        return 0;
    }
    return names_are(v, n, want, node);
}

static void test_gres_files(void)
{
    /* Slurm numbers the lines without NodeName first, whatever their place in the file. */
    const char *g = write_file("gres.conf", "NodeName=c[1-2] Name=gpu Type=a40 File=/dev/nvidia[0-1]\n"
                                            "NodeName=c3 Name=gpu File=/dev/nvidia[0-3]\n"
                                            "Name=gpu File=/dev/nvidia7\n"
                                            "NodeName=c2 Name=mps Count=100\n");
    CHECK(files_are(g, "c2", "/dev/nvidia7 /dev/nvidia0 /dev/nvidia1"));
    CHECK(files_are(g, "c3", "/dev/nvidia7 /dev/nvidia0 /dev/nvidia1 /dev/nvidia2 /dev/nvidia3"));
    char **v;
    size_t n;
    chase_err_t err;
    const char *none = write_file("gres.conf", "NodeName=c1 Name=gpu File=/dev/nvidia0\n");
    CHECK(chase_slurm_gres_files(none, "c9", &v, &n, &err) == CHASE_ENOTFOUND && strstr(err.msg, "c9"));
    const char *ad = write_file("gres.conf", "AutoDetect=nvml\nNodeName=c1 Name=gpu File=/dev/nvidia0\n");
    CHECK(chase_slurm_gres_files(ad, "c1", &v, &n, &err) == CHASE_ENOTSUP && strstr(err.msg, "AutoDetect"));
    const char *off = write_file("gres.conf", "AutoDetect=off\nNodeName=c1 Name=gpu File=/dev/nvidia0\n");
    CHECK(files_are(off, "c1", "/dev/nvidia0"));
    const char *mf = write_file("gres.conf", "NodeName=c1 Name=gpu MultipleFiles=/dev/nvidia[0-1]\n");
    CHECK(chase_slurm_gres_files(mf, "c1", &v, &n, &err) == CHASE_ENOTSUP && strstr(err.msg, "MultipleFiles"));
    const char *count = write_file("gres.conf", "NodeName=c1 Name=gpu Count=4\n");
    CHECK(chase_slurm_gres_files(count, "c1", &v, &n, &err) == CHASE_ENOTSUP && strstr(err.msg, "File="));
}

static void test_gres_types(void)
{
    int yes = -1;
    chase_err_t err;
    CHECK(chase_slurm_gres_types_gpu(write_file("slurm.conf", "GresTypes=mps,gpu\n"), &yes, &err) == 0 && yes);
    CHECK(chase_slurm_gres_types_gpu(write_file("slurm.conf", "GresTypes=mps\n"), &yes, &err) == 0 && !yes);
    CHECK(chase_slurm_gres_types_gpu(write_file("slurm.conf", "ClusterName=x\n"), &yes, &err) == 0 && !yes);
    write_file("gres-types.conf", "gRESTYPES=gpu\n");
    CHECK(chase_slurm_gres_types_gpu(write_file("slurm.conf", "Include gres-types.conf\n"), &yes, &err) == 0 && yes);
}

static void test_minors(void)
{
    char *files[3];
    char path[3][256];
    for (int i = 0; i < 3; i++) {
        snprintf(path[i], sizeof path[i], "%s/nvidia%d", tmp, i);
        files[i] = path[i];
    }
    int minors[8];
    size_t n;
    chase_err_t err;
    /* A file that is no NVIDIA device is refused, whatever its name. */
    write_file("nvidia0", "not a device");
    CHECK(chase_slurm_gres_minors(files, 3, "0", minors, 8, &n, &err) == CHASE_ENOTSUP);
    CHECK(chase_slurm_gres_minors(files, 3, "5", minors, 8, &n, &err) == CHASE_EINVAL && strstr(err.msg, "3 gpu"));
    CHECK(chase_slurm_gres_minors(files, 3, "0,x", minors, 8, &n, &err) == CHASE_EINVAL);
    CHECK(chase_slurm_gres_minors(files, 3, "", minors, 8, &n, &err) == CHASE_OK && n == 0);
    if (geteuid() != 0) {
        fprintf(stderr, "  (not root: device files not made, minors not checked)\n");
        return;
    }
    /* Device files made as /dev/nvidiaN are: what counts is the minor, not the name. */
    unlink(path[0]);
    CHECK(mknod(path[0], S_IFCHR | 0600, makedev(195, 6)) == 0);
    CHECK(mknod(path[1], S_IFCHR | 0600, makedev(195, 2)) == 0);
    CHECK(mknod(path[2], S_IFCHR | 0600, makedev(1, 3)) == 0); /* /dev/null's major */
    CHECK(chase_slurm_gres_minors(files, 3, "1,0", minors, 8, &n, &err) == CHASE_OK);
    CHECK(n == 2 && minors[0] == 2 && minors[1] == 6);
    CHECK(chase_slurm_gres_minors(files, 3, "2", minors, 8, &n, &err) == CHASE_ENOTSUP);
    CHECK(chase_slurm_gres_minors(files, 3, "1,1", minors, 8, &n, &err) == CHASE_EINVAL);
    CHECK(chase_slurm_gres_minors(files, 3, "0,1", minors, 1, &n, &err) == CHASE_ERANGE);
}

int main(void)
{
    if (!mkdtemp(tmp))
        return 1;
    RUN(test_hostlist);
    RUN(test_conf_reader);
    RUN(test_gres_files);
    RUN(test_gres_types);
    RUN(test_minors);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd))
        return 1;
    CHECK_DONE();
}
