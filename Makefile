GO ?= go

.PHONY: build run test bench bench-smoke image-check clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/portero .

# Starts a development PostgreSQL in .data/pg unless DATABASE_URL is set.
run:
	GO=$(GO) bash scripts/run-dev.sh

# Starts a throwaway PostgreSQL unless TEST_DATABASE_URL is set.
# Extra go test flags: make test GOTESTFLAGS='-run TestName -v'
test:
	GO=$(GO) bash scripts/test.sh

# Starts its own PostgreSQL and Portero on 127.0.0.1; writes docs/benchmarks.md.
bench:
	GO=$(GO) bash scripts/bench.sh

# The same steps for about a second each; checks responses, not timing.
bench-smoke:
	GO=$(GO) BENCH_MODE=smoke bash scripts/bench.sh

image-check:
	GO=$(GO) bash scripts/image-check.sh

clean:
	rm -rf bin/
