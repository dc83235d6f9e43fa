"""scoring: optional asset fields for seed 000's thresholds, and one signature per signer post

Revision ID: scoring_0001
Revises: ledger_0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'scoring_0001'
down_revision = 'ledger_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('workshop_area_m2', sa.Numeric(12, 2), nullable=True))
        batch_op.add_column(sa.Column('workers', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('poor_workers', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('in_use_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('pv_income', sa.Numeric(14, 4), nullable=True))
        batch_op.add_column(sa.Column('pv_income_public_jobs', sa.Numeric(14, 4), nullable=True))
    op.create_table(
        'report_signature',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('post', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['report.id']),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('report_id', 'post', name='uq_report_signature_post'),
    )
    op.create_index('ix_report_signature_report_id', 'report_signature', ['report_id'])
    op.create_index('ix_report_signature_user_id', 'report_signature', ['user_id'])


def downgrade() -> None:
    op.drop_index('ix_report_signature_user_id', table_name='report_signature')
    op.drop_index('ix_report_signature_report_id', table_name='report_signature')
    op.drop_table('report_signature')
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.drop_column('pv_income_public_jobs')
        batch_op.drop_column('pv_income')
        batch_op.drop_column('in_use_since')
        batch_op.drop_column('poor_workers')
        batch_op.drop_column('workers')
        batch_op.drop_column('workshop_area_m2')
