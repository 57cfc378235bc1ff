"""events follow-up (issue 5)

Revision ID: c1a9e2f7d007
Revises: c1a9e2f7d006
Create Date: 2026-11-23 04:06:00
"""

revision = 'c1a9e2f7d007'
down_revision = 'c1a9e2f7d006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
