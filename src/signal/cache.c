/* The SQLite cache of everything the live providers fetched: it keeps history across restarts (the forecaster
 * needs its past), spares the user's API quota, and is shared by concurrent chase processes (WAL + busy timeout,
 * writes in short IMMEDIATE transactions). */
#include "chase/provider.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct chase_cache {
    sqlite3 *db;
    char path[1024];
    int (*stop)(void *arg); /* when it answers non-zero, stop waiting for a busy database */
    void *stop_arg;
};

/* Waits this long for another process's write to finish before giving up. */
#define BUSY_TIMEOUT_MS 10000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS samples ("
    " provider TEXT NOT NULL, zone TEXT NOT NULL, kind INTEGER NOT NULL, t INTEGER NOT NULL,"
    " step_s INTEGER NOT NULL, ci REAL NOT NULL, flags INTEGER NOT NULL, fetched_at REAL NOT NULL,"
    " PRIMARY KEY (provider, zone, kind, t)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS fetches ("
    " provider TEXT NOT NULL, zone TEXT NOT NULL, kind INTEGER NOT NULL, fetched_at REAL NOT NULL,"
    " PRIMARY KEY (provider, zone, kind)) WITHOUT ROWID;";

/* Switches the database to WAL (readers go on while another process writes; NORMAL sync is durable enough for a
 * cache) and creates the tables, retrying for up to BUSY_TIMEOUT_MS while another process holds the database. The
 * busy timeout alone is not enough here: when two processes open a fresh cache at once, both hold a read lock and
 * want to write, and SQLite answers one of them SQLITE_BUSY at once instead of waiting (it would deadlock). The
 * tables are created inside BEGIN IMMEDIATE, which takes the write lock first and so does wait. */
static int set_up(sqlite3 *db)
{
    int rc = SQLITE_BUSY;
    for (int waited_ms = 0; waited_ms < BUSY_TIMEOUT_MS; waited_ms += 20) {
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
            if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            if (rc != SQLITE_OK)
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return rc;
        sqlite3_sleep(20);
    }
    return rc;
}

int chase_cache_default_path(char *buf, size_t size, chase_err_t *err)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    int w;
    if (xdg && xdg[0] == '/') {
        w = snprintf(buf, size, "%s/chase/cache.sqlite", xdg);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return chase_err_set(err, CHASE_EINVAL,
                                 "cache: neither XDG_CACHE_HOME nor HOME is set; give cache=PATH in the signal spec");
        w = snprintf(buf, size, "%s/.cache/chase/cache.sqlite", home);
    }
    if (w < 0 || (size_t)w >= size)
        return chase_err_set(err, CHASE_ERANGE, "cache: default path too long");
    return CHASE_OK;
}

/* mkdir -p of the folders above path. */
static int make_parents(const char *path, chase_err_t *err)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return CHASE_OK;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                return chase_err_set(err, CHASE_EIO, "cache: cannot create folder %s: %s", dir, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return CHASE_OK;
}

/* Waits for another process's write in 20 ms steps, up to BUSY_TIMEOUT_MS, unless told to stop: a signal that is
 * being closed must not sit out another process's long transaction. */
static int on_busy(void *arg, int count)
{
    chase_cache_t *c = arg;
    if ((c->stop && c->stop(c->stop_arg)) || count * 20 >= BUSY_TIMEOUT_MS)
        return 0;
    sqlite3_sleep(20);
    return 1;
}

void chase_cache_set_interrupt(chase_cache_t *c, int (*stop)(void *arg), void *arg)
{
    c->stop = stop;
    c->stop_arg = arg;
}

static int db_fail(chase_cache_t *c, chase_err_t *err, const char *what)
{
    int code = sqlite3_errcode(c->db);
    return chase_err_set(err, code == SQLITE_BUSY || code == SQLITE_LOCKED ? CHASE_ETIMEOUT : CHASE_EIO,
                         "cache %s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

int chase_cache_open(const char *path, chase_cache_t **out, chase_err_t *err)
{
    *out = NULL;
    chase_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return chase_err_set(err, CHASE_ENOMEM, "cache: out of memory");
    int rc = CHASE_OK;
    if (path && *path) {
        if (strlen(path) >= sizeof c->path)
            rc = chase_err_set(err, CHASE_ERANGE, "cache: path too long");
        else
            snprintf(c->path, sizeof c->path, "%s", path);
    } else {
        rc = chase_cache_default_path(c->path, sizeof c->path, err);
    }
    if (rc == CHASE_OK)
        rc = make_parents(c->path, err);
    if (rc != CHASE_OK) {
        free(c);
        return rc;
    }
    if (sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = chase_err_set(err, CHASE_EIO, "cache %s: cannot open: %s", c->path,
                           c->db ? sqlite3_errmsg(c->db) : "out of memory");
        chase_cache_close(c);
        return rc;
    }
    sqlite3_busy_handler(c->db, on_busy, c);
    if (set_up(c->db) != SQLITE_OK) {
        int code = sqlite3_errcode(c->db) & 0xff;
        if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
            rc = chase_err_set(err, CHASE_EFORMAT, "cache %s: not a database (is it a chase cache?): %s", c->path,
                               sqlite3_errmsg(c->db));
        else
            rc = db_fail(c, err, "cannot set up");
        chase_cache_close(c);
        return rc;
    }
    /* SQLite opens a file it may not write read-only without a word; every later write would then fail. */
    if (sqlite3_db_readonly(c->db, "main") == 1) {
        rc = chase_err_set(err, CHASE_EPERM, "cache %s: cannot write it (read-only, or another user's)", c->path);
        chase_cache_close(c);
        return rc;
    }
    *out = c;
    return CHASE_OK;
}

/* Moves path (and its -wal and -shm files) to path.corrupt-TIMESTAMP; writes the new name into moved. */
static int move_aside(const char *path, char *moved, size_t size)
{
    char stamp[32], from[1100], to[1200];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(moved, size, "%s.corrupt-%s", path, stamp);
    if (rename(path, moved) != 0)
        return -1;
    static const char *const side[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(from, sizeof from, "%s%s", path, side[i]);
        snprintf(to, sizeof to, "%s%s", moved, side[i]);
        if (rename(from, to) != 0 && errno != ENOENT)
            unlink(from);
    }
    return 0;
}

int chase_cache_open_or_memory(const char *path, chase_cache_t **out, char *note, size_t note_size, chase_err_t *err)
{
    chase_err_t e;
    chase_err_clear(&e);
    note[0] = '\0';
    int rc = chase_cache_open(path, out, &e);
    if (rc == CHASE_OK || rc == CHASE_ENOMEM) {
        if (rc != CHASE_OK && err)
            *err = e;
        return rc;
    }
    char where[1024], moved[1200];
    if (path)
        snprintf(where, sizeof where, "%s", path);
    else if (chase_cache_default_path(where, sizeof where, NULL) != CHASE_OK)
        snprintf(where, sizeof where, "(default path)");
    if (rc == CHASE_EFORMAT && move_aside(where, moved, sizeof moved) == 0 &&
        chase_cache_open(path, out, NULL) == CHASE_OK) {
        snprintf(note, note_size, "%s; moved it to %s and started a new cache", e.msg, moved);
        return CHASE_OK;
    }
    snprintf(note, note_size, "%s; using a cache in memory for this run (nothing is kept for the next one)", e.msg);
    return chase_cache_open(":memory:", out, err);
}

void chase_cache_close(chase_cache_t *c)
{
    if (!c)
        return;
    sqlite3_close(c->db);
    free(c);
}

int chase_cache_put(chase_cache_t *c, const char *provider, const char *zone, int kind, const chase_sample_t *s,
                    size_t n, double fetched_at, chase_err_t *err)
{
    /* A forecast-based stand-in must not overwrite an observation already known for that time. */
    static const char put[] =
        "INSERT INTO samples (provider, zone, kind, t, step_s, ci, flags, fetched_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"
        " ON CONFLICT (provider, zone, kind, t) DO UPDATE SET step_s=excluded.step_s, ci=excluded.ci,"
        " flags=excluded.flags, fetched_at=excluded.fetched_at"
        " WHERE NOT ((excluded.flags & 2) != 0 AND (samples.flags & 2) = 0 AND excluded.kind = 0)";
    static const char mark[] = "INSERT INTO fetches (provider, zone, kind, fetched_at) VALUES (?1,?2,?3,?4)"
                               " ON CONFLICT (provider, zone, kind) DO UPDATE SET fetched_at=excluded.fetched_at";
    sqlite3_stmt *st = NULL;
    int rc = CHASE_OK;
    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(c, err, "cannot start a write");
    if (sqlite3_prepare_v2(c->db, put, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(c, err, "cannot prepare");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, zone, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, kind);
        sqlite3_bind_int64(st, 4, s[i].t);
        sqlite3_bind_int64(st, 5, s[i].step_s);
        sqlite3_bind_double(st, 6, s[i].ci);
        sqlite3_bind_int(st, 7, s[i].flags & ~CHASE_SAMPLE_STALE);
        sqlite3_bind_double(st, 8, fetched_at);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = db_fail(c, err, "cannot write");
            goto out;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(c->db, mark, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(c, err, "cannot prepare");
        goto out;
    }
    sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, zone, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, kind);
    sqlite3_bind_double(st, 4, fetched_at);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(c, err, "cannot write");
out:
    sqlite3_finalize(st);
    if (rc == CHASE_OK && sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(c, err, "cannot commit");
    if (rc != CHASE_OK)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int chase_cache_get(chase_cache_t *c, const char *provider, const char *zone, int kind, int64_t t0, int64_t t1,
                    chase_sample_t *out, size_t cap, size_t *n, chase_err_t *err)
{
    /* Newest first with a limit keeps the newest cap; the caller wants them oldest first, so reverse after. */
    static const char get[] = "SELECT t, step_s, ci, flags FROM samples WHERE provider=?1 AND zone=?2 AND kind=?3"
                              " AND t >= ?4 AND t < ?5 ORDER BY t DESC LIMIT ?6";
    sqlite3_stmt *st = NULL;
    *n = 0;
    if (cap == 0)
        return CHASE_OK;
    if (sqlite3_prepare_v2(c->db, get, -1, &st, NULL) != SQLITE_OK)
        return db_fail(c, err, "cannot prepare");
    sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, zone, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, kind);
    sqlite3_bind_int64(st, 4, t0);
    sqlite3_bind_int64(st, 5, t1);
    sqlite3_bind_int64(st, 6, cap > INT64_MAX ? INT64_MAX : (sqlite3_int64)cap);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        out[(*n)++] = (chase_sample_t){.t = sqlite3_column_int64(st, 0),
                                       .step_s = sqlite3_column_int64(st, 1),
                                       .ci = sqlite3_column_double(st, 2),
                                       .flags = sqlite3_column_int(st, 3)};
    int rc = s == SQLITE_DONE ? CHASE_OK : db_fail(c, err, "cannot read");
    sqlite3_finalize(st);
    for (size_t i = 0; i < *n / 2; i++) {
        chase_sample_t tmp = out[i];
        out[i] = out[*n - 1 - i];
        out[*n - 1 - i] = tmp;
    }
    return rc;
}

int chase_cache_last_fetch(chase_cache_t *c, const char *provider, const char *zone, int kind, double *fetched_at,
                           chase_err_t *err)
{
    static const char q[] = "SELECT fetched_at FROM fetches WHERE provider=?1 AND zone=?2 AND kind=?3";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, q, -1, &st, NULL) != SQLITE_OK)
        return db_fail(c, err, "cannot prepare");
    sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, zone, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, kind);
    int s = sqlite3_step(st), rc;
    if (s == SQLITE_ROW) {
        *fetched_at = sqlite3_column_double(st, 0);
        rc = CHASE_OK;
    } else if (s == SQLITE_DONE) {
        rc = chase_err_set(err, CHASE_ENODATA, "cache: %s/%s never fetched", provider, zone);
    } else {
        rc = db_fail(c, err, "cannot read");
    }
    sqlite3_finalize(st);
    return rc;
}
