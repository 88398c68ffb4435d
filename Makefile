.PHONY: setup test lint demo bench docs clean

setup:
	@scripts/setup.sh

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/python -m ruff check src tests bench examples
	.venv/bin/python -m mypy

demo: setup
	.venv/bin/python -m livekitex_agent demo

# every benchmark -> bench/results.json, then the performance chapter (and appendices) regenerated
bench: setup
	.venv/bin/python scripts/collect_bench.py; status=$$?; .venv/bin/python scripts/gen_docs.py; exit $$status

# the generated docs: docs/reference/*.md from the code, docs/flow/performance.md from bench/results.json
docs: setup
	.venv/bin/python scripts/gen_docs.py

clean:
	rm -rf .venv .tools demo-output .pytest_cache .mypy_cache .ruff_cache
