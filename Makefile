# Nexus developer commands. `make help` lists them; the README explains the two that matter:
# `make run` (quick start on SQLite with demo data) and `make test` (the whole test suite).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_ARGS ?= -n 2
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_PRODUCTS ?= 200
# Development mode unless a secret key is given (as `run` always does): on a fresh clone
# every target works without any configuration.
DEV := DJANGO_DEBUG=$${DJANGO_DEBUG:-$(if $(DJANGO_SECRET_KEY),0,1)}

.DEFAULT_GOAL := help
.PHONY: help install run test lint format migrate seed superuser demo-accounts schema \
	schema-lint check-deploy ci clean bench stack-check schema-docs schema-docs-check \
	quickstart-check worker beat

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed ## Create .venv and install Nexus with its dev tools

run: install ## Quick start: SQLite + in-process cache, demo data, dev server on :8000
	@DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	@DJANGO_DEBUG=1 $(PY) scripts/seed_database.py --products $(DEMO_PRODUCTS) --if-empty
	@echo ""
	@echo "  Nexus is starting on http://$(HOST):$(PORT)/"
	@echo "  Swagger UI : http://$(HOST):$(PORT)/api/v1/schema/swagger-ui/"
	@echo "  ReDoc      : http://$(HOST):$(PORT)/api/v1/schema/redoc/"
	@echo "  Admin      : http://$(HOST):$(PORT)/admin/  (make superuser creates an account)"
	@echo "  Demo users : make demo-accounts  (new passwords for the demo staff and customer)"
	@if [ -n "$$STRIPE_SECRET_KEY" ]; then \
		echo "  Card payments: on (Stripe API at $${STRIPE_API_BASE:-https://api.stripe.com})"; \
	else \
		echo "  Card payments: off (set STRIPE_SECRET_KEY to take cards; checkout refuses card)"; \
	fi
	@echo ""
	@DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

test: install ## Run the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

worker: install ## A Celery worker for the outbox and scheduled jobs (needs REDIS_URL or CELERY_BROKER_URL)
	$(DEV) $(VENV)/bin/celery -A nexus worker --loglevel INFO

beat: install ## Celery beat, the scheduler of the periodic jobs (run exactly one)
	$(DEV) $(VENV)/bin/celery -A nexus beat --loglevel INFO --schedule $${TMPDIR:-/tmp}/nexus-celerybeat-schedule

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: install ## Apply migrations
	$(DEV) $(PY) manage.py migrate

seed: install ## Demo data (DEMO_PRODUCTS=200 by default; add SEED_ARGS=--reset to start over)
	$(DEV) $(PY) scripts/seed_database.py --products $(DEMO_PRODUCTS) $(SEED_ARGS)

superuser: install ## Create an admin account (asks; SUPERUSER_ARGS=--noinput uses DJANGO_SUPERUSER_*)
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py createsuperuser $(SUPERUSER_ARGS)

demo-accounts: install ## Give the demo staff and customer new passwords and print them
	$(DEV) $(PY) manage.py demo_accounts --reset

schema: install ## Validate the OpenAPI schema and write it to openapi.yml
	DJANGO_DEBUG=1 $(PY) manage.py spectacular --validate --fail-on-warn --file openapi.yml

schema-lint: install ## Redocly lint (0 errors) + a typed openapi-typescript flow under tsc --strict
	PYTHON=$(PY) bash scripts/schema_lint.sh

check-deploy: install ## Django's deployment checks with production-like settings
	DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	JWT_SIGNING_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	DJANGO_ALLOWED_HOSTS=shop.example.com DJANGO_DEBUG=0 \
	$(PY) manage.py check --deploy --fail-level WARNING

bench: install ## wrk benchmark vs a bare Django ceiling, 100k products (BENCH_ARGS="--only list --products 20000")
	@$(PY) -c "import matplotlib" 2>/dev/null || $(PIP) install --quiet -e ".[bench]"
	$(PY) scripts/bench.py $(BENCH_ARGS)

stack-check: install ## Prove the production stack: real nginx + gunicorn, backup/restore drill
	PYTHON=$(PY) bash scripts/stack_check.sh

.PHONY: container-check
container-check: ## Build the image and run both Compose stacks with podman (root; see docs/DEPLOYMENT.md)
	bash scripts/container_check.sh

schema-docs: install ## Regenerate database_schema.sql and docs/DATABASE.md (needs PostgreSQL)
	$(DEV) $(PY) scripts/generate_schema_docs.py

schema-docs-check: install ## Fail if database_schema.sql or docs/DATABASE.md is out of date
	$(DEV) $(PY) scripts/generate_schema_docs.py --check

quickstart-check: install ## Every make target of the quick start on a fresh copy (CI)
	PYTHON=$(PY) bash scripts/quickstart_check.sh

ci: ## What CI runs (fresh venv, PostgreSQL + Redis): bash .ci/run
	bash .ci/run

clean: ## Remove the virtualenv, SQLite database, collected static files and caches
	rm -rf $(VENV) db.sqlite3 staticfiles .ruff_cache
