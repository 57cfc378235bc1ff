"""triggers, firings and customer holdings

Revision ID: c1a9e2f7d004
Revises: c1a9e2f7d003
Create Date: 2026-11-23 04:03:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import omniloop.core.db

revision = 'c1a9e2f7d004'
down_revision = 'c1a9e2f7d003'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')
_TS = omniloop.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('customer_holdings',
    sa.Column('id', _ID, nullable=False),
    sa.Column('customer_id', _ID, nullable=False),
    sa.Column('product_code', sa.String(length=32), nullable=False),
    sa.Column('product_name', sa.String(length=100), nullable=False),
    sa.Column('product_type', sa.String(length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('maturity_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE',
                            name=op.f('fk_customer_holdings_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_holdings')),
    )
    op.create_index(op.f('ix_customer_holdings_customer_id'), 'customer_holdings', ['customer_id'], unique=False)
    op.create_index(op.f('ix_customer_holdings_maturity_date'), 'customer_holdings', ['maturity_date'], unique=False)

    op.create_table('triggers',
    sa.Column('id', _ID, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('definition', _JSON, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('owner_org_id', _ID, nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('active_since', _TS, nullable=True),
    sa.Column('created_by_id', _ID, nullable=True),
    sa.Column('updated_by_id', _ID, nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('updated_at', _TS, nullable=False),
    sa.ForeignKeyConstraint(['owner_org_id'], ['orgs.id'], name=op.f('fk_triggers_owner_org_id_orgs')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_triggers_created_by_id_users')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_triggers_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_triggers')),
    )
    op.create_index(op.f('ix_triggers_kind'), 'triggers', ['kind'], unique=False)
    op.create_index(op.f('ix_triggers_status'), 'triggers', ['status'], unique=False)
    op.create_index(op.f('ix_triggers_owner_org_id'), 'triggers', ['owner_org_id'], unique=False)

    op.create_table('trigger_firings',
    sa.Column('id', _ID, nullable=False),
    sa.Column('trigger_id', _ID, nullable=False),
    sa.Column('customer_id', _ID, nullable=False),
    sa.Column('occurrence_key', sa.String(length=200), nullable=False),
    sa.Column('event_ids', _JSON, nullable=False),
    sa.Column('accepted_at', _TS, nullable=True),
    sa.Column('fired_at', _TS, nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('details', _JSON, nullable=True),
    sa.ForeignKeyConstraint(['trigger_id'], ['triggers.id'], ondelete='CASCADE',
                            name=op.f('fk_trigger_firings_trigger_id_triggers')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE',
                            name=op.f('fk_trigger_firings_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trigger_firings')),
    sa.UniqueConstraint('trigger_id', 'customer_id', 'occurrence_key',
                        name='uq_trigger_firings_trigger_id_customer_id_occurrence_key'),
    )
    op.create_index(op.f('ix_trigger_firings_customer_id'), 'trigger_firings', ['customer_id'], unique=False)
    op.create_index('ix_trigger_firings_trigger_id_id', 'trigger_firings', ['trigger_id', 'id'], unique=False)
    op.create_index('ix_trigger_firings_trigger_id_fired_at', 'trigger_firings', ['trigger_id', 'fired_at'],
                    unique=False)

    op.create_table('trigger_states',
    sa.Column('id', _ID, nullable=False),
    sa.Column('trigger_id', _ID, nullable=False),
    sa.Column('customer_id', _ID, nullable=False),
    sa.Column('match_key', sa.String(length=200), nullable=False),
    sa.Column('occurrence_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('start_event_id', sa.BigInteger(), nullable=False),
    sa.Column('started_at', _TS, nullable=False),
    sa.Column('accepted_at', _TS, nullable=False),
    sa.Column('deadline_at', _TS, nullable=False),
    sa.Column('closed_event_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('updated_at', _TS, nullable=False),
    sa.ForeignKeyConstraint(['trigger_id'], ['triggers.id'], ondelete='CASCADE',
                            name=op.f('fk_trigger_states_trigger_id_triggers')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE',
                            name=op.f('fk_trigger_states_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trigger_states')),
    sa.UniqueConstraint('trigger_id', 'customer_id', 'occurrence_key',
                        name='uq_trigger_states_trigger_id_customer_id_occurrence_key'),
    )
    op.create_index('ix_trigger_states_lookup', 'trigger_states',
                    ['trigger_id', 'customer_id', 'match_key', 'status'], unique=False)
    op.create_index('ix_trigger_states_status_deadline_at', 'trigger_states', ['status', 'deadline_at'],
                    unique=False)

    op.create_table('trigger_cursors',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('last_event_id', sa.BigInteger(), nullable=False),
    sa.Column('last_at', _TS, nullable=True),
    sa.Column('updated_at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_trigger_cursors')),
    )

    op.create_table('trigger_threshold_marks',
    sa.Column('trigger_id', _ID, nullable=False),
    sa.Column('customer_id', _ID, nullable=False),
    sa.Column('value_fen', sa.BigInteger(), nullable=False),
    sa.Column('since', _TS, nullable=False),
    sa.ForeignKeyConstraint(['trigger_id'], ['triggers.id'], ondelete='CASCADE',
                            name=op.f('fk_trigger_threshold_marks_trigger_id_triggers')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE',
                            name=op.f('fk_trigger_threshold_marks_customer_id_customers')),
    sa.PrimaryKeyConstraint('trigger_id', 'customer_id', name=op.f('pk_trigger_threshold_marks')),
    )


def downgrade() -> None:
    op.drop_table('trigger_threshold_marks')
    op.drop_table('trigger_cursors')
    op.drop_table('trigger_states')
    op.drop_table('trigger_firings')
    op.drop_table('triggers')
    op.drop_table('customer_holdings')
