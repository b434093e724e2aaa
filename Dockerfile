# wharf's container image: `docker build -t wharf .` at the repository root. Two stages: the first
# installs the production dependencies, the second holds only what `wharf serve` reads at run time.
#
# Pinned to the Node 24 release the npm package `node` brings in for development and tests, so the
# image runs on the same Node the tests ran on (test/dockerfile.test.ts checks the two agree).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: no linters, compilers or test tools. --ignore-scripts: the only install script among
# the dependencies is the npm package `node`'s, which would download a second Node; the image runs
# on the base image's Node instead. npm's cache stays behind in this stage, which the image drops.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Sources run as they are (Node's type stripping): no build step, no test/, bench/, demo/ or charts/.
# Owned by root and not writable by the user wharf runs as, so a read-only root filesystem changes
# nothing: wharf writes no files (its fallback certificate and ACME state live in memory or in Secrets).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY proxy ./proxy
COPY controller ./controller
# The uid and gid the chart's securityContext runs as (charts/wharf/templates/controller.yaml).
USER 65532:65532
# http, https and the admin server (/healthz, /readyz, /metrics): the chart's containerPorts.
EXPOSE 30799 31522 10254
# The chart's preStop hook runs the base image's `sleep`. Node as PID 1 directly: bin/wharf.js re-executes itself with wharf's heap flags (same PID) and
# wharf drains connections on SIGTERM itself. The chart passes `serve` and its flags as args.
ENTRYPOINT ["node", "/app/bin/wharf.js"]
CMD ["serve"]
