# VillageBot: the web app, the Telegram bot (when VILLAGEBOT_TELEGRAM_TOKEN is set) and the scheduler
# in one process. Build: docker build -t villagebot:0.1.0 .   Several hosts: docker compose up -d
# (see docker-compose.yml and docs/operations.md). Versions are pinned: the base image by its full tag,
# Debian packages by version, Python packages by requirements.lock (scripts/lock.sh regenerates it).

# --- builder: a virtual environment with the pinned dependencies, then the package itself ----------
FROM python:3.11.7-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
RUN pip install --no-cache-dir --requirement requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir --no-deps .

# --- runtime: slim Python, the venv, the catalogues, a CJK font for signboards, no root -----------
FROM python:3.11.7-slim-bookworm AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei=0.2.0-beta-3.1 fontconfig=2.14.1-4 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 villagebot \
    && useradd --create-home --uid 10001 --gid 10001 villagebot \
    && mkdir -p /data \
    && chown 10001:10001 /data
COPY --from=builder /opt/venv /opt/venv
COPY locales /app/locales
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VILLAGEBOT_DATA_DIR=/data \
    VILLAGEBOT_LOCALES_DIR=/app/locales \
    VILLAGEBOT_LOG_FORMAT=json
WORKDIR /app
USER 10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
CMD ["sh", "-c", "villagebot db upgrade && exec villagebot serve --host 0.0.0.0 --port 8000"]
