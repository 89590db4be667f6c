"""Static checks of the container files, for machines without a Docker engine.

Parses docker-compose.yml, docker-compose.production.yml, .env.prod.example, the Dockerfile,
.dockerignore and nginx/nexus.conf.template, and checks the promises docs/DEPLOYMENT.md makes:
no published database or Redis port, health checks everywhere, secrets only by
interpolation from the env file, every variable documented. Exit 1 on any problem.
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY_RE = re.compile(r"(PASSWORD|SECRET_KEY|SIGNING_KEY|_AUTH)$")
# ${VAR}, ${VAR:-default}, ${VAR:?message}; $$ is an escaped dollar.
INTERPOLATION_RE = re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)")

problems: list[str] = []


def problem(message: str) -> None:
    problems.append(message)


def load_yaml(name: str) -> dict:
    try:
        data = yaml.safe_load((ROOT / name).read_text())
    except (OSError, yaml.YAMLError) as exc:
        problem(f"{name}: does not parse: {exc}")
        return {}
    if not isinstance(data, dict) or "services" not in data:
        problem(f"{name}: no services")
        return {}
    return data


def env_items(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def read_env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate((ROOT / ".env.prod.example").read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            problem(f".env.prod.example:{number}: not KEY=VALUE")
            continue
        key, value = line.split("=", 1)
        if not value:
            problem(f".env.prod.example: {key} has no example value")
        values[key] = value
    return values


def check_production(env_example: dict[str, str]) -> None:
    name = "docker-compose.production.yml"
    data = load_yaml(name)
    services = data.get("services", {})
    for required in ("db", "redis", "app", "nginx", "broker", "worker", "beat"):
        if required not in services:
            problem(f"{name}: no {required} service")
    for svc in ("db", "redis", "app", "broker", "worker", "beat"):
        if services.get(svc, {}).get("ports"):
            problem(f"{name}: {svc} publishes ports {services[svc]['ports']}")
    nginx_ports = {
        str(p).split(":")[-2] if ":" in str(p) else str(p)
        for p in services.get("nginx", {}).get("ports", [])
    }
    if not {"80", "443"} <= nginx_ports:
        problem(f"{name}: nginx must publish 80 and 443 (has {sorted(nginx_ports)})")
    for svc_name, svc in services.items():
        if svc.get("profiles"):
            continue  # one-off tools
        if not svc.get("healthcheck", {}).get("test"):
            problem(f"{name}: {svc_name} has no healthcheck")
        if not svc.get("restart"):
            problem(f"{name}: {svc_name} has no restart policy")
        for key, value in env_items(svc).items():
            if SECRET_KEY_RE.search(key) and not INTERPOLATION_RE.search(value):
                problem(f"{name}: {svc_name}.{key} is a literal, not from the env file")
    app = services.get("app", {})
    if ".env.prod" not in [str(f) for f in app.get("env_file", [])]:
        problem(f"{name}: app does not read env_file .env.prod")
    if not str(app.get("deploy", {}).get("replicas", "")):
        problem(f"{name}: app has no deploy.replicas")
    for svc_name, svc in services.items():
        deploy = svc.get("deploy") or {}
        if "replicas" in deploy and deploy.get("mode") != "replicated":
            # Compose's default, but podman-compose honours replicas only when it is spelled out.
            problem(f"{name}: {svc_name} has deploy.replicas without deploy.mode: replicated")
    for key in ("NEXUS_NUM_PROXIES", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS"):
        if key not in env_items(app):
            problem(f"{name}: app does not set {key}")
    if "db" in services and not any("pgdata" in str(v) for v in services["db"].get("volumes", [])):
        problem(f"{name}: db has no data volume")
    if "--requirepass" not in [str(a) for a in services.get("redis", {}).get("command", [])]:
        problem(f"{name}: redis has no password")
    check_background_work(name, services, production=True)

    # The nginx image substitutes only variables set in its environment: a template variable
    # it does not set would reach nginx as a literal ${...}.
    template = (ROOT / "nginx/nexus.conf.template").read_text()
    template_vars = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", template))
    nginx = services.get("nginx", {})
    missing = template_vars - set(env_items(nginx))
    if missing:
        problem(f"{name}: nginx does not set template variables {sorted(missing)}")
    if not any(
        "/etc/nginx/templates/" in str(v) and "nexus.conf.template" in str(v)
        for v in nginx.get("volumes", [])
    ):
        problem(
            f"{name}: nginx does not mount nginx/nexus.conf.template into /etc/nginx/templates/"
        )

    # Every variable the file interpolates is documented in .env.prod.example.
    used = set(INTERPOLATION_RE.findall((ROOT / name).read_text()))
    undocumented = used - set(env_example)
    if undocumented:
        problem(f"{name}: variables missing from .env.prod.example: {sorted(undocumented)}")


def check_background_work(name: str, services: dict, *, production: bool) -> None:
    """The broker never evicts and keeps an append-only file; workers and beat reach it."""
    broker = [str(a) for a in services.get("broker", {}).get("command", [])]
    joined = " ".join(broker)
    if "--maxmemory-policy noeviction" not in joined:
        problem(f"{name}: the broker Redis must run --maxmemory-policy noeviction")
    if "--appendonly yes" not in joined:
        problem(f"{name}: the broker Redis must run --appendonly yes")
    if production and "--requirepass" not in broker:
        problem(f"{name}: broker has no password")
    for svc in ("app", "worker", "beat"):
        url = env_items(services.get(svc, {})).get("CELERY_BROKER_URL", "")
        if "@broker:" not in url and "//broker:" not in url:
            problem(f"{name}: {svc} does not point CELERY_BROKER_URL at the broker service")
    for svc, word in (("worker", "worker"), ("beat", "beat")):
        service = services.get(svc, {})
        command = [
            str(a) for a in (service.get("entrypoint") or []) + (service.get("command") or [])
        ]
        if "celery" not in command or word not in command:
            problem(f"{name}: {svc} does not run `celery ... {word}`")
    if production and str(services.get("beat", {}).get("deploy", {}).get("replicas", "")) != "1":
        problem(f"{name}: beat must run exactly one replica (deploy.replicas: 1)")


def check_development() -> None:
    name = "docker-compose.yml"
    data = load_yaml(name)
    services = data.get("services", {})
    for svc_name, svc in services.items():
        for port in svc.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                problem(f"{name}: {svc_name} publishes {port} beyond localhost")
        if not svc.get("healthcheck", {}).get("test"):
            problem(f"{name}: {svc_name} has no healthcheck")
    image = str(services.get("db", {}).get("image", ""))
    match = re.search(r"postgres:(\d+)", image)
    if not match or int(match.group(1)) < 15:
        problem(f"{name}: db must be PostgreSQL 15+ (image {image!r})")
    if not str(services.get("redis", {}).get("image", "")).startswith("redis:7"):
        problem(f"{name}: redis must be Redis 7")
    check_background_work(name, services, production=False)


def check_env_example(env_example: dict[str, str]) -> None:
    for key, value in env_example.items():
        if SECRET_KEY_RE.search(key) and "CHANGE_ME" not in value:
            problem(f".env.prod.example: {key} holds a value that looks real; use CHANGE_ME")


def check_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    instructions = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if sum(line.upper().startswith("FROM ") for line in instructions) < 2:
        problem("Dockerfile: not multi-stage")
    users = [line.split(None, 1)[1] for line in instructions if line.upper().startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problem("Dockerfile: the final stage does not run as a non-root user")
    for keyword in ("HEALTHCHECK", "ENTRYPOINT"):
        if not any(line.upper().startswith(keyword) for line in instructions):
            problem(f"Dockerfile: no {keyword}")
    if "collectstatic" not in text:
        problem("Dockerfile: no collectstatic at build")
    if "gunicorn.conf.py" not in text:
        problem("Dockerfile: Gunicorn does not use gunicorn.conf.py")
    for line in instructions:
        if re.match(r"(ENV|ARG)\s", line, re.I) and SECRET_KEY_RE.search(line.upper()):
            problem(f"Dockerfile: secret-looking {line!r}")
    ignore = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in (".git", ".env", ".venv/"):
        if entry not in ignore:
            problem(f".dockerignore: does not exclude {entry}")


def main() -> int:
    env_example = read_env_example()
    check_production(env_example)
    check_development()
    check_env_example(env_example)
    check_dockerfile()
    for message in problems:
        print(f"check_compose: {message}", file=sys.stderr)
    if not problems:
        print("check_compose: compose files, env example, Dockerfile and .dockerignore OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
