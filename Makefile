# leasesim: `make run` and `make test` set everything up on a fresh machine (Python 3.11+).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SCENARIO ?= scenarios/aws-defaults.yaml
# One stamp per set of extras: `make run` installs only what running needs, `make test` adds the
# test extras. Each is redone only when the project's metadata or pins change.
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
NOTEBOOK_STAMP := $(VENV)/.installed-notebook
JUPYTER_ARGS ?=

.PHONY: run test test-fast check lint bench docs clean notebook notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# JupyterLab, ipykernel and ipywidgets in the same .venv, and the kernel "leasesim" registered
# inside it (--sys-prefix: nothing is written outside .venv).
$(NOTEBOOK_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[notebook]'
	$(BIN)/python -m ipykernel install --sys-prefix --name leasesim --display-name "Python (leasesim)"
	touch $@

# JupyterLab in notebooks/ (JUPYTER_ARGS=--no-browser on a remote machine; --allow-root only for
# root, as in containers, where JupyterLab refuses to start without it).
notebook: $(NOTEBOOK_STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(JUPYTER_ARGS)

# Re-execute every notebook in place (full runs; takes minutes) and record the code version in its
# metadata; tests/test_notebooks_committed.py fails until this is re-run after a code change.
notebooks: $(NOTEBOOK_STAMP)
	$(BIN)/python notebooks/execute.py

run: $(RUN_STAMP)
	$(BIN)/leasesim run $(SCENARIO) --plots out/$(basename $(notdir $(SCENARIO)))

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -n auto --dist worksteal  # a worker per core; idle ones take queued tests
	$(MAKE) --no-print-directory check

# The shipped scenarios against their expect: bounds and baselines (docs/regression.md).
check: $(RUN_STAMP)
	$(BIN)/leasesim check scenarios/ --quick

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -n auto -m 'not slow' --dist worksteal

lint: $(TEST_STAMP)
	$(BIN)/ruff check simulator tests bench notebooks/execute.py

# Ciw (a peer queueing library) is only needed by the M/M/c comparison in bench/fast.py.
# bench/scenarios.py runs every shipped scenario in both modes and appends to
# bench/results/history.csv (history.png drawn from it); fast.py appends too.
bench: $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python bench/run.py
	$(BIN)/python bench/fast.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/scenarios.py

clean:
	rm -rf $(VENV) build *.egg-info

# Regenerate the generated sections of docs/metrics.md from the definitions in the code.
docs: $(RUN_STAMP)
	$(BIN)/python -c "import re, pathlib; \
	from simulator.results.tables import columns_markdown; \
	from simulator.results.metrics import metrics_markdown; \
	p = pathlib.Path('docs/metrics.md'); head = p.read_text().split('## Tables')[0]; \
	p.write_text(head + '## Tables\n\n' + columns_markdown() + '\n## Metrics\n\n' + metrics_markdown())"
