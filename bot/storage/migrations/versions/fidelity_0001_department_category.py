"""fidelity: the industry categories a department officer supervises (problems reach their department)

Revision ID: fidelity_0001
Revises: wecom_0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'fidelity_0001'
down_revision = 'wecom_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('department_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'category', name='uq_department_category')
    )
    with op.batch_alter_table('department_category', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_category_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_department_category_category'), ['category'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('department_category', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_category_category'))
        batch_op.drop_index(batch_op.f('ix_department_category_user_id'))
    op.drop_table('department_category')
