"""outbound_followups.network_failures: calls the trunk or network could not put through (issue 13).

The layer of issue 13 added this column itself at start (ALTER TABLE when missing), so an unversioned
database stamped at 0001 may have it already: added only when missing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outbound_followups")}
    if "network_failures" not in have:
        with op.batch_alter_table('outbound_followups', schema=None) as batch_op:
            batch_op.add_column(sa.Column('network_failures', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('outbound_followups', schema=None) as batch_op:
        batch_op.drop_column('network_failures')
