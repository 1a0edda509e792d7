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

ARG NODE_IMAGE=node:20-bookworm-slim

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
RUN npm run build

# --- production dependencies only ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime: non-root, production dependencies and dist/ only ---
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the runtime user; tollgate writes nothing to disk, so the
# root filesystem can be mounted read-only (docker run --read-only, readOnlyRootFilesystem).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json carries "type": "module", which dist/*.js need.
COPY package.json ./
# The example configs only: config/secrets/ (git-ignored) is where the vendor guides put
# local keys, and no key may end up in an image layer.
COPY config/*.yaml ./config/
# Numeric: the image's `node` user. Kubernetes can only check runAsNonRoot against a
# numeric USER; a name fails with "image has non-numeric user" unless runAsUser is set.
USER 1000:1000
EXPOSE 8080
# /healthz answers 200 while the process runs, on the default server.port (8080): change
# both if your config moves it. node:http rather than fetch, which loads undici and takes
# twice as long to run; and no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "require('node:http').get('http://127.0.0.1:8080/healthz', (res) => process.exit(res.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
# node is PID 1: tollgate handles SIGTERM and SIGINT itself (drain, then exit 0); SIGHUP is
# logged and ignored until reload is supported.
ENTRYPOINT ["node", "dist/cli.js"]
# The sidecar, with the config mounted at /etc/tollgate/tollgate.yaml (as deploy/kubernetes does).
# With NODE_ENV=production a run with no config never falls back to the demo: arguments that name
# no config (`docker run tollgate --port 8080`) exit 2, naming --config and `tollgate demo`. The
# demo runs only by name, `docker run tollgate demo`, and listens on the container's loopback, so
# a published port does not reach it: to try it, run `npx --no tollgate demo` in a checkout.
CMD ["--config", "/etc/tollgate/tollgate.yaml"]
