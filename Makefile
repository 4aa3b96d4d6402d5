# Two commands do everything on a fresh machine:
#   make book   create .venv if missing, install the pinned environment, build the HTML book
#   make test   the same set-up, then every test: build with warnings as errors, unit tests and
#               strict nbval on every chapter notebook (pytest's summary is the last line)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: env book test unit nbval execute clean

env: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

book: env
	$(BIN)/jupyter-book build .
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

test: env
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python -m pytest tests book $(NBVAL)

unit: env
	$(BIN)/python -m pytest tests

nbval: env
	$(BIN)/python -m pytest book $(NBVAL)

# Re-execute every chapter notebook in place with a real kernel (after changing a chapter or mmcl).
execute: env
	$(BIN)/python scripts/execute_notebooks.py book/*.ipynb

clean:
	rm -rf _build
