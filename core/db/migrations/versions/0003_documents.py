"""issued documents (forms, certificates) with verification codes and the claims they were fed by

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
PATH = sa.String(length=400).with_variant(sa.String(length=400, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table('documents',
    sa.Column('id', ID, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('teacher_id', ID, nullable=True),
    sa.Column('period_key', sa.String(length=16), nullable=True),
    sa.Column('scope_path', PATH, nullable=False),
    sa.Column('payload', JSON, nullable=False),
    sa.Column('issued_by', ID, nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by'], ['users.id'], name=op.f('fk_documents_issued_by_users')),
    sa.ForeignKeyConstraint(['teacher_id'], ['teachers.id'], name=op.f('fk_documents_teacher_id_teachers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('code', name=op.f('uq_documents_code'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_scope_path'), ['scope_path'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_teacher_id'), ['teacher_id'], unique=False)
    op.create_table('document_claims',
    sa.Column('id', ID, nullable=False),
    sa.Column('document_id', ID, nullable=False),
    sa.Column('claim_id', ID, nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_claims_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_claims')),
    sa.UniqueConstraint('document_id', 'claim_id', name=op.f('uq_document_claims_document_id_claim_id'))
    )
    with op.batch_alter_table('document_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_claims_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_claims_document_id'), ['document_id'], unique=False)


def downgrade() -> None:
    op.drop_table('document_claims')
    op.drop_table('documents')
