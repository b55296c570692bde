"""The Celery entry point (`celery -A worker`, or `dialer worker`, which starts the same
app with the queues and pool the call processes need). The app, its signals and its
tasks live in dialer/jobs/tasks.py."""

from dialer.jobs.tasks import app, dispatch, place_call

__all__ = ["app", "dispatch", "place_call"]
