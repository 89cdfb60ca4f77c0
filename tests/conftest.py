"""Shared fixtures. Fixture modules live beside this file and are loaded as plugins.

Models OS1 derives on first use (the embedder's int8 form) go to a folder of this test run,
not to the user's cache: ``OS1_MODEL_CACHE`` is set before anything reads it, so processes
the tests start inherit it too. The folder is removed when the run ends."""

import atexit
import os
import shutil
import tempfile

if "OS1_MODEL_CACHE" not in os.environ:
    _models = tempfile.mkdtemp(prefix="os1-test-models-")
    os.environ["OS1_MODEL_CACHE"] = _models
    atexit.register(shutil.rmtree, _models, ignore_errors=True)

pytest_plugins = ["fixtures_llm", "fixtures_store", "fixtures_voice"]
