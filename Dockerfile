# Multi-stage image. UNTESTED: these machines have no container engine (see README).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# npm ci builds the console (postinstall, with the dev dependencies); then they are pruned.
COPY scripts/build-console.ts ./scripts/
COPY console ./console
COPY flows/flow.schema.json ./flows/
COPY tsconfig.json ./
COPY scripts/build-server.ts ./scripts/
COPY src ./src
# The server runs as compiled JavaScript (dist/server/main.js): no TypeScript loader in the process.
RUN npm ci --no-audit --no-fund && npx tsx scripts/build-server.ts && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
WORKDIR /app
RUN useradd --system --uid 10001 --home /app app && mkdir -p /app/data && chown app /app/data
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/dist ./dist
COPY package.json ./
COPY flows ./flows
USER app
EXPOSE 3000
VOLUME ["/app/data"]
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# The same V8 flag as `npm start` (docs/architecture.md#memory).
CMD ["node", "--initial-old-space-size=160", "--expose-gc", "dist/server/main.js"]
