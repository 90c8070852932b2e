#!/usr/bin/env bash
# Builds the static binary from the local module cache, then the image.
set -euo pipefail
cd "$(dirname "$0")/.."
CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -ldflags="-s -w" -o deploy/actionhub ./cmd/actionhub
docker build -t "${IMAGE:-actionhub:latest}" deploy/
