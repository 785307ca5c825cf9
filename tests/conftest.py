import sys
from pathlib import Path

# Test helpers (replay servers, scripted clients) live next to the tests.
sys.path.insert(0, str(Path(__file__).parent))

from cti.bus import EventBus  # noqa: E402

# A message of the wrong type fails the test whose code published it (production logs it once).
EventBus.strict = True
