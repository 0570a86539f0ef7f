"""`python -m rlarena.relay` serves the WebSocket relay (see rlarena.relay.server)."""

import sys

from rlarena.relay.server import main

sys.exit(main())
