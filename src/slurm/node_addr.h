/* Where a node of the cluster is reached: Slurm's NodeAddr for it (asked of slurmctld through libslurm, when the
 * helper is built with it), else the node's name as the resolver knows it. */
#ifndef CHASE_SLURM_NODE_ADDR_H
#define CHASE_SLURM_NODE_ADDR_H

#include <stddef.h>

#include "chase/error.h"

/* The address (a host name or an IP address) of node name. */
int chase_slurm_node_addr(const char *name, char *addr, size_t size, chase_err_t *err);

#endif
