"""Shared fixtures. Fixture modules live beside this file and are loaded as plugins."""

pytest_plugins = ["fixtures_llm", "fixtures_store", "fixtures_voice"]
