import Glibc
import GraftModel

/// Under a launcher (`mpirun -np N graft train ...`), joins the group of
/// processes: fit and evaluate are then data-parallel. Rank 0 prints and
/// writes the files; the other processes' standard output goes nowhere
/// (their errors still reach standard error). Outside a launcher, nothing.
func joinLauncherGroup() throws {
    guard try ProcessGroup.initialize() != nil, !ProcessGroup.isPrimary else { return }
    fflush(stdout)
    _ = freopen("/dev/null", "w", stdout)
}
