# The two commands of the README. Both install into .venv beside this file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Portable llama.cpp build for the embedded brain (no CPU-specific instructions).
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: up chat test install install-test lint

$(BIN)/pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/pip
	$(BIN)/pip install --quiet --editable '.[brain]'

install-test: $(BIN)/pip
	$(BIN)/pip install --quiet --editable '.[brain,test,hand,voice]'
	scripts/system-packages

up: install
	@$(BIN)/os1 up

chat: install
	@$(BIN)/os1 chat

lint: install-test
	$(BIN)/ruff check os1 tests benchmarks scripts
	$(BIN)/ruff format --check os1 tests benchmarks scripts
	$(BIN)/mypy

# Two processes, each test file whole in one (a file's tests share fixtures and services).
test: lint
	OS1_REQUIRE_BRAIN=1 $(BIN)/pytest -n 2 --dist loadfile
