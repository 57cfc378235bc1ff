"""tag definitions, runs and lifecycle

Revision ID: c1a9e2f7d001
Revises: b0e54a9159bf
Create Date: 2026-11-23 04:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import omniloop.core.db

revision = 'c1a9e2f7d001'
down_revision = 'b0e54a9159bf'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')
_TS = omniloop.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('tag_definitions',
    sa.Column('id', _ID, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('value_type', sa.String(length=20), nullable=False),
    sa.Column('definition', _JSON, nullable=False),
    sa.Column('values', _JSON, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('system', sa.Boolean(), nullable=False),
    sa.Column('schedule', sa.String(length=100), nullable=True),
    sa.Column('owner_org_id', _ID, nullable=False),
    sa.Column('definition_version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', _ID, nullable=True),
    sa.Column('updated_by_id', _ID, nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('updated_at', _TS, nullable=False),
    sa.ForeignKeyConstraint(['owner_org_id'], ['orgs.id'], name=op.f('fk_tag_definitions_owner_org_id_orgs')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_tag_definitions_created_by_id_users')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_tag_definitions_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag_definitions')),
    sa.UniqueConstraint('code', name=op.f('uq_tag_definitions_code')),
    )
    with op.batch_alter_table('tag_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tag_definitions_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_tag_definitions_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_tag_definitions_owner_org_id'), ['owner_org_id'], unique=False)

    op.create_table('tag_runs',
    sa.Column('id', _ID, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('tag_ids', _JSON, nullable=True),
    sa.Column('job_id', _ID, nullable=True),
    sa.Column('requested_by_id', _ID, nullable=True),
    sa.Column('as_of', sa.Date(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('started_at', _TS, nullable=True),
    sa.Column('finished_at', _TS, nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=True),
    sa.Column('tags_computed', sa.Integer(), nullable=True),
    sa.Column('tags_failed', sa.Integer(), nullable=True),
    sa.Column('changed', sa.Integer(), nullable=True),
    sa.Column('feature_version', sa.Integer(), nullable=True),
    sa.Column('tagset_version', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_tag_runs_job_id_jobs')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_tag_runs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag_runs')),
    sa.UniqueConstraint('job_id', name=op.f('uq_tag_runs_job_id')),
    )
    with op.batch_alter_table('tag_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tag_runs_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_tag_runs_created_at'), ['created_at'], unique=False)

    op.create_table('tag_run_results',
    sa.Column('id', _ID, nullable=False),
    sa.Column('run_id', _ID, nullable=False),
    sa.Column('tag_id', _ID, nullable=False),
    sa.Column('tag_code', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('coverage', sa.Integer(), nullable=True),
    sa.Column('distribution', _JSON, nullable=True),
    sa.Column('changed', sa.Integer(), nullable=True),
    sa.Column('definition_version', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['tag_runs.id'], name=op.f('fk_tag_run_results_run_id_tag_runs'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag_definitions.id'], name=op.f('fk_tag_run_results_tag_id_tag_definitions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag_run_results')),
    )
    with op.batch_alter_table('tag_run_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tag_run_results_run_id'), ['run_id'], unique=False)
        batch_op.create_index('ix_tag_run_results_tag_id_id', ['tag_id', 'id'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lifecycle_status', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('lifecycle_status')
    with op.batch_alter_table('tag_run_results', schema=None) as batch_op:
        batch_op.drop_index('ix_tag_run_results_tag_id_id')
        batch_op.drop_index(batch_op.f('ix_tag_run_results_run_id'))
    op.drop_table('tag_run_results')
    with op.batch_alter_table('tag_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tag_runs_created_at'))
        batch_op.drop_index(batch_op.f('ix_tag_runs_status'))
    op.drop_table('tag_runs')
    with op.batch_alter_table('tag_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tag_definitions_owner_org_id'))
        batch_op.drop_index(batch_op.f('ix_tag_definitions_status'))
        batch_op.drop_index(batch_op.f('ix_tag_definitions_category'))
    op.drop_table('tag_definitions')
