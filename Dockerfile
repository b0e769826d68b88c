# syntax=docker/dockerfile:1
# recgate: multi-stage build, slim non-root runtime.
#   docker build -t recgate .
#   docker run -p 8080:8080 -v "$PWD/config/recgate.toml:/etc/recgate/recgate.toml:ro" recgate

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY migrations ./migrations
RUN cargo build --release --locked --bin recgate

FROM debian:bookworm-slim AS runtime
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin recgate \
    && mkdir -p /var/lib/recgate && chown recgate /var/lib/recgate
COPY --from=builder /src/target/release/recgate /usr/local/bin/recgate
# The shipped config is the default; mount your own file over it (read-only is enough).
COPY config/recgate.toml /etc/recgate/recgate.toml
# Overrides default to an SQLite file in a volume; for a fleet, set
# RECGATE_OVERRIDES_STORE=postgres://... (or [overrides] store in the config).
ENV RECGATE_CONFIG=/etc/recgate/recgate.toml \
    RECGATE_LISTEN=0.0.0.0:8080 \
    RECGATE_OVERRIDES_STORE=sqlite:/var/lib/recgate/overrides.db
VOLUME /var/lib/recgate
USER recgate
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["recgate", "probe", "--path", "/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["recgate"]
CMD ["serve"]
