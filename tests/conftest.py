import sys
from pathlib import Path

# The tests import their shared scenario module as `tests.scenario`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
