"""``python -m customlabels``: the command line, as the ``customlabels`` command."""

from .cli.main import entry

entry()
