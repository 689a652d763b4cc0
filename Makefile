# Two commands on a fresh machine: `make run` and `make test`.
# Both bootstrap .venv once; a second run installs nothing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FOLDER ?= resources/demo
# Faces of a folder are kept in a catalog beside the venv when run from here,
# so `make run` never touches a user's real catalog.
CATALOG ?= $(VENV)/run-catalog.sqlite

.PHONY: run test lint unit bench screenshots bundle clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned to the wheels on this machine's disk: a bare range
	# would let pip fetch a multi-gigabyte build from the network.
	$(BIN)/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1" || \
		$(BIN)/python -m pip install --quiet "torch>=2.4,<2.15" "torchvision>=0.19,<0.30"
	$(BIN)/python -m pip install --quiet -e ".[dev,cluster]"
	touch $(STAMP)

# Without a display, or without the system libraries Qt needs to open a window
# (the check says which to install), the same scan runs headless.
run: $(STAMP)
	@if $(BIN)/python -m app --check-display; then \
		$(BIN)/facealbum-app --catalog "$(CATALOG)" "$(FOLDER)"; \
	else \
		echo "Running the headless scan of $(FOLDER) instead."; \
		$(BIN)/facealbum --catalog "$(CATALOG)" scan "$(FOLDER)" && \
		$(BIN)/facealbum --catalog "$(CATALOG)" people; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check engine app tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

test: lint unit

bench: $(STAMP)
	$(BIN)/python bench/scan_speed.py

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m app.screenshots docs/screenshots

bundle: $(STAMP)
	$(BIN)/python -m pip install --quiet "pyinstaller>=6.5"
	$(BIN)/pyinstaller --noconfirm build.spec
	# Smoke test: the bundled app starts headless, knows its version, and
	# scans its own copy of the demo album into a throwaway catalog.
	QT_QPA_PLATFORM=offscreen dist/facealbum/facealbum-app --version
	rm -f dist/smoke.sqlite*
	QT_QPA_PLATFORM=offscreen FACEALBUM_CACHE_DIR=dist/smoke-cache dist/facealbum/facealbum-app \
		--catalog dist/smoke.sqlite --settings dist/smoke.ini --demo --quit-after-scan

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
