# Sourced by the scripts: lets Open MPI run as root in containers and oversubscribe cores.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# More ranks than cores is normal here (a master rank that mostly waits, tests with 3-64 ranks).
export OMPI_MCA_rmaps_base_oversubscribe=1
# No network fabric probing noise on a single machine.
export OMPI_MCA_btl=self,vader,tcp
export OMPI_MCA_btl_vader_single_copy_mechanism=none
