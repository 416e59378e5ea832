#!/usr/bin/env bash
# The whole test suite: installs what it needs (Debian 12, as root), then
# gofmt, go vet, unit tests under the race detector, and the integration
# tests against a real sshd and a real FUSE mount.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
./integration/install-deps.sh
go version
unformatted=$(gofmt -l cmd fs cache remote integration)
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
go vet ./...
go test -race -count=1 ./cache/... ./fs/... ./remote/... ./cmd/...
go test -count=1 -timeout 20m ./integration/...
# The benchmarks in a reduced size: they report figures, never fail on timing.
SFTPMOUNT_BENCH_SMALL=1 SFTPMOUNT_BENCH_RTTS=0,10 go test -count=1 ./integration -run '^$' -bench . -benchtime 1x
