"""event sources, identities and events

Revision ID: c1a9e2f7d002
Revises: c1a9e2f7d001
Create Date: 2026-11-23 04:00:00

On PostgreSQL ``events`` is partitioned by range on ``day`` (the UTC day of the event) with a default
partition; day partitions are created ahead by ``omniloop.events.store.ensure_partitions`` (the
``events.partitions`` job and the ingest path). SQLite gets a plain table whose ``id`` is the rowid.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import omniloop.core.db

revision = 'c1a9e2f7d002'
down_revision = 'c1a9e2f7d001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')
_TS = omniloop.core.db.UTCDateTime(timezone=True)

_EVENTS_PG = """
CREATE SEQUENCE events_id_seq;
CREATE TABLE events (
    id bigint NOT NULL DEFAULT nextval('events_id_seq'),
    day date NOT NULL,
    source_id bigint NOT NULL,
    message_id varchar(100) NOT NULL,
    type varchar(16) NOT NULL,
    name varchar(200),
    anonymous_id varchar(100),
    user_id varchar(100),
    customer_id bigint,
    ts timestamptz NOT NULL,
    sent_at timestamptz,
    received_at timestamptz NOT NULL,
    original_timestamp timestamptz,
    properties jsonb,
    context jsonb,
    CONSTRAINT pk_events PRIMARY KEY (id, day)
) PARTITION BY RANGE (day);
ALTER SEQUENCE events_id_seq OWNED BY events.id;
CREATE TABLE events_default PARTITION OF events DEFAULT;
"""

_EVENT_INDEXES = [
    ("ix_events_customer_id_ts", ["customer_id", "ts"]),
    ("ix_events_name_ts", ["name", "ts"]),
    ("ix_events_anonymous_id", ["anonymous_id"]),
    ("ix_events_user_id", ["user_id"]),
]


def upgrade() -> None:
    op.create_table('event_sources',
    sa.Column('id', _ID, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('org_id', _ID, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', _ID, nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('rotated_by_id', _ID, nullable=True),
    sa.Column('rotated_at', _TS, nullable=True),
    sa.Column('updated_at', _TS, nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_event_sources_org_id_orgs')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_event_sources_created_by_id_users')),
    sa.ForeignKeyConstraint(['rotated_by_id'], ['users.id'], name=op.f('fk_event_sources_rotated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_sources')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_event_sources_key_hash')),
    )
    op.create_index(op.f('ix_event_sources_org_id'), 'event_sources', ['org_id'], unique=False)

    op.create_table('event_message_ids',
    sa.Column('source_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.String(length=100), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('source_id', 'message_id', name=op.f('pk_event_message_ids')),
    )
    op.create_index(op.f('ix_event_message_ids_day'), 'event_message_ids', ['day'], unique=False)

    op.create_table('event_identities',
    sa.Column('id', _ID, nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('customer_id', _ID, nullable=True),
    sa.Column('user_id', sa.String(length=100), nullable=True),
    sa.Column('source_id', sa.BigInteger(), nullable=True),
    sa.Column('first_seen_at', _TS, nullable=False),
    sa.Column('linked_at', _TS, nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='SET NULL',
                            name=op.f('fk_event_identities_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_identities')),
    sa.UniqueConstraint('value', name=op.f('uq_event_identities_value')),
    )
    op.create_index(op.f('ix_event_identities_customer_id'), 'event_identities', ['customer_id'], unique=False)
    op.create_index(op.f('ix_event_identities_user_id'), 'event_identities', ['user_id'], unique=False)

    op.create_table('event_identity_merges',
    sa.Column('id', _ID, nullable=False),
    sa.Column('customer_id', _ID, nullable=False),
    sa.Column('identity', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('previous_customer_id', sa.BigInteger(), nullable=True),
    sa.Column('source_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.String(length=100), nullable=False),
    sa.Column('events_attached', sa.Integer(), nullable=False),
    sa.Column('at', _TS, nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE',
                            name=op.f('fk_event_identity_merges_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_identity_merges')),
    )
    op.create_index(op.f('ix_event_identity_merges_customer_id'), 'event_identity_merges', ['customer_id'],
                    unique=False)

    op.create_table('event_dirty_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('marked_at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_event_dirty_days')),
    )

    if op.get_bind().dialect.name == 'postgresql':
        for statement in _EVENTS_PG.split(';'):
            if statement.strip():
                op.execute(statement)
    else:
        op.create_table('events',
        sa.Column('id', sa.INTEGER(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('source_id', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.String(length=100), nullable=False),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('anonymous_id', sa.String(length=100), nullable=True),
        sa.Column('user_id', sa.String(length=100), nullable=True),
        sa.Column('customer_id', sa.BigInteger(), nullable=True),
        sa.Column('ts', _TS, nullable=False),
        sa.Column('sent_at', _TS, nullable=True),
        sa.Column('received_at', _TS, nullable=False),
        sa.Column('original_timestamp', _TS, nullable=True),
        sa.Column('properties', _JSON, nullable=True),
        sa.Column('context', _JSON, nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
        )
        # Partitions make a day cheap to find on PostgreSQL; SQLite needs an index (export, retention).
        op.create_index('ix_events_day', 'events', ['day'], unique=False)
    for name, columns in _EVENT_INDEXES:
        op.create_index(name, 'events', columns, unique=False)


def downgrade() -> None:
    op.drop_table('events')  # on PostgreSQL this drops every partition and the owned id sequence
    op.drop_table('event_dirty_days')
    op.drop_table('event_identity_merges')
    op.drop_table('event_identities')
    op.drop_table('event_message_ids')
    op.drop_table('event_sources')
