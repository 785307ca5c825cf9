"""Which layer instance recorded or swept each disposition: a restart rebuilds today's live figures from its
own only (another instance's reach a shared wall through Redis from that instance).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('call_dispositions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instance', sa.String(length=80), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('call_dispositions', schema=None) as batch_op:
        batch_op.drop_column('instance')
