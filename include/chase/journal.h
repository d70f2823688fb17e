/* The journal of original GPU settings: before chase first changes a GPU it writes down the setting the GPU had,
 * in one small file per GPU, and removes the file once the GPU is put back. A run that dies without restoring
 * (SIGKILL, the OOM killer, a power cut of the host process) leaves its files behind: the next run, or
 * `chase restore`, puts those settings back, and never mistakes the lowered setting for the GPU's own. */
#ifndef CHASE_JOURNAL_H
#define CHASE_JOURNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "chase/error.h"
#include "chase/gpu.h"
#include "chase/setting.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One GPU's entry. */
typedef struct chase_journal_entry {
    char key[128];      /* the GPU's identity: its UUID, else "BACKEND-index-N" */
    int index;          /* backend index when written */
    chase_setting_t original;
    pid_t pid;          /* the process that changed the GPU */
    unsigned long long pid_start; /* that process's start time (clock ticks since boot), to tell a reused pid */
    double written;     /* UTC seconds */
} chase_journal_entry_t;

/* The default journal directory: $CHASE_JOURNAL_DIR when set (an absolute path), else /run/chase for root, else
 * $XDG_RUNTIME_DIR/chase, else /tmp/chase-UID. */
int chase_journal_default_dir(char *buf, size_t size, chase_err_t *err);

/* The journal key of a GPU (its UUID when it has one). */
void chase_journal_key(const chase_gpu_t *gpu, const chase_gpu_info_t *info, char *buf, size_t size);

/* Writes e for this process (pid and its start time filled in), atomically, creating dir (0700) if needed. */
int chase_journal_write(const char *dir, chase_journal_entry_t *e, chase_err_t *err);

/* Reads the entry for key: CHASE_ENODATA when there is none, CHASE_EFORMAT (file named) when it is unreadable. */
int chase_journal_read(const char *dir, const char *key, chase_journal_entry_t *out, chase_err_t *err);

/* Removes the entry for key (no entry is fine). */
int chase_journal_remove(const char *dir, const char *key, chase_err_t *err);

/* 1 when the process that wrote e still runs (same pid and start time). */
int chase_journal_owner_alive(const chase_journal_entry_t *e);

/* Every entry in dir, in out (at most cap); *n is how many were found. Unreadable files are skipped. */
int chase_journal_list(const char *dir, chase_journal_entry_t *out, size_t cap, size_t *n, chase_err_t *err);

/* What became of one journal entry when chase_journal_restore looked at it. */
typedef enum chase_journal_outcome {
    CHASE_JOURNAL_RESTORED = 0, /* the GPU got its original back; the entry is gone */
    CHASE_JOURNAL_OWNER_ALIVE,  /* the run that wrote it still runs: left alone */
    CHASE_JOURNAL_NO_GPU,       /* no GPU of the backend has that identity */
    CHASE_JOURNAL_FAILED,       /* setting it back failed (message says why) */
    CHASE_JOURNAL_LISTED        /* dry run: shown, not touched */
} chase_journal_outcome_t;

typedef struct chase_journal_result {
    chase_journal_entry_t entry;
    int gpu;                        /* backend index of the GPU with that identity, -1 when none */
    chase_journal_outcome_t outcome;
    char message[256];
} chase_journal_result_t;

/* Puts back every GPU of backend gpu whose journal entry in dir was left by a run that no longer runs, and
 * removes those entries (with dry_run, only says what it would do). out gets one result per entry (at most cap);
 * *n is how many. */
int chase_journal_restore(chase_gpu_t *gpu, const char *dir, int dry_run, chase_journal_result_t *out, size_t cap,
                          size_t *n, chase_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
