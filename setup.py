"""Build the compiled extensions, ``customlabels._core``, ``._metrics``, ``._split`` and
``._images``, from ``ext/``.

Everything else lives in pyproject.toml. Set ``CUSTOMLABELS_NO_EXT=1`` to skip the
extension: the package then runs on its pure-Python path with identical results.

``CUSTOMLABELS_SANITIZE=address`` builds both extensions with AddressSanitizer (``-O1 -g``, frame
pointers kept), for the fuzz harness and for tests; ``address,undefined`` adds UBSan, and
``fuzzer-no-link`` (with ``CC=clang``) the coverage libFuzzer needs to steer into the C code.
Rebuild with ``--force`` when switching, and run with the sanitizer's runtime preloaded:
``fuzz/README.md``, "A sanitizer build".
"""

import os
from glob import glob

from setuptools import setup

#: Sanitizers CUSTOMLABELS_SANITIZE may name (comma-separated), as -fsanitize= spells them.
SANITIZERS = {"address", "undefined", "thread", "fuzzer-no-link"}


def sanitizer_flags() -> tuple[list[str], list[str]]:
    """Return (compile, link) flags for CUSTOMLABELS_SANITIZE, or two empty lists."""
    wanted = [s.strip() for s in os.environ.get("CUSTOMLABELS_SANITIZE", "").split(",") if s.strip()]
    if not wanted:
        return [], []
    unknown = sorted(set(wanted) - SANITIZERS)
    if unknown:
        raise SystemExit(f"CUSTOMLABELS_SANITIZE: unknown sanitizer {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(SANITIZERS))})")
    flag = "-fsanitize=" + ",".join(wanted)
    # -O1: fast enough to fuzz, and reports point at the right lines (ASan's advice)
    return [flag, "-fno-omit-frame-pointer", "-O1", "-g"], [flag]


ext_modules = []
if os.environ.get("CUSTOMLABELS_NO_EXT") != "1":
    from Cython.Build import cythonize
    from setuptools import Extension

    sanitize_cflags, sanitize_ldflags = sanitizer_flags()
    optimize = sanitize_cflags or ["-O3"]  # the sanitizer's -O1 replaces -O3
    posix = os.name == "posix"
    ext_modules = cythonize(
        [
            Extension(
                "customlabels._core",
                ["ext/_core.pyx"],
                # the included files, declarations and C helpers (ext/_core.pyx lists them)
                depends=sorted(glob("ext/_*.pxi") + glob("ext/_*.pxd") + glob("ext/_*.h")),
                include_dirs=["ext"],
                # POSIX threads check lines on several cores (elsewhere: one thread)
                extra_compile_args=[*optimize, *(["-pthread"] if posix else [])],
                extra_link_args=[*sanitize_ldflags, *(["-pthread"] if posix else [])],
                optional=not sanitize_cflags,  # no compiler: install on the pure-Python path
            ),
            Extension(
                "customlabels._metrics",
                ["ext/_metrics.pyx"],
                extra_compile_args=optimize,
                extra_link_args=sanitize_ldflags,
                optional=not sanitize_cflags,  # no compiler: install anyway, on the numpy path
            ),
            Extension(
                "customlabels._images",
                ["ext/_images.pyx"],
                extra_compile_args=optimize,
                extra_link_args=sanitize_ldflags,
                optional=not sanitize_cflags,  # no compiler: the os module's calls
            ),
            Extension(
                "customlabels._split",
                ["ext/_split.pyx"],
                extra_compile_args=optimize,
                extra_link_args=sanitize_ldflags,
                optional=not sanitize_cflags,  # no compiler: the split's Python loops
            ),
        ],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )

setup(ext_modules=ext_modules)
