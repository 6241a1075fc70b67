# The app alone; docker-compose.yml runs it against NATS and ClickHouse containers.
FROM node:20-bookworm-slim

WORKDIR /app
# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
# `npm install` only when `npm ci` refuses a lockfile written against a registry mirror that lacks
# other platforms' optional packages (see app/setup.mjs); tsx is a runtime dependency.
RUN npm ci --omit=dev --no-audit --no-fund || npm install --omit=dev --no-audit --no-fund
COPY . .

# A named volume mounted at /data takes this directory's owner, so the app can write there unprivileged.
RUN mkdir -p /data && chown node:node /data
USER node

ENV HOST=0.0.0.0 PORT=8080 DATA_DIR=/data
EXPOSE 8080
CMD ["node", "--import", "tsx", "app/start.ts"]
