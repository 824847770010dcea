# syntax=docker/dockerfile:1
#
# One image for every role: the subcommand picks the process
# (`docker run lokiz api|worker|scheduler|dashboard|migrate up`).
#
#   docker build -t lokiz --build-arg VERSION=$(git describe --always) .

# The Go release must be at least the `go` line of go.mod: the official
# images set GOTOOLCHAIN=local, so an older toolchain fails instead of
# downloading a newer one.
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src

# Dependencies first, so that editing code does not invalidate this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ARG VERSION=dev
# CGO off: a static binary that does not depend on the runtime image's libc.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/lokiz ./cmd/lokiz

# Debian rather than distroless or scratch: the worker shells out to ffmpeg and
# ffprobe, which come with their shared libraries from apt.
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid. /data (STORAGE_DIR) is created here and owned by
# that user so that a fresh named volume mounted on it inherits the ownership.
RUN groupadd --system --gid 10001 lokiz \
    && useradd --system --uid 10001 --gid lokiz --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin lokiz \
    && mkdir -p /data \
    && chown lokiz:lokiz /data

COPY --from=build /out/lokiz /usr/local/bin/lokiz

# Numeric, so that Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
ENV STORAGE_DIR=/data
# 8000: api (HTTP_ADDR); 8081: dashboard (DASHBOARD_ADDR).
EXPOSE 8000 8081
ENTRYPOINT ["/usr/local/bin/lokiz"]
CMD ["api"]
