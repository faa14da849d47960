"""queue: inbound.order_key, so one user's messages are processed in order across processes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_key', sa.String(length=160), nullable=True))
        batch_op.create_index('ix_inbound_order', ['order_key', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_order')
        batch_op.drop_column('order_key')
