"""campaign needs, plans and countersign

Revision ID: c1a9e2f7d003
Revises: c1a9e2f7d002
Create Date: 2026-11-23 04:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import omniloop.core.db

revision = 'c1a9e2f7d003'
down_revision = 'c1a9e2f7d002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('approval_delegations',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('delegator_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('delegate_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('starts_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('revoked_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['users.id'], name=op.f('fk_approval_delegations_delegate_id_users')),
    sa.ForeignKeyConstraint(['delegator_id'], ['users.id'], name=op.f('fk_approval_delegations_delegator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_delegations'))
    )
    op.create_index(op.f('ix_approval_delegations_delegate_id'), 'approval_delegations', ['delegate_id'], unique=False)
    op.create_index(op.f('ix_approval_delegations_delegator_id'), 'approval_delegations', ['delegator_id'], unique=False)
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title_zh', sa.String(length=300), nullable=False),
    sa.Column('title_en', sa.String(length=300), nullable=False),
    sa.Column('body_zh', sa.String(length=2000), nullable=True),
    sa.Column('body_en', sa.String(length=2000), nullable=True),
    sa.Column('link', sa.String(length=300), nullable=True),
    sa.Column('read_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    op.create_index(op.f('ix_notifications_created_at'), 'notifications', ['created_at'], unique=False)
    op.create_index(op.f('ix_notifications_kind'), 'notifications', ['kind'], unique=False)
    op.create_index(op.f('ix_notifications_read_at'), 'notifications', ['read_at'], unique=False)
    op.create_index(op.f('ix_notifications_user_id'), 'notifications', ['user_id'], unique=False)
    op.create_table('workflow_templates',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('created_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_workflow_templates_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_templates')),
    sa.UniqueConstraint('name', name=op.f('uq_workflow_templates_name'))
    )
    op.create_table('plans',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('objective', sa.Text(), nullable=True),
    sa.Column('lifecycle_stage', sa.String(length=20), nullable=True),
    sa.Column('business_line', sa.String(length=30), nullable=True),
    sa.Column('audience_description', sa.Text(), nullable=True),
    sa.Column('audience_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('audience_tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('channels', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('benefit_type', sa.String(length=30), nullable=True),
    sa.Column('benefits', sa.Text(), nullable=True),
    sa.Column('mode', sa.String(length=20), nullable=True),
    sa.Column('budget_fen', sa.BigInteger(), nullable=True),
    sa.Column('expected_output', sa.Text(), nullable=True),
    sa.Column('expected_reach', sa.BigInteger(), nullable=True),
    sa.Column('expected_conversion_rate', sa.Double(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('owner_org_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('approved_version', sa.Integer(), nullable=True),
    sa.Column('source_type', sa.String(length=40), nullable=True),
    sa.Column('source_ref', sa.String(length=200), nullable=True),
    sa.Column('search_tokens', sa.Text(), nullable=True),
    sa.Column('submitted_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_plans_audience_id_audiences'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_plans_owner_id_users')),
    sa.ForeignKeyConstraint(['owner_org_id'], ['orgs.id'], name=op.f('fk_plans_owner_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans'))
    )
    op.create_index(op.f('ix_plans_audience_id'), 'plans', ['audience_id'], unique=False)
    op.create_index(op.f('ix_plans_business_line'), 'plans', ['business_line'], unique=False)
    op.create_index(op.f('ix_plans_lifecycle_stage'), 'plans', ['lifecycle_stage'], unique=False)
    op.create_index(op.f('ix_plans_owner_id'), 'plans', ['owner_id'], unique=False)
    op.create_index(op.f('ix_plans_owner_org_id'), 'plans', ['owner_org_id'], unique=False)
    op.create_index(op.f('ix_plans_status'), 'plans', ['status'], unique=False)
    op.create_table('approval_instances',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('template_name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('current_position', sa.Integer(), nullable=False),
    sa.Column('submitted_by_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('submitted_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_approval_instances_plan_id_plans')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_approval_instances_submitted_by_id_users')),
    sa.ForeignKeyConstraint(['template_id'], ['workflow_templates.id'], name=op.f('fk_approval_instances_template_id_workflow_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_instances'))
    )
    op.create_index(op.f('ix_approval_instances_plan_id'), 'approval_instances', ['plan_id'], unique=False)
    op.create_index(op.f('ix_approval_instances_status'), 'approval_instances', ['status'], unique=False)
    op.create_table('campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.Column('owner_org_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('created_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_campaigns_created_by_id_users')),
    sa.ForeignKeyConstraint(['owner_org_id'], ['orgs.id'], name=op.f('fk_campaigns_owner_org_id_orgs')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_campaigns_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('code', name=op.f('uq_campaigns_code'))
    )
    op.create_index(op.f('ix_campaigns_owner_org_id'), 'campaigns', ['owner_org_id'], unique=False)
    op.create_index(op.f('ix_campaigns_plan_id'), 'campaigns', ['plan_id'], unique=False)
    op.create_index(op.f('ix_campaigns_status'), 'campaigns', ['status'], unique=False)
    op.create_table('plan_documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.Column('approval_step_id', sa.BigInteger(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('file_type', sa.String(length=10), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('extracted', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('uploaded_by_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('created_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_documents_plan_id_plans')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_plan_documents_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_documents'))
    )
    op.create_index(op.f('ix_plan_documents_approval_step_id'), 'plan_documents', ['approval_step_id'], unique=False)
    op.create_index(op.f('ix_plan_documents_plan_id'), 'plan_documents', ['plan_id'], unique=False)
    op.create_index(op.f('ix_plan_documents_sha256'), 'plan_documents', ['sha256'], unique=False)
    op.create_table('plan_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('created_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_plan_versions_created_by_id_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_versions_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_versions')),
    sa.UniqueConstraint('plan_id', 'version', name='uq_plan_versions_plan_version')
    )
    op.create_index(op.f('ix_plan_versions_plan_id'), 'plan_versions', ['plan_id'], unique=False)
    op.create_table('approval_steps',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('required', sa.Integer(), nullable=False),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('approvals', sa.Integer(), nullable=False),
    sa.Column('rejections', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('opened_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['approval_instances.id'], name=op.f('fk_approval_steps_instance_id_approval_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_steps')),
    sa.UniqueConstraint('instance_id', 'position', name='uq_approval_steps_instance_position')
    )
    op.create_index(op.f('ix_approval_steps_instance_id'), 'approval_steps', ['instance_id'], unique=False)
    op.create_index(op.f('ix_approval_steps_status'), 'approval_steps', ['status'], unique=False)
    op.create_table('approval_assignees',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('step_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=True),
    sa.Column('decided_by_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('decided_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_approval_assignees_decided_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_approval_assignees_org_id_orgs')),
    sa.ForeignKeyConstraint(['step_id'], ['approval_steps.id'], name=op.f('fk_approval_assignees_step_id_approval_steps')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_approval_assignees_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_assignees')),
    sa.UniqueConstraint('step_id', 'user_id', name='uq_approval_assignees_step_user')
    )
    op.create_index(op.f('ix_approval_assignees_step_id'), 'approval_assignees', ['step_id'], unique=False)
    op.create_index(op.f('ix_approval_assignees_user_id'), 'approval_assignees', ['user_id'], unique=False)
    op.create_table('approval_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('step_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('on_behalf_of_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('attachment_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', omniloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_approval_events_actor_id_users')),
    sa.ForeignKeyConstraint(['instance_id'], ['approval_instances.id'], name=op.f('fk_approval_events_instance_id_approval_instances')),
    sa.ForeignKeyConstraint(['on_behalf_of_id'], ['users.id'], name=op.f('fk_approval_events_on_behalf_of_id_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_approval_events_plan_id_plans')),
    sa.ForeignKeyConstraint(['step_id'], ['approval_steps.id'], name=op.f('fk_approval_events_step_id_approval_steps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_events'))
    )
    op.create_index(op.f('ix_approval_events_created_at'), 'approval_events', ['created_at'], unique=False)
    op.create_index(op.f('ix_approval_events_instance_id'), 'approval_events', ['instance_id'], unique=False)
    op.create_index(op.f('ix_approval_events_plan_id'), 'approval_events', ['plan_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_approval_events_plan_id'), table_name='approval_events')
    op.drop_index(op.f('ix_approval_events_instance_id'), table_name='approval_events')
    op.drop_index(op.f('ix_approval_events_created_at'), table_name='approval_events')
    op.drop_table('approval_events')
    op.drop_index(op.f('ix_approval_assignees_user_id'), table_name='approval_assignees')
    op.drop_index(op.f('ix_approval_assignees_step_id'), table_name='approval_assignees')
    op.drop_table('approval_assignees')
    op.drop_index(op.f('ix_approval_steps_status'), table_name='approval_steps')
    op.drop_index(op.f('ix_approval_steps_instance_id'), table_name='approval_steps')
    op.drop_table('approval_steps')
    op.drop_index(op.f('ix_plan_versions_plan_id'), table_name='plan_versions')
    op.drop_table('plan_versions')
    op.drop_index(op.f('ix_plan_documents_sha256'), table_name='plan_documents')
    op.drop_index(op.f('ix_plan_documents_plan_id'), table_name='plan_documents')
    op.drop_index(op.f('ix_plan_documents_approval_step_id'), table_name='plan_documents')
    op.drop_table('plan_documents')
    op.drop_index(op.f('ix_campaigns_status'), table_name='campaigns')
    op.drop_index(op.f('ix_campaigns_plan_id'), table_name='campaigns')
    op.drop_index(op.f('ix_campaigns_owner_org_id'), table_name='campaigns')
    op.drop_table('campaigns')
    op.drop_index(op.f('ix_approval_instances_status'), table_name='approval_instances')
    op.drop_index(op.f('ix_approval_instances_plan_id'), table_name='approval_instances')
    op.drop_table('approval_instances')
    op.drop_index(op.f('ix_plans_status'), table_name='plans')
    op.drop_index(op.f('ix_plans_owner_org_id'), table_name='plans')
    op.drop_index(op.f('ix_plans_owner_id'), table_name='plans')
    op.drop_index(op.f('ix_plans_lifecycle_stage'), table_name='plans')
    op.drop_index(op.f('ix_plans_business_line'), table_name='plans')
    op.drop_index(op.f('ix_plans_audience_id'), table_name='plans')
    op.drop_table('plans')
    op.drop_table('workflow_templates')
    op.drop_index(op.f('ix_notifications_user_id'), table_name='notifications')
    op.drop_index(op.f('ix_notifications_read_at'), table_name='notifications')
    op.drop_index(op.f('ix_notifications_kind'), table_name='notifications')
    op.drop_index(op.f('ix_notifications_created_at'), table_name='notifications')
    op.drop_table('notifications')
    op.drop_index(op.f('ix_approval_delegations_delegator_id'), table_name='approval_delegations')
    op.drop_index(op.f('ix_approval_delegations_delegate_id'), table_name='approval_delegations')
    op.drop_table('approval_delegations')
