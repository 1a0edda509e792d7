# syntax=docker/dockerfile:1
# Not exercised by CI (no Docker engine on the build machines): kept correct by review.
#
#   docker build -t tollgate .
#   docker run --read-only --cap-drop ALL --security-opt no-new-privileges \
#     -v "$PWD/tollgate.yaml:/etc/tollgate/tollgate.yaml:ro" tollgate
#
# The arguments are tollgate's (docs/cli.md): `docker run … tollgate --config /other/path.yaml`,
# `docker run … tollgate check /etc/tollgate/tollgate.yaml`.
#
# Kubernetes: deploy/kubernetes and docs/operations.md.

# Node.js 24 LTS (supported until 2028-04-30), one exact release: the same one .ci/run tests on
# and the footprint bench measures (docs/benchmarks.md). package.json `engines` and .ci/run's
# NODE_PINS name it too; test/unit/node-pins.test.ts fails when they disagree.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# --- build: all dependencies, compile TypeScript to dist/ ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off: `prepare` (the build) needs src/, which is copied after this layer, so a
# source change does not reinstall every dependency.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
# dist/ as the npm package has it (tsc: type-checked, one file per module), then the image's
# own: the same sources bundled with their dependencies (scripts/build.mjs --bundle), which
# starts on less CPU and a smaller heap (docs/benchmarks.md, "Footprint").
RUN npm run build && node scripts/build.mjs --bundle --out-dir bundle

# --- production dependencies only ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime: non-root, production dependencies and dist/ only ---
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# Node's module compile cache: the V8 code of every module the sidecar loads, made once below
# at build time, so a container does not parse and compile them again at each start
# (docs/benchmarks.md, "Footprint"). Read-only at run time (readOnlyRootFilesystem): Node reads
# it and, unable to add to it, carries on.
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
# glibc gives freed memory back to the system once 128 KiB are free at the top of a heap, as its
# defaults start out, and keeps doing so: by default the threshold climbs to 32 MiB the first time
# a large block is freed, and what V8's compiler threads freed at startup (undici's WebAssembly
# parser optimised, some 15 MB in one thread's arena) stayed resident for the life of the process.
# Idle RSS a minute after the first request: 109-114 MB without it, 92-104 MB with it; throughput
# unchanged within the bench's noise (docs/benchmarks.md, "Footprint"). It applies to the bare
# proxy the footprint bench measures against too, and changes nothing there (88 MB either way).
ENV MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
# Owned by root and read-only to the runtime user; tollgate writes nothing to disk, so the
# root filesystem can be mounted read-only (docker run --read-only, readOnlyRootFilesystem).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/bundle ./dist
# package.json carries "type": "module", which dist/*.js need.
COPY package.json ./
# The example configs only: config/secrets/ (git-ignored) is where the vendor guides put
# local keys, and no key may end up in an image layer.
COPY config/*.yaml ./config/
# The compile cache's folder is the runtime user's: Node keeps one cache per user id (a
# folder named after it) and writes its files readable by their owner alone.
RUN mkdir .node-compile-cache && chown 1000:1000 .node-compile-cache
# Numeric: the image's `node` user. Kubernetes can only check runAsNonRoot against a
# numeric USER; a name fails with "image has non-numeric user" unless runAsUser is set.
USER 1000:1000
# Fill the compile cache, as the user that runs the sidecar: start it once (config/halaxy.yaml,
# placeholder credentials, port 0, no request made) and stop it; Node writes the cache as it
# exits. The script is mounted, not copied: it stays out of the image. Run as another user id,
# the sidecar starts as before, compiling its modules, and writes no cache.
RUN --mount=type=bind,source=scripts/bake-compile-cache.mjs,target=/tmp/bake-compile-cache.mjs \
    node /tmp/bake-compile-cache.mjs /app
EXPOSE 8080
# /healthz answers 200 while the process runs, on the default server.port (8080): change
# both if your config moves it. node:http rather than fetch, which loads undici and takes
# twice as long to run; and no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "require('node:http').get('http://127.0.0.1:8080/healthz', (res) => process.exit(res.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
# node is PID 1: tollgate handles SIGTERM and SIGINT itself (drain, then exit 0), and SIGHUP
# (reload the config; docs/operations.md, "Config reload").
ENTRYPOINT ["node", "dist/cli.js"]
# The sidecar, with the config mounted at /etc/tollgate/tollgate.yaml (as deploy/kubernetes does).
# With NODE_ENV=production a run with no config never falls back to the demo: arguments that name
# no config (`docker run tollgate --port 8080`) exit 2, naming --config and `tollgate demo`. The
# demo runs only by name, `docker run tollgate demo`, and listens on the container's loopback, so
# a published port does not reach it: to try it, run `npx --no tollgate demo` in a checkout.
CMD ["--config", "/etc/tollgate/tollgate.yaml"]
