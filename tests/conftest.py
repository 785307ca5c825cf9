import sys
from pathlib import Path

# Test helpers (replay servers, scripted clients) live next to the tests.
sys.path.insert(0, str(Path(__file__).parent))
