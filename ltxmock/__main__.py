"""``python -m ltxmock``: the same as the ``ltxmock`` console script."""

import sys

from ltxmock.cli import main

sys.exit(main())
