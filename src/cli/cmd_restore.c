/* `chase restore`: puts back the GPU settings a chase run left behind when it died without restoring them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/gpu.h"
#include "chase/journal.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

#define PROG "chase restore"
#define MAX_ENTRIES 4096

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: chase restore [--journal-dir DIR] [--dry-run]\n"
            "\n"
            "Before chase changes a GPU's power limit it writes the GPU's original limit down in a journal (one small\n"
            "file per GPU) and removes it once the limit is back. A run killed with SIGKILL (the OOM killer, a\n"
            "preempting scheduler) cannot put the limits back itself: its entries stay. `chase restore` puts back\n"
            "every GPU whose entry was left by a run that no longer runs; the next `chase run` does the same for its\n"
            "own GPUs before it starts, so it never takes a lowered limit for the GPU's own.\n"
            "\n"
            "Options:\n"
            "  --journal-dir DIR  the journal (default: $CHASE_JOURNAL_DIR, else /run/chase for root, else\n"
            "                     $XDG_RUNTIME_DIR/chase, else /tmp/chase-UID)\n"
            "  --dry-run          say what would be put back, change nothing\n"
            "  -h, --help         this text\n"
            "\n"
            "Setting limits needs the same rights as chase run (root, or CAP_SYS_ADMIN). Entries of runs that still\n"
            "run are left alone. Exit status: 0 when nothing is left to restore, 1 when a GPU could not be put back\n"
            "or is not on this machine, 2 for bad options.\n");
}

int chase_cmd_restore(int argc, char **argv)
{
    static const struct option longopts[] = {{"journal-dir", required_argument, 0, 'j'},
                                             {"dry-run", no_argument, 0, 'n'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *dir_opt = NULL;
    int dry_run = 0, c;
    optind = 0;
    while ((c = cli_getopt(PROG, argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case 'j': dir_opt = optarg; break;
        case 'n': dry_run = 1; break;
        case 'h': usage(stdout); return 0;
        default: return 2;
        }
    }
    if (optind < argc)
        return cli_bad(PROG, "unexpected argument '%s' (see chase restore --help)", argv[optind]);
    chase_err_t err;
    chase_err_clear(&err);
    char dir[1024];
    int rc;
    if (dir_opt)
        snprintf(dir, sizeof dir, "%s", dir_opt);
    else if ((rc = chase_journal_default_dir(dir, sizeof dir, &err)) != CHASE_OK)
        return cli_fail(PROG, rc, &err);
    chase_gpu_t *gpu = NULL;
    if ((rc = chase_gpu_open(NULL, &gpu, &err)) != CHASE_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    chase_journal_result_t *res = calloc(MAX_ENTRIES, sizeof *res);
    size_t n = 0;
    if (!res)
        rc = chase_err_set(&err, CHASE_ENOMEM, "out of memory");
    else
        rc = chase_journal_restore(gpu, dir, dry_run, res, MAX_ENTRIES, &n, &err);
    int status = 0;
    if (rc != CHASE_OK) {
        status = cli_fail(PROG, rc, &err);
    } else if (n == 0) {
        printf("Nothing to restore: the journal %s is empty.\n", dir);
    } else {
        for (size_t i = 0; i < n; i++) {
            const chase_journal_result_t *r = &res[i];
            if (r->gpu >= 0)
                printf("GPU %d (%s): %s\n", r->gpu, r->entry.key, r->message);
            else
                printf("%s: %s\n", r->entry.key, r->message);
            if (r->outcome == CHASE_JOURNAL_FAILED || r->outcome == CHASE_JOURNAL_NO_GPU)
                status = 1;
        }
    }
    free(res);
    chase_gpu_free(gpu);
    return status;
}
