"""policy-rag web UI: `python app.py --index DIR [--port P] ...` (see `--help`; the code is in rag/ui/)."""

from __future__ import annotations

import sys

from rag.ui.app import main

if __name__ == "__main__":
    sys.exit(main())
