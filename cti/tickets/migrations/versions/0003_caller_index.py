"""Index on tickets.caller_number: the agent toolbar shows a caller's last five tickets on every pop.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:00:00.000000
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_caller_number_created_at', ['caller_number', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_caller_number_created_at')
