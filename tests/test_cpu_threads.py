"""How ``fwf`` shares the CPU cores: XLA's thread pool gets them, the OpenBLAS libraries
behind jaxlib's LAPACK calls one thread each, unless the user set $OPENBLAS_NUM_THREADS."""

import threadpoolctl

from foundation_wf.cli import main as cli_main


def blas_threads() -> dict[str, int]:
    """Threads of each loaded BLAS library, by path."""
    return {info["filepath"]: info["num_threads"] for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"}


def test_fwf_gives_blas_one_thread_unless_the_user_set_openblas_num_threads(monkeypatch):
    controller = threadpoolctl.ThreadpoolController()
    with controller.limit(limits=2, user_api="blas"):  # restored on exit
        before = blas_threads()
        assert 2 in before.values(), "no multi-threaded BLAS loaded: nothing to check"
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
        cli_main.limit_blas_threads()
        assert blas_threads() == before
        monkeypatch.delenv("OPENBLAS_NUM_THREADS")
        cli_main.limit_blas_threads()
        assert set(blas_threads().values()) == {1}
