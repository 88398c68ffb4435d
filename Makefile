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
	@for b in bench/*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

clean:
	rm -rf .venv .tools demo-output .pytest_cache .mypy_cache .ruff_cache
