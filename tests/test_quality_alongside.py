"""Great Expectations is imported on a thread while the inputs are read
(``recon.core.quality.prepared_alongside``): each case runs in a fresh interpreter, where GX is
not imported yet."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, check=False)


def test_gx_is_ready_after_the_block_and_the_warning_filters_are_as_before() -> None:
    done = run("""
        import sys
        import warnings
        from recon.core import quality
        warnings.simplefilter("default")
        before = list(warnings.filters)
        with quality.prepared_alongside():
            import json  # the block's own work goes on meanwhile
        assert quality._GX is not None
        assert warnings.filters == before
        assert not any(isinstance(f, quality._GxImportFinder) for f in sys.meta_path)
        print("ok")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr == ""  # none of GX's import noise


def test_a_failure_on_the_thread_is_met_again_and_reported_by_the_check() -> None:
    done = run("""
        from recon.core import quality
        def broken():
            raise RuntimeError("GX could not be imported")
        quality._import_gx = broken
        with quality.prepared_alongside():
            pass
        assert quality._GX is None
        try:
            quality._gx()
        except RuntimeError as error:
            print(error)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "GX could not be imported"


def test_only_the_importing_thread_has_modules_hidden() -> None:
    done = run("""
        import threading
        from recon.core import quality
        finder = quality._GxImportFinder()
        seen = []
        other = threading.Thread(target=lambda: seen.append(finder.find_spec("azure.identity", None)))
        other.start(); other.join()
        assert seen == [None]  # another thread imports as if the finder were not there
        try:
            finder.find_spec("azure.identity", None)
        except ModuleNotFoundError:
            print("hidden")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hidden"
