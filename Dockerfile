# Skua container image.
#   docker build -t skua .
#   docker run -p 4317:4317 -p 4318:4318 -p 16686:16686 -p 8888:8888 -v skua-data:/data skua
# Arguments after the image name replace the default command line, e.g.
#   docker run skua --config /etc/skua/skua.yaml --log.level=debug

# ---- build: the same setup script as the README's commands ----
FROM debian:bookworm AS build
WORKDIR /src
# The toolchain and libraries in a layer of their own, rebuilt only when setup.sh changes.
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ccache >/dev/null
COPY . .
# ccache's directory is a build cache kept between image builds (BuildKit, Buildah): a rebuild
# after a change compiles only what the change touches.
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
 && cmake --build /build --target skua \
 && strip --strip-debug /build/skua

# ---- run: slim Debian with only the runtime libraries skua links against ----
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libabsl20220623 libbz2-1.0 libc-ares2 libcrypt1 libfmt9 libgrpc++1.51 libgrpc29 liblz4-1 \
      libprometheus-cpp-core1.0 libprotobuf32 libre2-9 libsnappy1v5 libspdlog1.10 libssl3 \
      libyaml-cpp0.7 libzstd1 \
      zlib1g curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 skua \
 && useradd --system --uid 10001 --gid skua --home-dir /data --shell /usr/sbin/nologin skua \
 && mkdir -p /data /etc/skua \
 && chown skua:skua /data
COPY --from=build /build/skua /usr/local/bin/skua
COPY config/skua.yaml /etc/skua/skua.yaml
# The image's data directory and listeners; a mounted config file's storage.path and endpoints
# are overridden by these variables, flags override both (skua --help).
ENV SKUA_STORAGE_PATH=/data
# Skua listens on localhost unless told otherwise; in a container the ports must be reachable
# from outside it.
ENV SKUA_COLLECTOR_OTLP_GRPC_ENDPOINT=0.0.0.0:4317 \
    SKUA_COLLECTOR_OTLP_HTTP_ENDPOINT=0.0.0.0:4318 \
    SKUA_QUERY_HTTP_ENDPOINT=0.0.0.0:16686 \
    SKUA_QUERY_GRPC_ENDPOINT=0.0.0.0:16685 \
    SKUA_ADMIN_ENDPOINT=0.0.0.0:8888
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
# 4317 OTLP/gRPC, 4318 OTLP/HTTP, 16686 query HTTP, 16685 query gRPC (api_v2, api_v3), 8888 admin
# (/metrics, /healthz, /readyz)
EXPOSE 4317 4318 16686 16685 8888
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8888/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/skua"]
CMD ["--config", "/etc/skua/skua.yaml"]
