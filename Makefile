# segrel: two commands do all the set-up they need, and nothing the second time.
#   make demo   venv + pinned stack, then the whole demo study (snakemake --cores $(CORES))
#   make test   venv + pinned stack, then the test suite (what CI runs)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
CORES ?= 2
# mmcv is compiled once per (mmcv, torch, python) into this cache, outside the repository.
WHEEL_CACHE ?= $(HOME)/.cache/segrel/wheels
PYTEST_ARGS ?=

VPY := $(VENV)/bin/python
STAMP := $(VENV)/.segrel-installed
# The lock's own mmcv wheel directory; only this folder is searched for local wheels, which also
# keeps pip away from any machine-wide find-links (e.g. a CPU-only torch with no torchvision).
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup browser demo test test-slow test-slurm report lint lock clean-venv

help:
	@echo "make demo       set up (once) and run the embedded demo study on $(CORES) cores"
	@echo "make test       set up (once) and run the default test suite"
	@echo "make test-slow  also run the tests marked slow"
	@echo "make test-slurm a small study locally and on a single-node SLURM started here; equal tables"
	@echo "make lint       snakemake --lint, snakefmt --check and ruff check"
	@echo "make report     the demo's HTML report, results/report.html"
	@echo "make browser    headless Chromium (Debian), which the report test renders the report with"
	@echo "make lock       re-resolve requirements.in into requirements.lock"

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml tools/build_mmcv_wheel.sh
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@mkdir -p $(WHEEL_CACHE)
	@# 1. everything but mmcv (its build needs torch installed first)
	grep -v '^mmcv==' requirements.lock > $(VENV)/requirements-without-mmcv.txt
	PIP_FIND_LINKS=$(WHEEL_CACHE) $(VPY) -m pip install --quiet -r $(VENV)/requirements-without-mmcv.txt
	@# 2. mmcv with compiled ops, from the cache (built there the first time, ~10 min)
	wheel_dir=$$(tools/build_mmcv_wheel.sh $(VPY) $(WHEEL_CACHE)) && \
	  PIP_FIND_LINKS=$$wheel_dir $(VPY) -m pip install --quiet --no-index --no-deps "$$(grep '^mmcv==' requirements.lock)"
	@# 3. segrel itself, editable
	$(VPY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(VPY) -m pip check
	touch $@

demo: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --show-failed-logs

# The report test renders the HTML report in headless Chromium (Debian's package; root or sudo).
browser:
	@command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium-headless-shell >/dev/null; }

test: $(STAMP) browser
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP) browser
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# A small study (tools/slurm/small-study.yaml) run twice into fresh directories, locally and
# through a single-node SLURM installed and started here (profiles/slurm with the overrides of
# tools/slurm/test-profile: local partition, squeue status, no GPUs); every file under
# results/tables/ must be byte-equal. Root or sudo (apt-get, daemons); SLURM is stopped after.
SLURM_LOCAL_DIR ?= /tmp/segrel-slurm
SLURM_TEST_DIR ?= /tmp/segrel-test-slurm
SLURM_TEST_TIMEOUT ?= 1800

test-slurm: $(STAMP)
	@trap 'tools/slurm/stop_local_slurm.sh $(SLURM_LOCAL_DIR)' EXIT; \
	tools/slurm/install_local_slurm.sh $(SLURM_LOCAL_DIR); \
	rm -rf $(SLURM_TEST_DIR) && mkdir -p $(SLURM_TEST_DIR)/local $(SLURM_TEST_DIR)/slurm; \
	study() { timeout -k 30 $(SLURM_TEST_TIMEOUT) $(abspath $(VENV))/bin/snakemake \
	  --snakefile $(CURDIR)/Snakefile --configfile $(CURDIR)/tools/slurm/small-study.yaml "$$@"; }; \
	report() { echo "---- $$1 run failed (rc $$2); last lines of $$3:"; tail -n 60 "$$3"; exit 1; }; \
	echo "local run: snakemake --cores $(CORES) in $(SLURM_TEST_DIR)/local"; \
	start=$$(date +%s); \
	study --directory $(SLURM_TEST_DIR)/local --cores $(CORES) > $(SLURM_TEST_DIR)/local.log 2>&1 \
	  || report local $$? $(SLURM_TEST_DIR)/local.log; \
	local_s=$$(( $$(date +%s) - start )); \
	echo "local run: $$local_s s"; \
	echo "SLURM run: snakemake --profile profiles/slurm --profile tools/slurm/test-profile in $(SLURM_TEST_DIR)/slurm"; \
	start=$$(date +%s); \
	study --directory $(SLURM_TEST_DIR)/slurm --profile $(CURDIR)/profiles/slurm \
	  --profile $(CURDIR)/tools/slurm/test-profile --verbose > $(SLURM_TEST_DIR)/slurm.log 2>&1 \
	  || report SLURM $$? $(SLURM_TEST_DIR)/slurm.log; \
	slurm_s=$$(( $$(date +%s) - start )); \
	jobs=$$(grep -c "has been submitted with SLURM jobid" $(SLURM_TEST_DIR)/slurm.log || true); \
	gpus=$$(grep "^sbatch call:" $(SLURM_TEST_DIR)/slurm.log | grep -c -e "--gpus" -e "--gres" || true); \
	echo "SLURM run: $$slurm_s s, $$jobs sbatch jobs ($$gpus asked for a GPU)"; \
	test "$$jobs" -gt 0 && test "$$gpus" = 0; \
	$(VPY) tools/slurm/compare_runs.py $(SLURM_TEST_DIR)/local $(SLURM_TEST_DIR)/slurm; \
	echo "test-slurm passed: local $$local_s s, SLURM $$slurm_s s ($$jobs jobs); logs in $(SLURM_TEST_DIR)"

report: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --report results/report.html

lint: $(STAMP)
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	$(VENV)/bin/ruff check .

# Re-resolve the top-level requirements into exact pins (run after editing requirements.in).
lock: $(STAMP)
	grep -v '^mmcv==' requirements.in > $(VENV)/requirements-in-without-mmcv.txt
	PIP_FIND_LINKS=$(WHEEL_CACHE) $(VPY) -m pip install --quiet -r $(VENV)/requirements-in-without-mmcv.txt
	{ echo "# Generated by 'make lock' from requirements.in; python $$($(VPY) -c 'import platform; print(platform.python_version())'), linux x86_64."; \
	  $(VPY) -m pip freeze --all --exclude-editable | sort -f; } > requirements.lock
	@echo "requirements.lock updated; update envs/*.yaml to match (tests/test_envs.py checks them)"

clean-venv:
	rm -rf $(VENV)
