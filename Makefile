# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv with the system python3 and install this package into it
# (with the SLURM executor plugin, so the tests can load profiles/slurm).
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= 2

.PHONY: demo test lint install

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,slurm]'
	touch $@

install: $(VENV)/.installed

# Install, then run the workflow on the bundled demo sheets with the offline engine.
demo: install
	$(VENV)/bin/snakemake --cores $(CORES)

# Linters and the type checker, then the whole test suite.
lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(VENV)/bin/snakemake --lint --cores 1

# Install, lint, then run the tests (pytest exit 5, no tests collected, fails).
test: lint
	$(PY) -m pytest -q -rs --durations=15
