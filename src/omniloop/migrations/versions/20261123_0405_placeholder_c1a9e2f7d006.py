"""customer lists archive (issue 4 follow-up)

Revision ID: c1a9e2f7d006
Revises: c1a9e2f7d005
Create Date: 2026-11-23 04:05:00
"""

revision = 'c1a9e2f7d006'
down_revision = 'c1a9e2f7d005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
