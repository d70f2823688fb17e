/* Reports and journals are written atomically: a full disk leaves the file that was there whole (it used to be
 * replaced by 4096 bytes of a half-written report), and a report's folder is checked before a long job. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "util/atomic_file.h"

static char dir[128];

static size_t read_all(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, size, f);
    fclose(f);
    return n;
}

static void test_full_disk_keeps_the_old_file(void)
{
    char path[256], buf[1024];
    snprintf(path, sizeof path, "%s/run.json", dir);
    const char *good = "{\"good\": true}\n";
    CHECK(chase_file_write_atomic(path, good, strlen(good), 0644, NULL) == CHASE_OK);
    static char big[64 * 1024]; /* more than the 16 KiB file system holds */
    memset(big, 'x', sizeof big);
    chase_err_t err;
    CHECK(chase_file_write_atomic(path, big, sizeof big, 0644, &err) == CHASE_EIO);
    CHECK(strstr(err.msg, "left as it was") != NULL);
    size_t n = read_all(path, buf, sizeof buf);
    CHECK(n == strlen(good) && memcmp(buf, good, n) == 0);
    /* No temporary file is left behind either. */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    CHECK(system(cmd) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
}

static void test_check_writable(void)
{
    chase_err_t err;
    char path[256];
    snprintf(path, sizeof path, "%s/r.json", dir);
    CHECK(chase_file_check_writable(path, NULL) == CHASE_OK);
    CHECK(chase_file_check_writable("/nonexistent-chase/r.json", &err) == CHASE_ENOTFOUND);
    CHECK(strstr(err.msg, "does not exist") != NULL);
    CHECK(chase_file_check_writable(dir, &err) == CHASE_EINVAL);
    CHECK(chase_file_check_writable("", &err) == CHASE_EINVAL);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "SKIP: mounting a small file system to fill needs root\n");
        return SKIP_TEST;
    }
    snprintf(dir, sizeof dir, "/tmp/chase-test-full-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    if (mount("tmpfs", dir, "tmpfs", 0, "size=16k") != 0) {
        fprintf(stderr, "SKIP: cannot mount a tmpfs on %s: %s\n", dir, strerror(errno));
        rmdir(dir);
        return SKIP_TEST;
    }
    RUN(test_full_disk_keeps_the_old_file);
    RUN(test_check_writable);
    umount(dir);
    rmdir(dir);
    CHECK_DONE();
}
