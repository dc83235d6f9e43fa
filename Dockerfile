# VillageBot: the web app, the Telegram bot (when VILLAGEBOT_TELEGRAM_TOKEN is set) and the scheduler
# in one process. Build: docker build -t villagebot .   Run with PostgreSQL: docker compose up -d
# (see docker-compose.yml and docs/operations.md).

# --- builder: a virtual environment with the package and its dependencies -------------------------
FROM python:3.12-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --upgrade pip && pip install .

# --- runtime: slim Python, the venv, the catalogues, a CJK font for signboards, no root -----------
FROM python:3.12-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei fontconfig \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group villagebot \
    && mkdir -p /data \
    && chown villagebot:villagebot /data
COPY --from=builder /opt/venv /opt/venv
COPY locales /app/locales
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VILLAGEBOT_DATA_DIR=/data \
    VILLAGEBOT_LOCALES_DIR=/app/locales
WORKDIR /app
USER villagebot
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
CMD ["sh", "-c", "villagebot db upgrade && exec villagebot serve --host 0.0.0.0 --port 8000"]
