"""villager reports: every report with its hashed source, duplicates folded, moderation queue, mutes

Revision ID: spam_0001
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'spam_0001'
down_revision = 'audit_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('villager_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=True),
    sa.Column('folded_into_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('text_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('photo_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('address_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('device_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('muted_source', sa.Boolean(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ),
    sa.ForeignKeyConstraint(['problem_id'], ['problem.id'], ),
    sa.ForeignKeyConstraint(['folded_into_id'], ['villager_report.id'], ),
    sa.ForeignKeyConstraint(['decided_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('villager_report', schema=None) as batch_op:
        for column in ('asset_id', 'problem_id', 'folded_into_id', 'status', 'text_hash', 'address_hash',
                       'device_hash', 'created_at'):
            batch_op.create_index(batch_op.f(f'ix_villager_report_{column}'), [column], unique=False)

    op.create_table('villager_mute',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('source_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['problem_id'], ['problem.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['villager_report.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('villager_mute', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_villager_mute_source_hash'), ['source_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('villager_mute', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_villager_mute_source_hash'))
    op.drop_table('villager_mute')
    with op.batch_alter_table('villager_report', schema=None) as batch_op:
        for column in ('created_at', 'device_hash', 'address_hash', 'text_hash', 'status', 'folded_into_id',
                       'problem_id', 'asset_id'):
            batch_op.drop_index(batch_op.f(f'ix_villager_report_{column}'))
    op.drop_table('villager_report')
