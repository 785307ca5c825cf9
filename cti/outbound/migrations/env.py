"""Alembic environment for the outbound schema; run by cti.schema (start, `cti db upgrade`) or `alembic`."""

from alembic import context

from cti.outbound.store import SCHEMA
from cti.schema import run_env

run_env(context, SCHEMA)
