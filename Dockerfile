# Production image for the API and the worker (docker-compose.yml runs one API and two workers).
# Stage 1 compiles TypeScript with the dev dependencies; stage 2 has the runtime ones only.
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
# No Temporal binaries and no Chromium in an image; the console is built below, once its source is in.
ENV LEADFLOW_SKIP_TEMPORAL_INSTALL=1 LEADFLOW_SKIP_BROWSER_INSTALL=1 LEADFLOW_SKIP_CONSOLE_BUILD=1
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
RUN npm run build
COPY console ./console
RUN npm run console:build

FROM node:20.20.2-bookworm-slim
WORKDIR /app
# A deployment talks to a real Temporal, Postgres and SMTP: no embedded binaries needed.
ENV NODE_ENV=production LEADFLOW_SKIP_TEMPORAL_INSTALL=1 HOST=0.0.0.0 PORT=3000
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/console/dist ./console/dist
USER node
EXPOSE 3000
CMD ["node", "dist/src/server/main.js"]
