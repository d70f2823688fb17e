/* Staging the user's files (see stage.h). */
#include "slurm/stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STAGED (64u << 20) /* a year of 5-minute CI samples is a few MB */

/* Writes data to path (root's, 0600). */
static int write_private(const char *path, const char *data, size_t len, chase_err_t *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return chase_err_set(err, CHASE_EIO, "%s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return chase_err_set(err, CHASE_EIO, "%s: %s", path, strerror(e));
        }
        done += (size_t)w;
    }
    return close(fd) ? chase_err_set(err, CHASE_EIO, "%s: %s", path, strerror(errno)) : CHASE_OK;
}

static int copy_in(chase_slurm_helper_t *h, const char *user_path, const char *to, chase_err_t *err)
{
    char *data;
    size_t len;
    int rc = chase_slurm_user_read(&h->st.user, user_path, MAX_STAGED, &data, &len, err);
    if (rc != CHASE_OK)
        return rc;
    rc = write_private(to, data, len, err);
    free(data);
    return rc;
}

/* Rewrites each "trace:FILE..." item of the spec (items are comma-separated; a trace file name ends at the first
 * comma, as the trace provider reads it) to a staged copy. */
static int stage_signal(chase_slurm_helper_t *h, chase_slurm_stage_t *s, const char *spec, chase_err_t *err)
{
    size_t cap = strlen(spec) + 1;
    char *out = malloc(cap);
    if (!out)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    out[0] = '\0';
    size_t len = 0;
    int traces = 0, rc = CHASE_OK;
    const char *p = spec;
    while (rc == CHASE_OK && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[4200];
        snprintf(item, sizeof item, "%.*s", (int)(n < 4199 ? n : 4199), p);
        if (!strncmp(item, "trace:", 6) && item[6]) {
            char user_path[4096], staged[4200];
            chase_slurm_step_path(&h->st, item + 6, user_path, sizeof user_path);
            snprintf(staged, sizeof staged, "%s/trace-%d.csv", s->dir, traces++);
            chase_err_t e;
            chase_err_clear(&e);
            if ((rc = copy_in(h, user_path, staged, &e)) != CHASE_OK) {
                rc = chase_err_set(err, rc, "--chase-signal: the trace file %s", e.msg);
                break;
            }
            snprintf(item, sizeof item, "trace:%.4150s", staged);
        }
        size_t need = len + strlen(item) + 2;
        if (need > cap) {
            cap = need * 2;
            char *o = realloc(out, cap);
            if (!o) {
                rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
                break;
            }
            out = o;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", item);
        p = end ? end + 1 : p + n;
    }
    if (rc != CHASE_OK) {
        free(out);
        return rc;
    }
    s->signal = out;
    return CHASE_OK;
}

int chase_slurm_stage_in(chase_slurm_helper_t *h, chase_slurm_stage_t *s, chase_err_t *err)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%.4000s/stage-%u.%u-XXXXXX", h->rundir, h->st.job, h->st.step);
    if (!mkdtemp(s->dir)) {
        int e = errno;
        s->dir[0] = '\0';
        return chase_err_set(err, CHASE_EIO, "cannot make a private folder in %s: %s", h->rundir, strerror(e));
    }
    int rc = stage_signal(h, s, h->st.s.v[CHASE_SLURM_SIGNAL], err);
    const char *pf = h->st.s.v[CHASE_SLURM_PROFILE_FILE];
    if (rc == CHASE_OK && pf) {
        chase_slurm_step_path(&h->st, pf, s->user_profile, sizeof s->user_profile);
        snprintf(s->profile, sizeof s->profile, "%s/profile.json", s->dir);
        chase_err_t e;
        chase_err_clear(&e);
        rc = copy_in(h, s->user_profile, s->profile, &e);
        if (rc == CHASE_OK)
            s->profile_existed = 1;
        else if (rc == CHASE_ENOTFOUND) /* measured online, then saved there */
            rc = chase_slurm_user_can_write(&h->st.user, s->user_profile, err) == CHASE_OK
                     ? CHASE_OK
                     : chase_err_set(err, CHASE_EPERM, "--chase-profile-file: %s", err->msg);
        else
            rc = chase_err_set(err, rc, "--chase-profile-file: %s", e.msg);
    }
    return rc;
}

int chase_slurm_stage_out_profile(chase_slurm_helper_t *h, chase_slurm_stage_t *s, chase_err_t *err)
{
    if (!s->profile[0] || s->profile_existed)
        return CHASE_OK;
    FILE *f = fopen(s->profile, "r");
    if (!f)
        return CHASE_OK; /* not measured (the job could not be profiled): nothing to save */
    char *data = NULL;
    size_t len = 0;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)size + 1)))
        len = fread(data, 1, (size_t)size, f);
    fclose(f);
    if (!data || len != (size_t)size) {
        free(data);
        return chase_err_set(err, CHASE_EIO, "cannot read the measured profile back from %s", s->profile);
    }
    int rc;
    rc = chase_slurm_user_write(&h->st.user, s->user_profile, data, len, err);
    free(data);
    return rc;
}

void chase_slurm_stage_free(chase_slurm_stage_t *s)
{
    free(s->signal);
    s->signal = NULL;
    if (!s->dir[0])
        return;
    DIR *d = opendir(s->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", s->dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(s->dir);
    s->dir[0] = '\0';
}
