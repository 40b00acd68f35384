# Antena: `make run` for the demo, `make test` for the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# `make lock` re-pins requirements.lock (runtime, what the Docker image installs) and
# requirements-dev.lock (runtime + the dev extra, what `make install` installs) from
# pyproject.toml with pip-compile, every pin `==` with its hashes. Existing pins are kept
# where pyproject.toml still allows them; to bump, `make lock LOCK_ARGS=--upgrade` (all)
# or `make lock LOCK_ARGS="--upgrade-package django"` (one). The dev lock is constrained
# by the runtime one, so the two never disagree. The locks target Python 3.11 on Linux
# x86_64 (CI and the image), so run it there. pip-tools lives in its own venv, LOCK_VENV.
PIP_TOOLS_VERSION := 7.6.2
LOCK_VENV := $(VENV)/lock-tools
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
LOCK_ARGS ?=

.PHONY: run install test lint format migrations-check messages clean lock

# axe-core for the accessibility browser tests, from npm, pinned by its package-lock.json.
AXE_DIR := tests/browser/axe
AXE := $(AXE_DIR)/node_modules/axe-core/axe.min.js

$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

$(AXE): $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	cd $(AXE_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(AXE)

install: $(STAMP) $(AXE)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py compile_translations
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP) $(AXE)
	$(BIN)/python manage.py compile_translations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=portal.settings.test
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l en -l es_AR --ignore=.venv --ignore=staticfiles

$(LOCK_VENV)/bin/pip-compile:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/pip install --quiet "pip-tools==$(PIP_TOOLS_VERSION)"

lock: $(LOCK_VENV)/bin/pip-compile
	@test "$$(uname -sm)" = "Linux x86_64" \
		|| { echo "make lock: the locks target Linux x86_64; run it there" >&2; exit 1; }
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		-o requirements.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		--extra dev -c requirements.lock -o requirements-dev.lock pyproject.toml
	@for f in requirements.lock requirements-dev.lock; do \
		{ echo "# Antena's pinned, hashed dependencies for Python 3.11 on Linux x86_64."; \
		  echo "# Do not edit: change pyproject.toml, then regenerate with \`make lock\`"; \
		  echo "# (LOCK_ARGS=--upgrade to bump every pin; see the Makefile)."; \
		  cat $$f; } > $$f.tmp && mv $$f.tmp $$f; \
	done

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
