# The two commands of README.md. The work is in scripts/.
.PHONY: serve test bench

## Set up, start the local stack, and serve the page at http://127.0.0.1:8080/
serve:
	scripts/serve.sh

## Set up and run every check and test
test:
	scripts/test.sh

## Benchmark seedmesh next to PeerJS and Trystero; writes docs/benchmarks.md
bench:
	scripts/bench.sh
