.PHONY: setup test lint demo bench clean

setup:
	@scripts/setup.sh

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/python -m ruff check src tests bench examples
	.venv/bin/python -m mypy

demo: setup
	.venv/bin/python -m livekitex_agent demo

bench: setup
	.venv/bin/python scripts/collect_bench.py

clean:
	rm -rf .venv .tools demo-output .pytest_cache .mypy_cache .ruff_cache
