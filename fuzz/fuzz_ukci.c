/* libFuzzer target: chase_parse_ukci on arbitrary bodies (built by fuzz/run.sh). */
#include "fuzz_parsers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parser(chase_parse_ukci, data, size);
    return 0;
}
