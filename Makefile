.PHONY: demo test test-slow lint bench
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
test-slow:
	bash scripts/test.sh --slow
lint:
	.venv/bin/ruff check .
