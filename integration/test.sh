#!/usr/bin/env bash
# Runs the whole test suite: vet, unit tests under the race detector, and
# the integration tests against a real sshd and a real FUSE mount (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
go vet ./...
go test -race -count=1 ./cache/... ./fs/... ./remote/... ./cmd/...
go test -count=1 -timeout 20m ./integration/...
