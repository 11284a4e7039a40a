# Cardinal container image: build the dependencies' wheels (pinned by constraints.txt) and Cardinal's
# wheel, install them into a clean runtime image that runs as the unprivileged user `cardinal`. No secrets
# are baked in: configure with environment variables or an env file at run time; every setting is listed
# in the README's "Configuration reference" (also at /usr/share/doc/cardinal/ in the image).
#
#   docker build -t cardinal .
#   docker run --env-file .env -v cardinal-data:/data cardinal            # the bot
#   docker run --env-file .env cardinal cardinal check                     # verify the configuration
#
# Reproducible: the base image is pinned to a patch release and every Python package to the version in
# constraints.txt (regenerate it with `python scripts/gen_constraints.py`); bump both deliberately.

# --- build stage ---------------------------------------------------------------------------------
FROM python:3.11.12-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first, in their own layer: rebuilt only when constraints.txt changes, not on every edit.
COPY constraints.txt ./
RUN pip wheel --wheel-dir /wheels/deps --requirement constraints.txt
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY cardinal_sim ./cardinal_sim
RUN pip wheel --no-deps --wheel-dir /wheels/app .

# --- runtime stage -------------------------------------------------------------------------------
FROM python:3.11.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 cardinal \
 && useradd --system --uid 10001 --gid cardinal --home-dir /home/cardinal --create-home \
      --shell /usr/sbin/nologin cardinal \
 && mkdir -p /data \
 && chown cardinal:cardinal /data

COPY constraints.txt /usr/share/doc/cardinal/constraints.txt
COPY --from=build /wheels/deps /wheels/deps
RUN pip install --no-index --find-links=/wheels/deps --requirement /usr/share/doc/cardinal/constraints.txt \
 && rm -rf /wheels/deps
COPY --from=build /wheels/app /wheels/app
RUN pip install --no-index --constraint /usr/share/doc/cardinal/constraints.txt /wheels/app/*.whl \
 && rm -rf /wheels
# What the error hints cite: the README (settings, policy keys) and a complete, commented policy file.
COPY README.md examples/policy.toml /usr/share/doc/cardinal/

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

# slim has no curl: ask /healthz with the standard library. INTERNAL_PORT=0 turns the internal server off,
# and with it this check (it then passes: there is nothing to ask).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; p = os.environ.get('INTERNAL_PORT', '9090'); sys.exit(0) if p == '0' else urllib.request.urlopen('http://127.0.0.1:%s/healthz' % p, timeout=4)"]

CMD ["cardinal", "run"]
