import pytest

from tests.e2e.stack import RunningStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """One `make run` stack shared by the end-to-end tests that do not restart it."""
    running = RunningStack(tmp_path_factory.mktemp("shared-stack")).wait_ready()
    yield running
    assert running.stop() == 0, running.output()
