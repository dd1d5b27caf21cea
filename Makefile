# cassnb — developer entry points. `make demo` and `make test` work on a fresh machine with Python 3.11+,
# Java 17 and Maven: they create the virtual environment and start a local Cassandra 5.0 as needed.

PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && echo $$p && break; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cassnb-installed
WITH_SERVERS := scripts/with-local-servers
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: install labextension demo test test-unit lint docs notebooks bench soak server stop clean

$(STAMP): pyproject.toml labextension/package.json labextension/package-lock.json $(wildcard labextension/src/*.ts)
	@test -n "$(PYTHON)" || { echo "cassnb needs Python 3.11 or newer (python3.11 not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,parquet,dev,prometheus,dask]'
	VENV=$(VENV) scripts/build-labextension
	@touch $(STAMP)

install: $(STAMP)

## Rebuild the JupyterLab extension (CQL highlighting) from labextension/src and install it into .venv.
labextension: install
	VENV=$(VENV) scripts/build-labextension

## The main job: a local Cassandra, a sample dataset, a query shown as a pandas DataFrame.
demo: install
	$(BIN)/cassnb local start
	$(BIN)/python examples/demo.py
	CASSNB_PROGRESS=static $(BIN)/jupyter nbconvert --to html --execute --output-dir out/demo \
		--ExecutePreprocessor.timeout=300 notebooks/01_getting_started.ipynb
	@echo "demo outputs: out/demo/orders.parquet (export) and out/demo/01_getting_started.html (executed notebook)"

## Every test tier against the real local server (started if needed, stopped afterwards if we started it).
test: install
	$(BIN)/mypy
	$(BIN)/mkdocs build --strict --quiet --site-dir build/site
	CASSNB_PROGRESS=static $(WITH_SERVERS) $(BIN)/python -m pytest tests notebooks $(NBVAL) --durations=30

test-unit: install
	$(BIN)/python -m pytest tests/unit

lint: install
	$(BIN)/ruff check cassnb tests examples benchmarks
	$(BIN)/ruff format --check cassnb
	$(BIN)/mypy

## Re-run the tutorial notebooks in place (refreshes their committed outputs).
notebooks: install
	CASSNB_PROGRESS=static $(BIN)/python scripts/run-notebooks notebooks/*.ipynb

docs: install
	$(BIN)/mkdocs build --strict --site-dir build/site
	@echo "documentation built in build/site/index.html"

## Benchmarks against the local server (not part of `make test`); writes benchmarks/results/latest.{md,json}.
bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(WITH_SERVERS) $(BIN)/python -m benchmarks $(BENCH_ARGS)

server: install
	$(BIN)/cassnb local start

stop:
	-$(BIN)/cassnb local stop
	-$(BIN)/cassnb local stop --port 9142

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

## Long leak check: 5,000 stream open/close cycles and 50,000 queries (the short version runs in `make test`).
soak: install
	CASSNB_SOAK=full $(WITH_SERVERS) $(BIN)/python -m pytest tests/reliability/test_cancellation_and_leaks.py -k soak -s
