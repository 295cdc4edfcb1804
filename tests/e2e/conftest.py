import pytest

from tests.e2e.stack import RunningStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A `make run` stack per test module: the fuzzer's writes never reach another module's checks."""
    running = RunningStack(tmp_path_factory.mktemp("shared-stack")).wait_ready()
    yield running
    assert running.stop() == 0, running.output()
