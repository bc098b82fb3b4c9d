import os
import sys
from pathlib import Path

# The tests import their shared scenario module as `tests.scenario`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pytest_configure(config: object) -> None:
    # One id per test run, inherited by the xdist workers: scratch databases never collide
    # with another run's on the same server.
    os.environ.setdefault("CALEOL_TEST_RUN", str(os.getpid()))
