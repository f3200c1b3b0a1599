# Shared by the MPI test scripts (sourced): how to start N processes of a nabla program on this
# one machine, in a container, as root (CI), without oversubscribing its cores.
#   mpi_skip_unless_ready MPI_BUILT    exits 77 (ctest: skipped) with the reason when nabla was
#                                      built without MPI or mpirun is missing
#   mpi_run N PROGRAM ARGS...          runs PROGRAM on N processes, ended (status 124) after
#                                      $MPI_TIMEOUT seconds (default 600); see mpi_launch below
# shellcheck shell=bash
mpi_skip_unless_ready() {
  if [ "$1" != 1 ] && [ "$1" != ON ] && [ "$1" != TRUE ]; then
    echo "SKIPPED: nabla was built without MPI (NABLA_MPI off: install libopenmpi-dev and openmpi-bin, then" \
         "reconfigure), so the data-parallel tests cannot run"
    exit 77
  fi
  if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIPPED: mpirun is not installed (Debian: openmpi-bin), so the data-parallel tests cannot run"
    exit 77
  fi
}
# --allow-run-as-root: CI runs as root. --oversubscribe: more processes than cores is allowed
# (3 processes on 2 cores). --bind-to none: processes are not pinned, so they share the cores.
# btl self,vader: shared memory only, no network probing (containers have odd interfaces);
# single_copy_mechanism none: no cross-memory attach (needs ptrace rights containers lack).
# mpi_yield_when_idle: a process waiting in a collective yields its core to the others.
# One thread per process: OpenMP and OpenBLAS (nabla's OpenMP build) must not oversubscribe.
# The processes, all on this machine, inherit this environment. In the sanitizer build (whose
# ctest sets LSAN_OPTIONS) LeakSanitizer unwinds every allocation fully, so that tests/lsan.supp
# recognizes Open MPI's own leaks by its libraries' frames (the fast unwinder stops in them).
#   mpi_launch MPIRUN_ARGS...   mpirun with the settings above (e.g. two programs: -np 1 A : -np 1 B)
mpi_launch() {
  (
    export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMPI_MCA_btl_vader_single_copy_mechanism=none \
      OMPI_MCA_mpi_yield_when_idle=1
    [ -n "${LSAN_OPTIONS:-}" ] && export LSAN_OPTIONS="$LSAN_OPTIONS:fast_unwind_on_malloc=0"
    exec timeout "${MPI_TIMEOUT:-600}" mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader "$@"
  )
}
mpi_run() {
  local n=$1
  shift
  mpi_launch -np "$n" "$@"
}
