"""python -m keraslite.testing BACKEND: run the op conformance suite against a registered backend."""
import sys

from .runner import main

sys.exit(main())
