# Shadow mode: replay captured requests as dry runs (see README "Shadow mode" and mirror/README.md).
# Included by the Makefile.

PARITY_DIR ?= ../shared/parity

.PHONY: replay replay-sample

replay: install ## Replay captured records as dry runs: FILE=records.jsonl [DATABASE_URL=...]
	@test -n "$(FILE)" || { echo "usage: make replay FILE=records.jsonl [DATABASE_URL=postgresql://...]" >&2; exit 2; }
	$(PY) -m tools.replay "$(FILE)" $(if $(DATABASE_URL),--database-url "$(DATABASE_URL)")

replay-sample: install ## Replay the parity recordings + sample events with known alterations; check the report
	$(PY) -m tools.localdb exec -- $(PY) -m tools.make_replay_sample --parity $(PARITY_DIR)
