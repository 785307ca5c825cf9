"""Call dispositions (话后小结) and knowledge items; outbox messages need not belong to a ticket.

A ``call.disposition`` or ``knowledge.item`` message may concern no ticket, so ``outbox.ticket_id``
becomes nullable (issue 21).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('call_dispositions',
    sa.Column('call_id', sa.String(length=80), nullable=False),
    sa.Column('agent', sa.String(length=80), nullable=False),
    sa.Column('caller_number', sa.String(length=40), nullable=False),
    sa.Column('hotline', sa.String(length=40), nullable=False),
    sa.Column('queue', sa.String(length=80), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('line', sa.String(length=40), nullable=False),
    sa.Column('line_name', sa.String(length=40), nullable=False),
    sa.Column('connected_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=40), nullable=True),
    sa.Column('online', sa.Boolean(), nullable=True),
    sa.Column('request', sa.Boolean(), nullable=True),
    sa.Column('request_type', sa.String(length=40), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('ticket_id', sa.String(length=40), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=True),
    sa.Column('wrapup_seconds', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('call_id')
    )
    with op.batch_alter_table('call_dispositions', schema=None) as batch_op:
        batch_op.create_index('ix_call_dispositions_ended_at', ['ended_at'], unique=False)
        batch_op.create_index('ix_call_dispositions_status', ['status'], unique=False)

    op.create_table('knowledge_items',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('call_id', sa.String(length=80), nullable=False),
    sa.Column('agent', sa.String(length=80), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('department', sa.String(length=120), nullable=False),
    sa.Column('specialist_id', sa.String(length=80), nullable=False),
    sa.Column('specialist_name', sa.String(length=80), nullable=False),
    sa.Column('line', sa.String(length=40), nullable=False),
    sa.Column('leg_started_at', sa.DateTime(), nullable=True),
    sa.Column('leg_ended_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('knowledge_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_items_call_id'), ['call_id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('ticket_id', existing_type=sa.String(length=40), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('ticket_id', existing_type=sa.String(length=40), nullable=False)
    with op.batch_alter_table('knowledge_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_items_call_id'))
    op.drop_table('knowledge_items')
    with op.batch_alter_table('call_dispositions', schema=None) as batch_op:
        batch_op.drop_index('ix_call_dispositions_status')
        batch_op.drop_index('ix_call_dispositions_ended_at')
    op.drop_table('call_dispositions')
