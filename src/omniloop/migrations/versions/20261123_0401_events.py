"""event sources, identities and events

Revision ID: c1a9e2f7d002
Revises: c1a9e2f7d001
Create Date: 2026-11-23 04:00:00
"""

revision = 'c1a9e2f7d002'
down_revision = 'c1a9e2f7d001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
