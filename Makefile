# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv/ when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: setup demo test test-fast bench bench-docs lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: here torch==2.13.0 is a local CPU build; anything looser pulls CUDA wheels.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[onnx,parquet]"
	touch $(STAMP)

# The tests also need the heavy extras (Ray Tune ~240 MB, PostgreSQL drivers, optuna-dashboard)
# and dev tools.
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[onnx,parquet,ray,postgres,dashboard,dev]"
	touch $(TEST_STAMP)

setup: $(STAMP)

# A real small search on the embedded photos (no ../shared/data needed), then its report.
# Rerunning resumes the same study (it stops at 4 trained candidates) and rewrites the report.
DEMO_DIR := demo_out
DEMO_STORAGE := journal:///$(DEMO_DIR)/study.log
demo: $(STAMP)
	$(BIN)/distillnas zoo --scale 2
	$(BIN)/distillnas search --space demo --device host-cpu --proxy demo --trials 4 \
		--objectives psnr,latency --storage $(DEMO_STORAGE) --study demo
	$(BIN)/distillnas report --study demo --storage $(DEMO_STORAGE) --out $(DEMO_DIR)/report
	@echo "report: $(DEMO_DIR)/report/report.html"

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -ra

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -ra -m "not slow"

# Every benchmark, then docs/BENCHMARKS.md (hours on 2 cores; each script resumes where it
# stopped, so an interrupted `make bench` continues). `make bench-docs` only re-renders the doc.
bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/search_quality.py all
	$(BIN)/python benchmarks/search_quality.py part3 --samplers random --prune-modes prune --reseed --extend 60 --seeds 0 1 2 3 4 5 6 7
	$(BIN)/python benchmarks/search_quality.py part3 --proxy quick --samplers random --prune-modes --reseed --extend 68 --seeds 0 1 2
	$(BIN)/python benchmarks/proxy_fidelity.py --archs 8 --budget-mult 8 --threads 1
	$(BIN)/python benchmarks/proxy_fidelity.py reference
	$(BIN)/python benchmarks/proxy_fidelity.py issue8
	$(BIN)/python benchmarks/proxy_fidelity.py reference --set heldout
	$(BIN)/python benchmarks/proxy_heldout.py
	$(BIN)/python benchmarks/proxy_supernet.py train
	$(BIN)/python benchmarks/proxy_supernet.py score --finetune 0,50,200
	$(BIN)/python benchmarks/proxy_supernet.py score --finetune 0,50,200 --eval-sets Set5,Set14,B100
	$(BIN)/python benchmarks/proxy_supernet.py train --seed 1
	$(BIN)/python benchmarks/proxy_supernet.py score --seed 1 --finetune 0,50,200 --eval-sets Set5,Set14,B100
	$(BIN)/python benchmarks/proxy_supernet.py ensemble --reports benchmarks/results/proxy_supernet_sets,benchmarks/results/proxy_supernet_sets_seed1
	$(BIN)/python benchmarks/proxy_supernet.py train --residual none
	$(BIN)/python benchmarks/proxy_supernet.py score --finetune 0,50,200 --residual none
	$(BIN)/python benchmarks/reference_prefix.py
	$(BIN)/python benchmarks/pruner_reference_replay.py
	$(BIN)/distillnas supernet train --space rfdb --scale 2 --steps 5000 --threads 1 \
		--out benchmarks/results/cache/supernet/cli-rfdb-x2-s5000-seed0.pt
	$(BIN)/python benchmarks/supernet_search.py
	$(BIN)/python benchmarks/pruner_supernet_replay.py
	$(BIN)/python benchmarks/pruner_supernet_rungs.py measure --seed 0
	$(BIN)/python benchmarks/pruner_supernet_rungs.py measure --seed 1
	$(BIN)/python benchmarks/pruner_supernet_rungs.py replay
	$(BIN)/python benchmarks/proxy_supernet_finish.py measure --seed 0
	$(BIN)/python benchmarks/proxy_supernet_finish.py measure --seed 1
	$(BIN)/python benchmarks/proxy_supernet_finish.py rank
	$(BIN)/python benchmarks/pruner_supernet_cosine.py
	$(BIN)/python benchmarks/proxy_fidelity.py reference --set fresh
	$(BIN)/python benchmarks/proxy_supernet_fresh.py measure --seed 0
	$(BIN)/python benchmarks/proxy_supernet_fresh.py measure --seed 1
	$(BIN)/python benchmarks/proxy_supernet_fresh.py rank
	$(BIN)/python benchmarks/proxy_small_batch.py measure --strategy b4p24-4000
	$(BIN)/python benchmarks/proxy_small_batch.py measure --strategy b8p24-2000
	$(BIN)/python benchmarks/proxy_small_batch.py rank
	$(BIN)/python benchmarks/proxy_short_decay.py measure --strategy b16p32-600-cos
	$(BIN)/python benchmarks/proxy_short_decay.py measure --strategy b16p32-1000-cos
	$(BIN)/python benchmarks/proxy_short_decay.py rank
	$(BIN)/python benchmarks/train_step_precision.py
	$(BIN)/python benchmarks/latency_table.py
	$(BIN)/python benchmarks/profile_counters.py
	$(BIN)/python benchmarks/search_overheads.py
	$(BIN)/python benchmarks/make_docs.py

bench-docs: $(STAMP)
	$(BIN)/python benchmarks/make_docs.py

# ruff's lint rules (pyproject.toml); the formatter is not applied to the tree (67 files are
# hand-wrapped differently), so `make lint` does not check formatting
lint: $(TEST_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
