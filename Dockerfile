# mitral-fhir container image.
#
#   docker build -t mitral-fhir .
#   docker run -p 8080:8080 -v mitral-data:/data mitral-fhir
#   docker run -p 8080:8080 \
#       -e MITRAL_FHIR_DATABASE_URL=postgresql://fhir@db:5432/fhir mitral-fhir
#   docker run --rm -e MITRAL_FHIR_DATABASE_URL=... mitral-fhir db upgrade
#
# Configuration is the same MITRAL_FHIR_* environment variables as everywhere else
# (docs/configuration.md); the ENV lines below are the container's defaults.

# --- build: install the project and its dependencies into a virtualenv --------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only what the wheel needs: the metadata first, then the package (with its JSON data and
# Alembic migrations, shipped as package data).
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install .

# --- runtime: the virtualenv and nothing else ---------------------------------------------
FROM python:3.11-slim

LABEL org.opencontainers.image.title="mitral-fhir" \
      org.opencontainers.image.description="FHIR R4 (4.0.1) service for the regional mitral valve network" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --system --gid 10001 mitral \
    && useradd --system --uid 10001 --gid mitral --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin mitral \
    && mkdir /data \
    && chown mitral:mitral /data

# Owned by root and read-only to the service user: the code cannot be changed at run time.
COPY --from=build /opt/venv /opt/venv
# Data the service loads at start-up: the terminology content, the built profiles, the
# per-centre ingest mappings and the population denominators of the pathway metrics.
COPY terminology /opt/mitral-fhir/terminology
COPY profiles/build /opt/mitral-fhir/profiles/build
COPY mappings /opt/mitral-fhir/mappings
COPY pathway/population.json /opt/mitral-fhir/pathway/population.json

# Defaults for the container. SQLite on the /data volume is the embedded default; point
# MITRAL_FHIR_DATABASE_URL at PostgreSQL for production. The schema is migrated at start-up
# unless MITRAL_FHIR_AUTO_MIGRATE=false (then run the image with `db upgrade` first).
ENV MITRAL_FHIR_DATABASE_URL=sqlite:////data/mitral-fhir.sqlite3 \
    MITRAL_FHIR_HOST=0.0.0.0 \
    MITRAL_FHIR_PORT=8080 \
    MITRAL_FHIR_WORKERS=1 \
    MITRAL_FHIR_AUTO_MIGRATE=true \
    MITRAL_FHIR_TERMINOLOGY_DIR=/opt/mitral-fhir/terminology \
    MITRAL_FHIR_PROFILES_DIR=/opt/mitral-fhir/profiles/build \
    MITRAL_FHIR_MAPPINGS_DIR=/opt/mitral-fhir/mappings \
    MITRAL_FHIR_POPULATION_FILE=/opt/mitral-fhir/pathway/population.json \
    MITRAL_FHIR_LOG_LEVEL=info

USER mitral
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# No curl in the slim image: ask /healthz with the standard library. Exits non-zero on a
# connection error, a timeout or an HTTP error status.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('MITRAL_FHIR_PORT', '8080') + '/healthz', timeout=4)"]

ENTRYPOINT ["mitral-fhir"]
CMD ["serve", "--host", "0.0.0.0"]
