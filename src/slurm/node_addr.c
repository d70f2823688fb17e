/* A node's address (see node_addr.h). */
#include "slurm/node_addr.h"

#include <stdio.h>
#include <string.h>

#ifdef CHASE_HAVE_LIBSLURM
#include <stdint.h>
#include <sys/types.h>

#include <slurm/slurm.h>
#endif

int chase_slurm_node_addr(const char *name, char *addr, size_t size, chase_err_t *err)
{
    (void)err;
#ifdef CHASE_HAVE_LIBSLURM
    /* NodeAddr may differ from the node's name (several nodes on one host, a separate network): Slurm knows. */
    static int initialised;
    if (!initialised) {
        slurm_init(NULL);
        initialised = 1;
    }
    node_info_msg_t *resp = NULL;
    char node[256];
    snprintf(node, sizeof node, "%s", name);
    if (slurm_load_node_single(&resp, node, 0) == 0 && resp && resp->record_count >= 1 &&
        resp->node_array[0].node_addr && resp->node_array[0].node_addr[0]) {
        snprintf(addr, size, "%s", resp->node_array[0].node_addr);
        slurm_free_node_info_msg(resp);
        return CHASE_OK;
    }
    if (resp)
        slurm_free_node_info_msg(resp);
#endif
    snprintf(addr, size, "%s", name);
    return CHASE_OK;
}
