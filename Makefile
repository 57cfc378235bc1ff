# OmniLoop developer commands.
#
#   make demo     install, then run the all-in-one demo (API + console + worker on SQLite/DuckDB)
#   make test     install, install what the tests need (PostgreSQL, Chromium, CJK fonts), run the suite
#                 on SQLite (everything, incl. browser tests) and on PostgreSQL (all but e2e)
#   make install  .venv with the pinned Python packages (requirements.lock) + the built web console
#   make lock     re-resolve requirements.lock from pyproject.toml (LOCK_FLAGS=--upgrade to bump all)
#   make lint     ruff
#   make clean    build outputs and caches;  make distclean  also .venv and web/node_modules
#
# Re-running `make install` is cheap: each step leaves a stamp file and only re-runs when its inputs
# (requirements.lock, pyproject.toml, web/package-lock.json, the console sources) changed.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
UV := $(BIN)/uv
UV_STAMP := $(VENV)/.stamp-uv-$(UV_VERSION)
DEPS_STAMP := $(VENV)/.stamp-deps
LOCK_FLAGS ?=

WEB := web
NODE_STAMP := $(WEB)/node_modules/.stamp-npm-ci
WEB_BUILD := $(WEB)/dist/index.html
HAVE_WEB := $(wildcard $(WEB)/package.json)
# Everything the console build reads: all files under web/ except installed and built ones.
WEB_SOURCES = $(shell find $(WEB) \( -path $(WEB)/node_modules -o -path $(WEB)/dist \) -prune -o -type f -print)

.PHONY: help install python console demo test lint lock clean distclean

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

install: python console

python: $(DEPS_STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
	  || { echo "OmniLoop needs Python >= 3.11 as $(PYTHON)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) \
	  || { echo "could not create $(VENV) (on Debian: apt-get install python3-venv)" >&2; rm -rf $(VENV); exit 1; }

$(UV_STAMP): | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	rm -f $(VENV)/.stamp-uv-*
	touch $@

# `uv pip sync` makes the venv exactly the lock file (it also removes the editable omniloop install,
# so the project is re-installed right after, without dependencies: they all come from the lock).
$(DEPS_STAMP): requirements.lock pyproject.toml $(UV_STAMP)
	$(UV) pip sync requirements.lock --python $(BIN)/python
	$(UV) pip install -e . --no-deps --python $(BIN)/python
	touch $@

ifneq ($(HAVE_WEB),)
console: $(WEB_BUILD)

$(NODE_STAMP): $(WEB)/package-lock.json $(WEB)/package.json
	npm --prefix $(WEB) ci --no-audit --no-fund
	touch $@

$(WEB_BUILD): $(NODE_STAMP) $(WEB_SOURCES)
	npm --prefix $(WEB) run build
	touch $@
else
console:
	@echo "no $(WEB)/package.json yet: skipping the web console"
endif

demo: install
	$(BIN)/omniloop demo

# Phases, durations and exit codes are handled by scripts/test.sh (it runs `make install` first).
# PYTEST_ARGS go to both pytest runs, e.g. make test PYTEST_ARGS="-x -k customers".
PYTEST_ARGS ?=
test:
	scripts/test.sh $(PYTEST_ARGS)

lint: $(DEPS_STAMP)
	$(BIN)/ruff check src tests

lock: $(UV_STAMP)
	$(UV) pip compile pyproject.toml --all-extras -o requirements.lock --python $(BIN)/python $(LOCK_FLAGS)

clean:
	rm -rf $(WEB)/dist build dist .pytest_cache .ruff_cache .hypothesis test-results
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} +
	find src -maxdepth 1 -name '*.egg-info' -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(WEB)/node_modules
