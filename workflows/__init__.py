"""Jurisdiction-neutral workflows as data: one YAML file per workflow, loaded by
``core.workflow``. A jurisdiction plugin names the workflow it uses; nothing here names one."""

from pathlib import Path

WORKFLOW_DIR = Path(__file__).parent
