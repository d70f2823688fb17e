/* Runs the agent's fuzz target (fuzz/fuzz_agent_msg.c) in every ctest run, without libFuzzer: each seed of
 * fuzz/seeds/agent_msg as it is, then MUTATIONS deterministic mutations of it (bytes flipped, inserted, removed,
 * the input cut, two seeds spliced), so that a decoder change that crashes or breaks a contract fails the suite
 * (and, in the sanitizer build, any memory error). Usage: agent_fuzz_replay SEED_DIR [MUTATIONS] */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS 64
#define MAX_LEN 8192

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: agent_fuzz_replay SEED_DIR [MUTATIONS]\n");
        return 2;
    }
    long mutations = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    static uint8_t seeds[MAX_SEEDS][MAX_LEN];
    size_t len[MAX_SEEDS], n = 0;
    DIR *d = opendir(argv[1]);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < MAX_SEEDS) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        len[n] = fread(seeds[n], 1, MAX_LEN / 2, f);
        fclose(f);
        n++;
    }
    if (d)
        closedir(d);
    if (n == 0) {
        fprintf(stderr, "no seeds in %s\n", argv[1]);
        return 1;
    }
    static uint8_t buf[MAX_LEN];
    long runs = 0;
    for (size_t s = 0; s < n; s++) {
        LLVMFuzzerTestOneInput(seeds[s], len[s]);
        runs++;
        for (long m = 0; m < mutations; m++) {
            size_t l = len[s];
            memcpy(buf, seeds[s], l);
            for (int k = 0, edits = 1 + (int)(next() % 4); k < edits; k++) {
                size_t at = l ? next() % l : 0;
                switch (next() % 6) {
                case 0: if (l) buf[at] ^= (uint8_t)(1u << (next() % 8)); break;
                case 1: if (l) buf[at] = (uint8_t)next(); break;
                case 2: /* insert a byte, often one that matters to JSON */
                    if (l < MAX_LEN - 1) {
                        memmove(buf + at + 1, buf + at, l - at);
                        buf[at] = (uint8_t)"{}[]\",:0-e.\\\n\0x"[next() % 16];
                        l++;
                    }
                    break;
                case 3: if (l) { memmove(buf + at, buf + at + 1, l - at - 1); l--; } break;
                case 4: l = at; break;
                default: { /* splice: the head of this seed, the tail of another */
                    size_t o = next() % n, from = len[o] ? next() % len[o] : 0;
                    if (at + len[o] - from < MAX_LEN) {
                        memcpy(buf + at, seeds[o] + from, len[o] - from);
                        l = at + len[o] - from;
                    }
                }
                }
            }
            LLVMFuzzerTestOneInput(buf, l);
            runs++;
        }
    }
    printf("agent_fuzz_replay: %zu seeds, %ld inputs, no contract broken\n", n, runs);
    return 0;
}
