/* Reading Slurm's configuration files (see conf_reader.h): only the syntax, no meaning. */
#include "slurm/conf_reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LINE 16384
#define MAX_DEPTH 4

const char *chase_slurm_conf_get(const chase_slurm_conf_line_t *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcasecmp(l->key[i], key))
            return l->value[i];
    return NULL;
}

/* Splits buf (one logical line, comments removed) into tokens in place. */
static int tokenize(char *buf, chase_slurm_conf_line_t *l, chase_err_t *err)
{
    char *p = buf;
    l->n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return CHASE_OK;
        if (l->n == CHASE_SLURM_CONF_MAX_TOKENS)
            return chase_err_set(err, CHASE_EFORMAT, "%s:%d: more than %d settings on one line", l->file, l->line,
                                 CHASE_SLURM_CONF_MAX_TOKENS);
        char *tok = p, *out = p;
        l->key[l->n] = tok;
        l->value[l->n] = NULL;
        int quoted = 0;
        while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }
            if (*p == '=' && !l->value[l->n] && !quoted) {
                *out++ = '\0';
                l->value[l->n] = out;
                p++;
                continue;
            }
            *out++ = *p++;
        }
        if (quoted)
            return chase_err_set(err, CHASE_EFORMAT, "%s:%d: unterminated quote", l->file, l->line);
        char *next = *p ? p + 1 : p;
        *out = '\0';
        l->n++;
        p = next;
    }
}

static int read_file(const char *path, int depth, int (*fn)(void *, const chase_slurm_conf_line_t *, chase_err_t *),
                     void *arg, chase_err_t *err);

/* "Include FILE": relative to the including file's folder. */
static int include(const chase_slurm_conf_line_t *l, int depth,
                   int (*fn)(void *, const chase_slurm_conf_line_t *, chase_err_t *), void *arg, chase_err_t *err)
{
    if (l->n != 2 || l->value[1])
        return chase_err_set(err, CHASE_EFORMAT, "%s:%d: Include takes one file name", l->file, l->line);
    if (depth >= MAX_DEPTH)
        return chase_err_set(err, CHASE_EFORMAT, "%s:%d: Include nested more than %d deep", l->file, l->line,
                             MAX_DEPTH);
    char path[4096];
    const char *name = l->key[1];
    const char *slash = strrchr(l->file, '/');
    if (name[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", name);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - l->file), l->file, name);
    return read_file(path, depth + 1, fn, arg, err);
}

static int read_file(const char *path, int depth, int (*fn)(void *, const chase_slurm_conf_line_t *, chase_err_t *),
                     void *arg, chase_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return chase_err_set(err, CHASE_ENOTFOUND, "cannot read %s: %s", path, strerror(errno));
    char *buf = malloc(MAX_LINE), piece[MAX_LINE];
    if (!buf) {
        fclose(f);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    int rc = CHASE_OK, lineno = 0, start = 0;
    size_t len = 0;
    chase_slurm_conf_line_t l;
    l.file = path;
    while (rc == CHASE_OK && fgets(piece, sizeof piece, f)) {
        lineno++;
        size_t pl = strlen(piece);
        if (pl == sizeof piece - 1 && piece[pl - 1] != '\n') {
            rc = chase_err_set(err, CHASE_EFORMAT, "%s:%d: line too long", path, lineno);
            break;
        }
        while (pl && (piece[pl - 1] == '\n' || piece[pl - 1] == '\r'))
            piece[--pl] = '\0';
        char *hash = strchr(piece, '#');
        if (hash) {
            *hash = '\0';
            pl = (size_t)(hash - piece);
        }
        if (!len)
            start = lineno;
        int more = pl && piece[pl - 1] == '\\';
        if (more)
            piece[--pl] = ' ';
        if (len + pl + 1 >= MAX_LINE) {
            rc = chase_err_set(err, CHASE_EFORMAT, "%s:%d: line too long", path, lineno);
            break;
        }
        memcpy(buf + len, piece, pl + 1);
        len += pl;
        if (more)
            continue;
        l.line = start;
        len = 0;
        if ((rc = tokenize(buf, &l, err)) != CHASE_OK || !l.n)
            continue;
        if (!strcasecmp(l.key[0], "Include") && !l.value[0])
            rc = include(&l, depth, fn, arg, err);
        else
            rc = fn(arg, &l, err);
    }
    free(buf);
    fclose(f);
    return rc;
}

int chase_slurm_conf_read(const char *path, int (*fn)(void *arg, const chase_slurm_conf_line_t *l, chase_err_t *err),
                          void *arg, chase_err_t *err)
{
    return read_file(path, 0, fn, arg, err);
}
