"""Alembic environment for the monitor schema; run by cti.schema (start, `cti db upgrade`) or `alembic`."""

from alembic import context

from cti.schema import run_env
from queue_monitor.storage import SCHEMA

run_env(context, SCHEMA)
