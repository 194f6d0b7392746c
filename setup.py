"""Build the compiled extensions, ``customlabels._core`` and ``._metrics``, from ``ext/``.

Everything else lives in pyproject.toml. Set ``CUSTOMLABELS_NO_EXT=1`` to skip the
extension: the package then runs on its pure-Python path with identical results.
"""

import os

from setuptools import setup

ext_modules = []
if os.environ.get("CUSTOMLABELS_NO_EXT") != "1":
    from Cython.Build import cythonize
    from setuptools import Extension

    ext_modules = cythonize(
        [
            Extension(
                "customlabels._core",
                ["ext/_core.pyx"],
                # POSIX threads check lines on several cores (elsewhere: one thread)
                extra_compile_args=["-O3", *(["-pthread"] if os.name == "posix" else [])],
                extra_link_args=["-pthread"] if os.name == "posix" else [],
                optional=True,  # no compiler: install anyway, on the pure-Python path
            ),
            Extension(
                "customlabels._metrics",
                ["ext/_metrics.pyx"],
                extra_compile_args=["-O3"],
                optional=True,  # no compiler: install anyway, on the numpy path
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
