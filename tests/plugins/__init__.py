"""Backend packages for tests, registered with ``MPCBENCH_PLUGINS=tests.plugins`` (the
repository on ``PYTHONPATH``); the suite itself runs without them."""
