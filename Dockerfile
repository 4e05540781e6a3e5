# syntax=docker/dockerfile:1

# Build stage: a static binary, so the runtime image needs no C library.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/portero .

# Runtime stage: distroless "static" has CA certificates and time zone data,
# no shell and no package manager, and its nonroot user has uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/portero /usr/local/bin/portero

# CapRover forwards to port 80 unless its "Container HTTP Port" is changed.
# A non-root process may bind port 80 here because Docker (20.10 and later)
# starts containers with the sysctl net.ipv4.ip_unprivileged_port_start=0,
# so no capability or root user is needed.
ENV PORT=80 \
    APP_ENV=production
EXPOSE 80
USER nonroot:nonroot

# CapRover does no HTTP check of its own; Swarm uses this one to decide when
# a new container may take traffic during a deploy.
HEALTHCHECK --interval=10s --timeout=4s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/portero", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/portero"]
CMD ["serve"]
