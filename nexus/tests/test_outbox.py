"""The transactional outbox: written with the change, delivered once, retried with backoff,
failed rows kept and retried from the admin; concurrency on PostgreSQL with real threads."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command, get_commands
from django.db import connection, transaction
from django.utils import timezone

from nexus import outbox
from nexus.mail import email_send_on_commit
from nexus.models import OutboxMessage, OutboxStatus
from nexus.outbox import (
    UnknownOutboxKind,
    outbox_add,
    outbox_backoff_seconds,
    outbox_deliver,
    outbox_prune,
    outbox_retry,
    outbox_sweep,
)
from nexus.testing import requires_postgres
from nexus.tests import outbox_handlers

TEST_HANDLERS = {
    "email": "nexus.mail.email_deliver",
    "test.slow": "nexus.tests.outbox_handlers.slow",
    "test.flaky": "nexus.tests.outbox_handlers.flaky",
    "test.gone": "nexus.tests.outbox_handlers.gone",
}


@pytest.fixture(autouse=True)
def _handlers(settings):
    settings.NEXUS_OUTBOX_HANDLERS = {**settings.NEXUS_OUTBOX_HANDLERS, **TEST_HANDLERS}
    settings.NEXUS_OUTBOX_BACKOFF_SECONDS = 10
    settings.NEXUS_OUTBOX_BACKOFF_MAX_SECONDS = 40
    outbox_handlers.reset()
    outbox._broker_down_until = 0.0
    yield
    outbox._broker_down_until = 0.0


class BrokenSMTP:
    """An email backend whose server refuses every message (like a dead SMTP server)."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server down")


def _undispatched(kind: str, payload: dict) -> OutboxMessage:
    """A pending row whose task has not run yet (as if it sat in the broker's queue)."""
    return OutboxMessage.objects.create(kind=kind, payload=payload, max_attempts=10)


def _due_now(message: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


# --------------------------------------------------------------------------- writing


@pytest.mark.django_db
def test_outbox_add_rolls_back_with_the_change(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        email_send_on_commit(subject="Hi", body="Body", to=["a@example.com"])
        raise RuntimeError("the order failed")
    assert OutboxMessage.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_outbox_add_refuses_an_unknown_kind():
    with pytest.raises(UnknownOutboxKind):
        outbox_add(kind="nope", payload={})
    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_email_is_delivered_after_commit_and_marked_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email_send_on_commit(subject="Order placed", body="Thanks", to=["a@example.com"])
        assert mail.outbox == []  # nothing leaves before the commit
    row = OutboxMessage.objects.get()
    assert row.status == OutboxStatus.DELIVERED
    assert row.attempts == 1
    assert row.delivered_at is not None
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.extra_headers["X-Nexus-Outbox-Id"] == str(row.pk)
    assert sent.extra_headers["Message-ID"] == row.result["message_id"]

    # A second copy of the task (redelivered message, sweeper) finds it done.
    assert outbox_deliver(message_id=row.pk) == "done"
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.attempts == 1


@pytest.mark.django_db
def test_deliver_of_a_missing_row_is_a_no_op():
    assert outbox_deliver(message_id=987654) == "done"


# --------------------------------------------------------------------------- retries


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.NEXUS_OUTBOX_BACKOFF_SECONDS = 10
    settings.NEXUS_OUTBOX_BACKOFF_MAX_SECONDS = 40
    for attempts, full in [(1, 10), (2, 20), (3, 40), (4, 40), (9, 40)]:
        delays = {outbox_backoff_seconds(attempts=attempts) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays), (attempts, delays)
        assert len(delays) > 1  # jittered, not one fixed value


@pytest.mark.django_db
def test_smtp_failure_is_retried_with_backoff_then_delivered(settings):
    settings.EMAIL_BACKEND = "nexus.tests.test_outbox.BrokenSMTP"
    with transaction.atomic():
        row = outbox_add(kind="email", payload={"subject": "S", "body": "B", "to": ["a@x.test"]})
    before = timezone.now()
    assert outbox_deliver(message_id=row.pk) == "retry"
    row.refresh_from_db()
    assert row.status == OutboxStatus.PENDING
    assert row.attempts == 1
    assert "SMTP server down" in row.last_error
    assert before + timedelta(seconds=4) <= row.next_attempt_at <= before + timedelta(seconds=11)
    # Not due yet: an early copy of the task does nothing and counts no attempt.
    assert outbox_deliver(message_id=row.pk) == "not_due"
    row.refresh_from_db()
    assert row.attempts == 1

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _due_now(row)
    assert outbox_deliver(message_id=row.pk) == "delivered"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.DELIVERED, 2, "")
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_row_fails_after_max_attempts_and_admin_retry_revives_it(settings):
    with transaction.atomic():
        row = outbox_add(kind="test.flaky", payload={"fail_times": 3}, max_attempts=3)
    for expected in ["retry", "retry", "failed"]:
        _due_now(row)
        assert outbox_deliver(message_id=row.pk) == expected
    row.refresh_from_db()
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == 3
    assert "receiver down (attempt 3)" in row.last_error
    # A failed row is final until somebody retries it.
    assert outbox_deliver(message_id=row.pk) == "done"
    assert outbox_sweep(overdue_seconds=0) == 0

    assert outbox_retry(message_ids=[row.pk]) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    # Attempts start over: attempt 1 and 2 of the new round, not 4 and 5.
    row.payload = {"fail_times": 1}
    row.save(update_fields=["payload"])
    assert outbox_deliver(message_id=row.pk) == "retry"
    _due_now(row)
    assert outbox_deliver(message_id=row.pk) == "delivered"
    assert outbox_handlers.calls == [row.pk]


@pytest.mark.django_db
def test_permanent_error_fails_at_once():
    with transaction.atomic():
        row = outbox_add(kind="test.gone", payload={})
    assert outbox_deliver(message_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == 1
    assert "410" in row.last_error


@pytest.mark.django_db
def test_admin_lists_failed_rows_and_retries_them(
    admin_user, client, settings, django_capture_on_commit_callbacks
):
    with transaction.atomic():
        failed = outbox_add(kind="test.gone", payload={})
        delivered = outbox_add(kind="test.slow", payload={"sleep": 0})
    outbox_deliver(message_id=failed.pk)
    outbox_deliver(message_id=delivered.pk)
    client.force_login(admin_user)
    page = client.get("/admin/nexus/outboxmessage/?status__exact=failed")
    assert page.status_code == 200
    assert "receiver answered 410 Gone" in page.content.decode()
    # The receiver is fixed (its handler now succeeds); the admin retries the failed row.
    handlers = settings.NEXUS_OUTBOX_HANDLERS
    settings.NEXUS_OUTBOX_HANDLERS = {**handlers, "test.gone": TEST_HANDLERS["test.slow"]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/nexus/outboxmessage/",
            {"action": "retry_selected", "_selected_action": [failed.pk, delivered.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert "1 delivery(ies) queued again." in response.content.decode()
    failed.refresh_from_db()
    delivered.refresh_from_db()
    # Queued again and (inline dispatch) delivered after the action's commit.
    assert failed.status == OutboxStatus.DELIVERED
    assert delivered.attempts == 1


# --------------------------------------------------------------------------- sweeper


@pytest.mark.django_db
def test_sweeper_delivers_overdue_rows_only_and_once_per_margin(settings):
    settings.NEXUS_OUTBOX_SWEEP_AFTER_SECONDS = 60
    with transaction.atomic():
        old = outbox_add(kind="test.slow", payload={"sleep": 0})
        fresh = outbox_add(kind="test.slow", payload={"sleep": 0})
    OutboxMessage.objects.filter(pk=old.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=61)
    )
    assert outbox_sweep() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == OutboxStatus.DELIVERED
    assert fresh.status == OutboxStatus.PENDING
    assert outbox_handlers.calls == [old.pk]


@pytest.fixture
def dead_broker(settings):
    """Celery dispatch to a real broker address where nothing listens (port 1)."""
    from nexus.celery import app

    settings.NEXUS_OUTBOX_DISPATCH = "celery"
    old_url = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app._pool = None
    yield
    app.conf.broker_url = old_url
    app._pool = None


@pytest.mark.django_db
def test_sweeper_with_the_broker_down_leaves_rows_pending(dead_broker):
    """Publishing fails fast, rows wait for the next sweep."""
    with transaction.atomic():
        row = outbox_add(kind="test.slow", payload={"sleep": 0})
    OutboxMessage.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert outbox_sweep() == 1
    row.refresh_from_db()
    assert row.status == OutboxStatus.PENDING
    assert row.enqueued_at is None  # given back: the next sweep tries again


@pytest.mark.django_db(transaction=True)
def test_commit_with_the_broker_down_still_succeeds_and_leaves_the_row(dead_broker):
    import time

    started = time.monotonic()
    with transaction.atomic():
        email_send_on_commit(subject="S", body="B", to=["a@x.test"])
    assert time.monotonic() - started < 3  # no retry loop in the request
    row = OutboxMessage.objects.get()
    assert row.status == OutboxStatus.PENDING
    assert outbox._broker_down_until > 0  # the breaker skips the broker for a while


@pytest.mark.django_db
def test_prune_deletes_old_delivered_rows_and_keeps_failed_ones(settings):
    settings.NEXUS_OUTBOX_KEEP_DAYS = 7
    with transaction.atomic():
        old = outbox_add(kind="test.slow", payload={"sleep": 0})
        recent = outbox_add(kind="test.slow", payload={"sleep": 0})
        failed = outbox_add(kind="test.gone", payload={})
    for row in (old, recent, failed):
        outbox_deliver(message_id=row.pk)
    long_ago = timezone.now() - timedelta(days=8)
    OutboxMessage.objects.filter(pk__in=[old.pk, failed.pk]).update(
        delivered_at=long_ago, created_at=long_ago
    )
    assert outbox_prune() == 1
    assert set(OutboxMessage.objects.values_list("id", flat=True)) == {recent.pk, failed.pk}


# --------------------------------------------------------------------------- concurrency


def _in_threads(count: int, target) -> list:
    barrier = threading.Barrier(count)
    results: list = []
    lock = threading.Lock()

    def run():
        try:
            barrier.wait()
            value = target()
            with lock:
                results.append(value)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_same_row_delivered_by_concurrent_tasks_exactly_once():
    row = _undispatched("test.slow", {"sleep": 0.3})
    outcomes = _in_threads(6, lambda: outbox_deliver(message_id=row.pk))
    assert sorted(outcomes).count("delivered") == 1
    assert set(outcomes) <= {"delivered", "busy", "done"}
    assert outbox_handlers.calls == [row.pk]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.DELIVERED, 1)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_workers_racing_over_many_rows_deliver_each_once():
    ids = [_undispatched("test.slow", {"sleep": 0.01}).pk for _ in range(25)]

    def drain():
        return [outbox_deliver(message_id=message_id) for message_id in ids]

    outcomes = [o for batch in _in_threads(4, drain) for o in batch]
    assert outcomes.count("delivered") == 25
    assert sorted(outbox_handlers.calls) == ids
    assert OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED, attempts=1).count() == 25


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_sweeper_skips_a_row_while_it_is_being_delivered(settings):
    settings.NEXUS_OUTBOX_SWEEP_AFTER_SECONDS = 0
    row = _undispatched("test.slow", {"sleep": 0.5})
    OutboxMessage.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=5)
    )
    started = threading.Event()

    def deliver():
        started.set()
        try:
            return outbox_deliver(message_id=row.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=deliver)
    worker.start()
    started.wait()
    import time

    time.sleep(0.15)  # the delivery holds the row lock now
    swept = outbox_sweep()
    worker.join(10)
    assert swept == 0
    assert outbox_handlers.calls == [row.pk]


# --------------------------------------------------------------------------- jobs


def test_every_scheduled_job_is_a_management_command(settings):
    from nexus.celery import app

    commands = get_commands()
    assert set(app.conf.beat_schedule) == set(settings.NEXUS_SCHEDULED_JOBS)
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] == "nexus.run_command", name
        assert entry["args"][0] in commands, name
    assert {entry["args"][0] for entry in app.conf.beat_schedule.values()} >= {
        "outbox_sweep",
        "idempotency_prune",
        "carts_abandoned",
        "flushexpiredtokens",
        "auth_prune",
        "orders_expire_unpaid",
        "webhooks_prune",
        "catalog_recount",
    }


def test_celery_is_configured_for_at_least_once_with_json(settings):
    from nexus.celery import app
    from nexus.tasks import outbox_deliver_task

    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit
    assert outbox_deliver_task.max_retries == 5
    assert outbox_deliver_task.retry_jitter is True


@pytest.mark.django_db
def test_run_command_task_runs_the_job(settings):
    from nexus.tasks import run_command_task

    with transaction.atomic():
        row = outbox_add(kind="test.slow", payload={"sleep": 0})
    outbox_deliver(message_id=row.pk)
    OutboxMessage.objects.filter(pk=row.pk).update(delivered_at=timezone.now() - timedelta(days=30))
    summary = run_command_task.apply(args=["outbox_prune"]).get()
    assert summary == "Deleted 1 delivered outbox row(s)."
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_outbox_sweep_command_reports(capsys):
    call_command("outbox_sweep", "--overdue-seconds", "0")
    assert "Re-dispatched 0 overdue outbox row(s)" in capsys.readouterr().out


def test_celery_is_configured_by_every_celery_setting():
    """nexus.celery reads Django's CELERY_* settings into a plain mapping once: each one
    still reaches Celery's configuration under its Celery name."""
    from django.conf import settings

    from nexus.celery import app

    names = [name for name in dir(settings) if name.startswith("CELERY_")]
    assert "CELERY_BROKER_URL" in names and "CELERY_BEAT_SCHEDULE" in names
    for name in names:
        assert app.conf[name.removeprefix("CELERY_").lower()] == getattr(settings, name), name
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
