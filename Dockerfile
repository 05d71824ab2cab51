# syntax=docker/dockerfile:1
# Chio's container image: `chio authz`, `chio ledger`, `chio verifier` (or `chio up` with
# NATS_URL set). NATS is not inside: point NATS_URL at a JetStream-enabled NATS.
#
#   docker build -t chio:0.1.0 .
#   docker run --rm -e NATS_URL=nats://nats:4222 -v chio-keys:/var/lib/chio chio:0.1.0 authz

# Build stage: compile TypeScript, then keep only the production dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json
# Drops the compilers and test tools, and testcontainers (optional: only `chio up` without
# NATS_URL uses it, and a container has no Docker to reach).
RUN npm prune --omit=dev --omit=optional

# Runtime stage: Node, the compiled code, production dependencies; no compilers, no shell tools
# beyond the base image's, no nats-server.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    CHIO_BIND=0.0.0.0 \
    CHIO_DATA_DIR=/var/lib/chio \
    CHIO_KEY_DIR=/var/lib/chio/keys
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY proto ./proto
COPY deploy/policies ./deploy/policies
# The data directory (keys for `chio up`, `chio keygen`) belongs to the runtime user, so a
# named volume mounted there starts out writable by it.
RUN mkdir -p /var/lib/chio && chown 1000:1000 /var/lib/chio
# uid 1000 is the base image's `node` user; numeric, so Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 9090 9091 9092 9093
ENTRYPOINT ["node", "bin/chio.js"]
CMD ["--help"]
