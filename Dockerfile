# The API image for ECS: `dallas-calls api` (no poller; events arrive through Redis or POST /events/).
# Build from the repository root: docker build -t dallas-calls-api .

# Stage 1: the dashboard's map libraries, from npm at the versions pinned in package-lock.json.
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY scripts/build_web_vendor.py scripts/
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null \
    && mkdir -p src/dallas_calls/web && python3 scripts/build_web_vendor.py

# Stage 2: the app, its runtime dependencies pinned by the lock file.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DALLAS_CALLS_HOST=0.0.0.0 DALLAS_CALLS_PORT=8000 DALLAS_CALLS_STORE=dynamodb DALLAS_CALLS_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
COPY --from=web /src/src/dallas_calls/web/vendor ./src/dallas_calls/web/vendor
RUN pip install --no-cache-dir -c requirements.lock . \
    && useradd --system --uid 10001 app && mkdir -p /data && chown app /data
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["dallas-calls", "api"]
