# syntax=docker/dockerfile:1.7
# Nexus API image: wheels are built in one stage, the runtime is a slim Python with a
# virtualenv, the code, collected static files and no compiler, running as a non-root user.
# No secret is needed or baked in: settings come from the environment at run time.

ARG PYTHON_VERSION=3.11
# Both stages start from this image. Any Debian bookworm with `python` (3.11+, with venv)
# will do: CI builds it from Debian packages (scripts/container_check.sh) and passes
# --build-arg BASE_IMAGE=...; the two stages must share it (the venv links to its python).
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim-bookworm

# ---------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build
COPY pyproject.toml ./
# The runtime dependencies straight from pyproject.toml, so the image never drifts from it
# (the project itself is not an installable package: packages = []). They go into the venv
# here; the runtime stage copies only the venv, so no wheel or compiler reaches it (a
# `COPY /wheels` + `rm` would leave the wheels in a layer of their own).
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install -r requirements.txt

# ---------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    DJANGO_MEDIA_ROOT=/app/media \
    GUNICORN_BIND=0.0.0.0:8000 \
    GUNICORN_WORKER_TMP_DIR=/dev/shm

# A fixed uid/gid so that volume permissions (media) are predictable on every host.
RUN groupadd --system --gid 10001 nexus \
    && useradd --system --uid 10001 --gid nexus --home-dir /app --shell /usr/sbin/nologin nexus

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
COPY --chown=nexus:nexus . .

# collectstatic needs settings but no secret and no database: DEBUG=1 only for this step
# (it lets settings load without production secrets); nothing of it survives the layer.
RUN DJANGO_DEBUG=1 python manage.py collectstatic --noinput \
    && mkdir -p /app/media \
    && chown -R nexus:nexus /app/staticfiles /app/media

USER nexus:nexus
EXPOSE 8000

# Liveness only (/health/ touches nothing external). Sent with an allowed host name so that
# ALLOWED_HOSTS does not turn the probe into a 400.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "scripts/healthcheck.py"]

# Gunicorn gets SIGTERM directly (exec form) and drains requests for graceful_timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["gunicorn", "--config", "gunicorn.conf.py"]
