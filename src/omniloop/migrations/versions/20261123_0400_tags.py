"""tag definitions, runs and lifecycle

Revision ID: c1a9e2f7d001
Revises: b0e54a9159bf
Create Date: 2026-11-23 04:00:00
"""

revision = 'c1a9e2f7d001'
down_revision = 'b0e54a9159bf'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
