# Cardinal container image: build a wheel (and its dependencies' wheels), install them into a clean
# runtime image that runs as the unprivileged user `cardinal`. No secrets are baked in: configure with
# environment variables or an env file at run time (docs/configuration.md).
#
#   docker build -t cardinal .
#   docker run --env-file .env -v cardinal-data:/data cardinal            # the bot
#   docker run --env-file .env cardinal cardinal check                     # verify the configuration

# --- build stage ---------------------------------------------------------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY cardinal_sim ./cardinal_sim
RUN pip wheel --wheel-dir /wheels .

# --- runtime stage -------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 cardinal \
 && useradd --system --uid 10001 --gid cardinal --home-dir /home/cardinal --create-home \
      --shell /usr/sbin/nologin cardinal \
 && mkdir -p /data \
 && chown cardinal:cardinal /data

COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels cardinal \
 && rm -rf /wheels

# SQLite on the volume by default; several replicas need DATABASE_URL=postgresql+asyncpg://…
ENV DATABASE_URL=sqlite+aiosqlite:////data/cardinal.db \
    HTTP_PORT=3000 \
    INTERNAL_PORT=9090 \
    LOG_FORMAT=json
VOLUME /data
WORKDIR /home/cardinal
USER cardinal

# 3000: POST /slack/events (HTTP mode only). 9090: /healthz, /readyz, /metrics (keep it internal).
EXPOSE 3000 9090

# slim has no curl: ask /healthz with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INTERNAL_PORT', '9090'), timeout=4)"]

CMD ["cardinal", "run"]
