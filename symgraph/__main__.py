"""``python -m symgraph``: the command line (see ``symgraph.cli``)."""

from .cli import main

raise SystemExit(main())
