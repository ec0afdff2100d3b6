"""``python -m genesys_cx``: the ``genesys-cx`` command line."""

from ._cli import main

raise SystemExit(main())
