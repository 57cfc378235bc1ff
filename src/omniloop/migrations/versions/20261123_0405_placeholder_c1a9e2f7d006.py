"""customer lists can be archived; index customers.updated_at (issue 4 follow-up)

``customer_lists.archived_at``: an archived list (归档名单) leaves the pickers but keeps serving the
audiences and tags that use it. ``ix_customers_updated_at``: the incremental feature refresh selects
the customers changed since the previous feature version by ``updated_at``.

Revision ID: c1a9e2f7d006
Revises: c1a9e2f7d005
Create Date: 2026-11-23 04:05:00
"""
import sqlalchemy as sa
from alembic import op

import omniloop.core.db

revision = 'c1a9e2f7d006'
down_revision = 'c1a9e2f7d005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customer_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_updated_at'))
    with op.batch_alter_table('customer_lists', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
