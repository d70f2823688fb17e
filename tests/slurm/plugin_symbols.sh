#!/bin/sh
# spank_chase.so is loaded by srun, sbatch, salloc, slurmd and slurmstepd: everything it needs must come from the C
# library or from Slurm itself (slurm_*, spank_*). A symbol of libchase's that the plugin forgot to compile in is
# found here, at build time, not as "srun: symbol lookup error" on a user's login node.
plugin="$1"
[ -f "$plugin" ] || { echo "no plugin at $plugin"; exit 1; }
bad=$(nm -u "$plugin" | awk '$1 == "U" && $2 !~ /@GLIBC_/ && $2 !~ /^(slurm|spank)_/ { print $2 }')
if [ -n "$bad" ]; then
    echo "spank_chase.so needs symbols neither libc nor Slurm provides: $bad"
    exit 1
fi
echo "spank_chase.so needs only libc and Slurm"
