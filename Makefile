# The two commands: `make demo` and `make test`. Both build .venv when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench lab docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/recon demo --out out/demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check recon tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy recon

unit: $(STAMP)
	$(BIN)/pytest -q -n 2 --durations=10

# Every file shape at 100k, 300k and 1M people, end to end through the installed command
# (about 15 minutes; inputs kept in out/bench). The one-off 3M run and the live snapshot:
#   $(BIN)/python benchmarks/bench_reconcile.py 3000000 --shapes csv,pages --no-datacompy --json out/bench/run-3m.jsonl
#   $(BIN)/python benchmarks/bench_live.py 100000 --page-size 2000
bench: $(STAMP)
	rm -f out/bench/results.jsonl
	$(BIN)/python benchmarks/bench_reconcile.py 100000 300000 1000000 --json out/bench/results.jsonl --write docs/benchmarks.md

docs: $(STAMP)
	$(BIN)/python -c "from pathlib import Path; from recon.io.config_file import write_config_reference as w; print(*w(Path('docs')))"

LAB_STAMP := $(VENV)/.lab-installed

$(LAB_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,lab]'
	touch $(LAB_STAMP)

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf $(VENV) out .mypy_cache .pytest_cache .ruff_cache
