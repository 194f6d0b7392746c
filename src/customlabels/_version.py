"""The version of customlabels, in one place: ``pyproject.toml`` reads it from here.

Nothing else may live in this module: setuptools evaluates it without importing the package.
"""

__version__ = "0.1.0"
